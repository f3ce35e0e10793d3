"""Errors raised by calendar connectors.

Every connector maps its provider's responses onto this tree in one place::

    ConnectorError
     ├── ReauthRequired        grant revoked or expired: the user must reconnect the account
     ├── TransientError        5xx, timeouts, dropped connections: retry with backoff
     │    └── RateLimited      429 / quota: retry after `retry_after` seconds when known
     ├── CursorExpired         the sync cursor is no longer valid: do a full sync
     ├── NotFound              no such calendar or event (or it was cancelled)
     ├── Collision             the write collides with the provider's copy: the thing being
     │                         created already exists, or it changed meanwhile
     └── PermissionDenied      the user may not do this (read-only calendar, not an attendee, ...)
          └── NotAGrowthBlock  refusal to edit or delete an event GrowthGuard did not create

Messages are for logs and people: they never contain tokens, codes or other credentials.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

__all__ = [
    "Collision",
    "ConnectorError",
    "CursorExpired",
    "NotAGrowthBlock",
    "NotFound",
    "PermissionDenied",
    "RateLimited",
    "ReauthRequired",
    "TransientError",
    "error_for_status",
    "retry_after_seconds",
]


class ConnectorError(Exception):
    """Base class of every error a connector raises on purpose."""


class ReauthRequired(ConnectorError):
    """The grant was revoked or has expired; refreshing cannot fix it."""


class TransientError(ConnectorError):
    """A failure worth retrying later (server error, timeout)."""


class RateLimited(TransientError):
    """The provider throttled us; `retry_after` is its hint in seconds, if it gave one."""

    def __init__(self, retry_after: float | None = None, message: str | None = None) -> None:
        self.retry_after = retry_after
        if message is None:
            message = "rate limited" + (f"; retry after {retry_after:g}s" if retry_after else "")
        super().__init__(message)

    # Exceptions pickle their args by default, which would lose retry_after when a task queue
    # ships the error between processes.
    def __reduce__(self) -> tuple[type[RateLimited], tuple[float | None, str]]:
        return (type(self), (self.retry_after, str(self)))


def retry_after_seconds(value: str | None, now: datetime | None = None) -> float | None:
    """Seconds to wait from an HTTP `Retry-After` value (delta-seconds or an HTTP-date, RFC
    9110 10.2.3), never negative; None when there is none or it cannot be read.

    The one parser every connector uses: the value becomes `RateLimited.retry_after`, and the
    retry policy (app/tasks.py) decides what to do with it."""
    if value is None or not value.strip():
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        moment = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if moment.tzinfo is None:  # an HTTP-date is always GMT
        moment = moment.replace(tzinfo=UTC)
    return max(0.0, (moment - (now or datetime.now(UTC))).total_seconds())


class CursorExpired(ConnectorError):
    """The provider no longer accepts this sync cursor; the caller must do a full sync."""


class NotFound(ConnectorError):
    """The calendar or event does not exist (any more)."""


class Collision(ConnectorError):
    """The write collides with the provider's copy: it already exists, or changed meanwhile."""


class PermissionDenied(ConnectorError):
    """The user is not allowed to do this."""


class NotAGrowthBlock(PermissionDenied):
    """GrowthGuard only edits or deletes events it tagged as growth blocks."""


_BY_STATUS: dict[int, Callable[[str], ConnectorError]] = {
    401: ReauthRequired,
    403: PermissionDenied,
    404: NotFound,
    409: Collision,
    410: NotFound,
}


def error_for_status(
    status: int | None,
    detail: str,
    *,
    retry_after: str | None = None,
    special: Mapping[int, Callable[[str], ConnectorError]] | None = None,
) -> ConnectorError:
    """The connector error for a provider's HTTP error status, the same for every provider.

    401 reauth, 403 permission, 404/410 not found, 409 conflict; 429 (and 503 with a
    Retry-After) rate limited, carrying `retry_after`; 408, 5xx and no answer at all transient;
    anything else a plain `ConnectorError`. `special` maps the statuses a provider means
    otherwise (Google's 400, Graph's 410, CalDAV's 412) to how to build their error."""
    build = (special or {}).get(status) if status is not None else None
    if build is None and status is not None:
        build = _BY_STATUS.get(status)
    if build is not None:
        return build(detail)
    if status == 429 or (status == 503 and retry_after):
        return RateLimited(retry_after_seconds(retry_after), detail)
    if status is None or status >= 500 or status == 408:
        return TransientError(detail)
    return ConnectorError(detail)

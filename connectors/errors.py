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

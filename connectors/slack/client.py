"""A person's status and snooze through the Slack Web API: one attempt per call, one mapping.

Slack answers HTTP 200 with `{"ok": false, "error": "..."}` for most failures, 429 with
`Retry-After` when throttled, and 5xx when it is down; `_mapped` turns each into the error
tree of `connectors.errors` so the app's retry policy and account status apply unchanged.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TypeVar

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackClientError

from connectors.errors import (
    ConnectorError,
    PermissionDenied,
    RateLimited,
    ReauthRequired,
    TransientError,
    retry_after_seconds,
)

__all__ = ["ProfileStatus", "SlackClient", "api_url", "map_slack_error"]

T = TypeVar("T")

# The grant is gone or never covered this: only reconnecting helps.
_REAUTH = {
    "invalid_auth",
    "not_authed",
    "token_revoked",
    "token_expired",
    "account_inactive",
    "missing_scope",
    "no_permission",
}
_TRANSIENT = {"internal_error", "fatal_error", "service_unavailable", "request_timeout"}
STATUS_TEXT_LIMIT = 100  # Slack refuses a longer status text


@dataclass(frozen=True)
class ProfileStatus:
    """A status as Slack keeps it: text, emoji and expiration (Unix seconds; 0 = never)."""

    text: str = ""
    emoji: str = ""
    expiration: int = 0

    @property
    def empty(self) -> bool:
        return not self.text and not self.emoji


def api_url(base_url: str) -> str:
    """The Web API root under a Slack base URL (https://slack.com -> https://slack.com/api/)."""
    return base_url.rstrip("/") + "/api/"


def _retry_after(headers: dict[str, Any]) -> float | None:
    value = next((v for k, v in headers.items() if k.lower() == "retry-after"), None)
    return retry_after_seconds(None if value is None else str(value))


def map_slack_error(error: SlackApiError) -> ConnectorError:
    """Slack's answer as a connector error; messages carry Slack's code, never a token."""
    response = error.response
    status = int(response.status_code or 0)
    data = response.data if isinstance(response.data, dict) else {}
    code = str(data.get("error") or "")[:100]
    if status == 429 or code == "ratelimited":
        return RateLimited(_retry_after(dict(response.headers or {})), "Slack: ratelimited")
    if status >= 500 or code in _TRANSIENT:
        return TransientError(f"Slack answered {status or code}")
    if code in _REAUTH:
        return ReauthRequired(f"Slack: {code}")
    if code in {"not_allowed_token_type", "user_is_restricted"}:
        return PermissionDenied(f"Slack: {code}")
    return ConnectorError(f"Slack: {code or f'HTTP {status}'}")


@contextmanager
def _mapped() -> Iterator[None]:
    try:
        yield
    except SlackApiError as error:
        raise map_slack_error(error) from None
    except (SlackClientError, OSError) as error:
        # Connection refused, reset or timed out (urllib's errors are OSErrors).
        raise TransientError(f"Slack cannot be reached: {type(error).__name__}") from None


class SlackClient:
    """One person's Slack, through their user token (`xoxp-...`)."""

    def __init__(self, token: str, base_url: str, timeout: float = 10.0) -> None:
        # No retry handlers: one attempt per call; the task's RetryPolicy decides when again.
        self._web = WebClient(
            token=token, base_url=api_url(base_url), timeout=int(timeout), retry_handlers=[]
        )

    def _call(self, call: Callable[[], T]) -> T:
        with _mapped():
            return call()

    def status(self) -> ProfileStatus:
        """The person's current status (`users.profile.get`, scope users.profile:read)."""
        response = self._call(self._web.users_profile_get)
        profile = response.get("profile") or {}
        return ProfileStatus(
            text=str(profile.get("status_text") or ""),
            emoji=str(profile.get("status_emoji") or ""),
            expiration=int(profile.get("status_expiration") or 0),
        )

    def set_status(self, status: ProfileStatus) -> None:
        """Replace the status (`users.profile.set`, scope users.profile:write)."""
        profile = {
            "status_text": status.text[:STATUS_TEXT_LIMIT],
            "status_emoji": status.emoji,
            "status_expiration": status.expiration,
        }
        self._call(lambda: self._web.users_profile_set(profile=profile))

    def snooze_until(self, end: datetime, now: datetime) -> datetime:
        """Pause notifications until `end` (`dnd.setSnooze`, whole minutes, rounded up);
        returns when Slack says the snooze ends."""
        minutes = max(1, math.ceil((end - now).total_seconds() / 60))
        response = self._call(lambda: self._web.dnd_setSnooze(num_minutes=minutes))
        ends = response.get("snooze_endtime")
        if isinstance(ends, int | float) and ends > 0:
            return datetime.fromtimestamp(ends, UTC)
        return now + (end - now)

    def end_snooze(self) -> bool:
        """End the snooze (`dnd.endSnooze`); False when none was running."""
        try:
            self._call(self._web.dnd_endSnooze)
        except ConnectorError as error:
            if str(error) == "Slack: snooze_not_active":
                return False
            raise
        return True

    def revoke(self) -> None:
        """Give the token back (`auth.revoke`); a token already dead is fine."""
        try:
            self._call(self._web.auth_revoke)
        except ReauthRequired:
            return

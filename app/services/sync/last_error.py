"""A failed sync in words for the person, remembered on the calendar until the next success."""

from __future__ import annotations

from datetime import datetime

from app.db.models import Calendar
from connectors.errors import (
    CursorExpired,
    NotAGrowthBlock,
    NotFound,
    PermissionDenied,
    RateLimited,
    ReauthRequired,
    TransientError,
)

# Stored sentences are shown as they are; a provider's own message is never stored (it may
# be long, or say more than the person needs).
MAX_ERROR_LENGTH = 500


def error_in_words(error: BaseException) -> str:
    """A connector failure as one plain sentence the person can act on."""
    if isinstance(error, ReauthRequired):
        return (
            "GrowthGuard lost access to this account (the permission was withdrawn or "
            "expired); reconnect it on the Accounts page."
        )
    if isinstance(error, RateLimited):
        return "The calendar provider asked GrowthGuard to slow down; it will try again by itself."
    if isinstance(error, TransientError):
        return (
            "The calendar provider did not answer (it may be down or unreachable); "
            "GrowthGuard will try again by itself."
        )
    if isinstance(error, CursorExpired):
        return (
            "The provider forgot where the last sync stopped; GrowthGuard will re-read everything."
        )
    if isinstance(error, NotAGrowthBlock):
        return "GrowthGuard refused to change an event it did not create."
    if isinstance(error, PermissionDenied):
        return (
            "The calendar provider refused access to this calendar; check that this account "
            "may read it, or connect with full access."
        )
    if isinstance(error, NotFound):
        return "This calendar no longer exists at the provider."
    return "The calendar provider refused the request; try “Sync now” later."


def record_failure(calendar: Calendar, error: BaseException, now: datetime) -> None:
    """Remember a failed sync on the calendar, in words (the caller commits)."""
    calendar.last_error = error_in_words(error)[:MAX_ERROR_LENGTH]
    calendar.last_error_at = now


def record_success(calendar: Calendar) -> None:
    """A sync worked: the last error is history."""
    calendar.last_error = None
    calendar.last_error_at = None

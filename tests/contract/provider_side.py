"""What the contract suite needs from "the rest of the world" at a provider.

Each provider's tests implement `ProviderSide` over its fake server or real server (Google and
Graph fakes, Radicale, Xandikos) so `tests.contract.suite` stays provider-neutral.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Protocol

from connectors.base import Response


@dataclass(frozen=True)
class RecordedRsvp:
    """An RSVP as the provider recorded it."""

    response: Response
    message: str | None


class ProviderSide(Protocol):
    """What the contract tests need to do on the provider behind the connector's back.

    Times are aware datetimes in any zone; ids returned are the ids the connector reports.
    """

    def insert_invite(
        self,
        calendar_id: str,
        title: str,
        start: datetime,
        end: datetime,
        organizer_email: str = "boss@example.com",
        attendee_count: int = 3,
    ) -> str:
        """A busy meeting organized by someone else; the user is an attendee (needsAction)."""
        ...

    def insert_own_event(
        self, calendar_id: str, title: str, start: datetime, end: datetime, attendee_count: int = 0
    ) -> str:
        """A busy, untagged event the user organizes; with `attendee_count` > 0 a meeting the
        user invited others to (some providers then list the user as an accepted attendee)."""
        ...

    def insert_all_day(self, calendar_id: str, title: str, first_day: date, days: int) -> str:
        """An own all-day event covering `days` days from `first_day`."""
        ...

    def insert_weekly_series(
        self,
        calendar_id: str,
        title: str,
        first_start: datetime,
        duration: timedelta,
        count: int,
        organizer_email: str | None = None,
    ) -> str:
        """A weekly series of `count` occurrences; returns the series id.

        Own series when `organizer_email` is None, otherwise an invite (user needsAction).
        """
        ...

    def delete_event(self, calendar_id: str, event_id: str) -> None: ...

    def cancel_event(self, calendar_id: str, event_id: str) -> None:
        """The organizer cancels the meeting (it stays on the provider as cancelled)."""
        ...

    def move_event(
        self, calendar_id: str, event_id: str, new_start: datetime, new_end: datetime
    ) -> None: ...

    def expire_cursor(self, calendar_id: str) -> None:
        """Make the provider reject every sync cursor issued so far for this calendar."""
        ...

    def responses(self, calendar_id: str, event_id: str) -> list[RecordedRsvp]:
        """RSVPs the provider recorded for the event, oldest first (at least the latest)."""
        ...

"""The contract suite against `GoogleConnector` talking to the fake Google server over HTTP."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from datetime import date, datetime, timedelta

import pytest

from connectors.base import CalendarConnector, Response
from connectors.google import GoogleConfig, GoogleConnector
from tests.contract.suite import ConnectorContract, ProviderSide, RecordedRsvp
from tests.fakes.google_server import FakeGoogle, when

_RESPONSES = {r.value: r for r in Response}


class GoogleProviderSide:
    """`ProviderSide` over the fake's test-control methods."""

    def __init__(self, google: FakeGoogle, email: str) -> None:
        self.google, self.email = google, email

    def insert_invite(
        self,
        calendar_id: str,
        title: str,
        start: datetime,
        end: datetime,
        organizer_email: str = "boss@example.com",
        attendee_count: int = 3,
    ) -> str:
        return self.google.insert_invite(
            calendar_id, title, start, end, organizer=organizer_email, attendee_count=attendee_count
        )

    def insert_own_event(
        self, calendar_id: str, title: str, start: datetime, end: datetime, attendee_count: int = 0
    ) -> str:
        body: dict[str, object] = {"summary": title, "start": when(start), "end": when(end)}
        if attendee_count:
            # like Google: the organizer of a meeting is listed as an accepted attendee
            guests = [{"email": self.email, "organizer": True, "responseStatus": "accepted"}]
            guests += [
                {"email": f"guest{n}@example.com", "responseStatus": "needsAction"}
                for n in range(max(attendee_count - 1, 1))
            ]
            body["attendees"] = guests
        return self.google.insert_event(calendar_id, body)

    def insert_all_day(self, calendar_id: str, title: str, first_day: date, days: int) -> str:
        last = first_day + timedelta(days=days)
        body = {
            "summary": title,
            "start": {"date": first_day.isoformat()},
            "end": {"date": last.isoformat()},
        }
        return self.google.insert_event(calendar_id, body)

    def insert_weekly_series(
        self,
        calendar_id: str,
        title: str,
        first_start: datetime,
        duration: timedelta,
        count: int,
        organizer_email: str | None = None,
    ) -> str:
        rule = [f"RRULE:FREQ=WEEKLY;COUNT={count}"]
        end = first_start + duration
        if organizer_email is not None:
            return self.google.insert_invite(
                calendar_id, title, first_start, end, organizer=organizer_email, recurrence=rule
            )
        body = {"summary": title, "start": when(first_start), "end": when(end), "recurrence": rule}
        return self.google.insert_event(calendar_id, body)

    def delete_event(self, calendar_id: str, event_id: str) -> None:
        self.google.delete_event(calendar_id, event_id)

    def cancel_event(self, calendar_id: str, event_id: str) -> None:
        # the organizer's cancellation reaches the attendee's copy as status "cancelled"
        self.google.delete_event(calendar_id, event_id)

    def move_event(
        self, calendar_id: str, event_id: str, new_start: datetime, new_end: datetime
    ) -> None:
        self.google.patch_event(
            calendar_id, event_id, {"start": when(new_start), "end": when(new_end)}
        )

    def expire_cursor(self, calendar_id: str) -> None:
        self.google.expire_sync_tokens(calendar_id)

    def responses(self, calendar_id: str, event_id: str) -> list[RecordedRsvp]:
        return [
            RecordedRsvp(_RESPONSES[status], comment)
            for status, comment in self.google.rsvps(calendar_id, event_id)
            if status in _RESPONSES
        ]


@pytest.fixture(scope="module")
def google() -> Iterator[FakeGoogle]:
    with FakeGoogle() as fake:
        fake.max_page_size = 3  # every listing in the suite then spans several pages
        yield fake


@pytest.fixture
def email(google: FakeGoogle) -> str:
    address = f"user-{uuid.uuid4().hex[:8]}@example.com"
    google.add_account(address)
    return address


class TestGoogleConnector(ConnectorContract):
    @pytest.fixture
    def connector(self, google: FakeGoogle, email: str) -> CalendarConnector:
        blob = json.dumps(google.mint_credentials(email)).encode()
        return GoogleConnector(GoogleConfig(**google.endpoints(), timeout=5), blob, lambda b: None)

    @pytest.fixture
    def calendar_id(self, email: str) -> str:
        return email  # the primary calendar's id is the account's address

    @pytest.fixture
    def provider_side(self, google: FakeGoogle, email: str) -> ProviderSide:
        return GoogleProviderSide(google, email)

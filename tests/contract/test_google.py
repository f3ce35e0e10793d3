"""The contract suite against `GoogleConnector` talking to the fake Google server over HTTP."""

from __future__ import annotations

import dataclasses
import json
import uuid
from collections.abc import Iterator
from datetime import date, datetime, timedelta

import httpx
import pytest

from connectors.base import BlockSpec, CalendarConnector, Event, Response
from connectors.errors import Collision, ConnectorError, RateLimited, TransientError
from connectors.google import GoogleConfig, GoogleConnector
from connectors.google.connector import FocusMemory
from connectors.google.mapping import event_id_for_slot
from tests.contract.suite import T0, ConnectorContract, H, ProviderSide, RecordedRsvp, spec
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


# --- batch writes (Google's multipart/mixed batch endpoint, through googleapiclient) ----------


def _connector(google: FakeGoogle, email: str, focus: FocusMemory | None = None) -> GoogleConnector:
    blob = json.dumps(google.mint_credentials(email)).encode()
    config = GoogleConfig(**google.endpoints(), timeout=5)
    return GoogleConnector(config, blob, lambda b: None, focus)


def _specs(count: int) -> list[BlockSpec]:
    return [spec(f"w10-{n}", T0 + n * 24 * H) for n in range(count)]


def test_create_blocks_is_one_batch_request(google: FakeGoogle, email: str) -> None:
    connector = _connector(google, email)
    connector.list_calendars()  # the token is fresh: nothing below refreshes it
    start = len(google.requests)
    created = connector.create_blocks(email, _specs(5))
    assert all(isinstance(c, Event) for c in created)
    sent = google.requests[start:]
    assert [(r.method, r.path) for r in sent if not r.batched] == [("POST", "/batch/calendar/v3")]
    inserts = [r for r in sent if r.batched]
    assert [r.path for r in inserts] == [f"/calendar/v3/calendars/{email}/events"] * 5
    assert [r.json["id"] for r in inserts] == [e.id for e in created if isinstance(e, Event)]


@pytest.mark.parametrize(("status", "error"), [(429, RateLimited), (503, TransientError)])
def test_a_failed_part_keeps_the_others_and_is_retried(
    google: FakeGoogle, email: str, status: int, error: type[ConnectorError]
) -> None:
    connector = _connector(google, email)
    google.faults.fail_next(
        1, status=status, path=f"/calendars/{email}/events", retry_after=7
    )  # the first part only
    first = connector.create_blocks(email, _specs(3))
    assert isinstance(first[0], error)
    if isinstance(first[0], RateLimited):
        assert first[0].retry_after == 7
    assert all(isinstance(c, Event) for c in first[1:])
    assert len(google.events(email)) == 2
    again = connector.create_blocks(email, _specs(3))  # the caller retries the whole set
    assert all(isinstance(c, Event) for c in again)
    assert [c.id for c in again[1:]] == [c.id for c in first[1:]]  # adopted, not duplicated
    assert len(google.events(email)) == 3


def test_a_part_whose_id_is_taken_by_a_stranger_fails_alone(google: FakeGoogle, email: str) -> None:
    connector = _connector(google, email)
    taken = event_id_for_slot("w10-1")
    google.insert_event(email, {"id": taken, "summary": "not ours", **_times(T0 + 24 * H)})
    google.faults.fail_next(
        1, status=412, path=f"/calendars/{email}/events"
    )  # the first part: settled alone
    created = connector.create_blocks(email, _specs(3))
    assert isinstance(created[0], Event)
    assert isinstance(created[1], Collision)
    assert isinstance(created[2], Event)
    assert google.event(email, taken)["summary"] == "not ours"


def test_a_failed_batch_request_raises_and_writes_nothing(google: FakeGoogle, email: str) -> None:
    connector = _connector(google, email)
    google.faults.fail_next(1, status=503, path="/batch/calendar/v3")
    with pytest.raises(TransientError):
        connector.create_blocks(email, _specs(3))
    assert google.events(email) == []


def test_the_fake_answers_a_malformed_batch_with_400(google: FakeGoogle, email: str) -> None:
    token = google.mint_credentials(email)["token"]
    answer = httpx.post(
        f"{google.base_url}/batch/calendar/v3",
        content=b"not multipart",
        headers={"Authorization": f"Bearer {token}", "Content-Type": "text/plain"},
    )
    assert answer.status_code == 400


def _times(start: datetime) -> dict[str, object]:
    return {"start": when(start), "end": when(start + H)}


@pytest.mark.parametrize("workspace", [True, False])
def test_focus_time_is_tried_on_one_block_first(google: FakeGoogle, workspace: bool) -> None:
    email = google.add_account(f"focus-{uuid.uuid4().hex[:8]}@example.com", workspace=workspace)
    connector = _connector(google, email)
    specs = [dataclasses.replace(s, focus_time=True) for s in _specs(3)]
    start = len(google.requests)
    created = connector.create_blocks(email, specs)
    assert all(isinstance(c, Event) for c in created)
    tried = [r for r in google.requests[start:] if (r.json or {}).get("eventType") == "focusTime"]
    assert len(tried) == (3 if workspace else 1)  # refused once, never tried again
    kinds = {e.get("eventType", "default") for e in google.events(email)}
    assert kinds == ({"focusTime"} if workspace else {"default"})
    assert connector.focus_time_unsupported == (frozenset() if workspace else {email})


def test_once_focus_time_was_answered_a_calendar_is_not_probed_again(google: FakeGoogle) -> None:
    email = google.add_account(f"focus-{uuid.uuid4().hex[:8]}@example.com", workspace=True)
    specs = [dataclasses.replace(s, focus_time=True) for s in _specs(4)]
    shared = FocusMemory()  # as a registry factory shares it among its connectors
    _connector(google, email, shared).create_blocks(email, specs[:2])  # probes with the first
    later = _connector(google, email, shared)  # another task's connector
    later.list_calendars()
    start = len(google.requests)
    created = later.create_blocks(email, specs[2:])
    assert all(isinstance(c, Event) for c in created)
    sent = google.requests[start:]
    assert [r.path for r in sent if not r.batched] == ["/batch/calendar/v3"]
    assert {e.get("eventType") for e in google.events(email)} == {"focusTime"}

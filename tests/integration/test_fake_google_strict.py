"""The fake Google server refuses what Google refuses (issue 11 item 7): bodies and parameters
checked against the shipped discovery document, sync-token rules, watch rules, what an
attendee may change, and recurrences expanded like Google (DAILY/WEEKLY/MONTHLY, COUNT/UNTIL,
all-day, wall clock across DST)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest

from tests.fakes.google_server import FakeGoogle

OWNER = "owner@corp.example"
BERLIN = ZoneInfo("Europe/Berlin")


@pytest.fixture(scope="module")
def google() -> Iterator[FakeGoogle]:
    with FakeGoogle() as server:
        server.add_account(OWNER, time_zone="Europe/Berlin")
        yield server


@pytest.fixture(scope="module")
def api(google: FakeGoogle) -> Iterator[httpx.Client]:
    token = google.mint_credentials(OWNER)["token"]
    with httpx.Client(
        base_url=f"{google.base_url}/calendar/v3/calendars/{OWNER}",
        headers={"Authorization": f"Bearer {token}"},
    ) as client:
        yield client


def event(**fields: Any) -> dict[str, Any]:
    return {
        "summary": "Test",
        "start": {"dateTime": "2027-03-01T09:00:00+01:00"},
        "end": {"dateTime": "2027-03-01T10:00:00+01:00"},
        **fields,
    }


@pytest.mark.parametrize(
    "fields",
    [
        {"transparency": "busy"},
        {"eventType": "meeting"},
        {"status": "done"},
        {"visibility": "secret"},
        {"attendees": [{"email": "a@b.example", "responseStatus": "maybe"}]},
        {"reminders": {"useDefault": False, "overrides": [{"method": "sms", "minutes": 5}]}},
        {"reminders": {"useDefault": False, "overrides": [{"method": "popup", "minutes": 50000}]}},
        {"reminders": {"overrides": [{"method": "popup", "minutes": 1}] * 6}},
        {"reminders": {"useDefault": "no"}},
        {"eventType": "focusTime", "focusTimeProperties": {"autoDeclineMode": "all"}},
        {"eventType": "focusTime", "focusTimeProperties": {"chatStatus": "away"}},
        {"extendedProperties": {"private": {"k": 1}}},
        {"colour": "red"},
        {"summary": 42},
    ],
)
def test_bodies_are_checked_against_the_discovery_document(
    api: httpx.Client, fields: dict[str, Any]
) -> None:
    answer = api.post("/events", json=event(**fields))
    assert answer.status_code == 400, answer.text


def test_a_valid_body_is_accepted(api: httpx.Client) -> None:
    fields = {
        "transparency": "transparent",
        "reminders": {"useDefault": False, "overrides": [{"method": "popup", "minutes": 10}]},
        "extendedProperties": {"private": {"k": "v"}},
    }
    assert api.post("/events", json=event(**fields)).status_code == 200


@pytest.mark.parametrize(
    "params",
    [
        {"syncToken": "x", "updatedMin": "2027-01-01T00:00:00Z"},
        {"syncToken": "x", "iCalUID": "abc@google.com"},
        {"syncToken": "x", "showDeleted": "false"},
        {"syncToken": "x", "timeMin": "2027-01-01T00:00:00Z"},
        {"syncToken": "x", "sharedExtendedProperty": "a=b"},
        {"orderBy": "startTime"},  # needs singleEvents=true
        {"orderBy": "created"},
        {"singleEvents": "yes"},
        {"maxResults": "0"},
        {"eventTypes": "meeting"},
        {"colour": "red"},
    ],
)
def test_parameters_are_checked(api: httpx.Client, params: dict[str, str]) -> None:
    answer = api.get("/events", params=params)
    assert answer.status_code == 400, answer.text


def test_sync_token_with_allowed_parameters_works(api: httpx.Client) -> None:
    first = api.get("/events", params={"singleEvents": "true", "maxResults": "2500"}).json()
    while "nextPageToken" in first:
        first = api.get("/events", params={"pageToken": first["nextPageToken"]}).json()
    again = api.get(
        "/events",
        params={"syncToken": first["nextSyncToken"], "singleEvents": "true", "showDeleted": "true"},
    )
    assert again.status_code == 200, again.text


@pytest.mark.parametrize(
    ("channel", "reason"),
    [
        ({"address": "http://gg.example/webhooks/google"}, "push.webhookUrlNotHttps"),
        ({"id": "x" * 65}, "invalid"),
        ({"id": "has space"}, "invalid"),
        ({"token": "t" * 257}, "invalid"),
        ({"type": "email"}, "invalid"),
    ],
)
def test_watch_rules(api: httpx.Client, channel: dict[str, str], reason: str) -> None:
    body = {"id": "chan-ok", "type": "web_hook", "address": "https://gg.example/h", **channel}
    answer = api.post("/events/watch", json=body)
    assert answer.status_code == 400, answer.text
    assert answer.json()["error"]["errors"][0]["reason"] == reason


def test_an_attendee_may_change_only_their_own_answer(
    google: FakeGoogle, api: httpx.Client
) -> None:
    start = datetime(2027, 3, 2, 9, tzinfo=BERLIN)
    invite = google.insert_invite(OWNER, "Roadmap", start, start + timedelta(hours=1))
    url = f"/events/{invite}"
    assert api.patch(url, json={"summary": "Mine now"}).status_code == 403
    other = {"email": "guest0@example.com", "responseStatus": "declined"}
    assert api.patch(url, json={"attendees": [other], "attendeesOmitted": True}).status_code == 403
    own = {"email": OWNER, "responseStatus": "declined", "comment": "Growth time"}
    assert api.put(url, json=event(attendees=[own])).status_code == 403
    answer = api.patch(url, json={"attendees": [own], "attendeesOmitted": True})
    assert answer.status_code == 200, answer.text
    assert google.rsvps(OWNER, invite) == [("declined", "Growth time")]


def _instances(api: httpx.Client, master: str) -> list[dict[str, Any]]:
    listed = api.get(
        "/events",
        params={
            "singleEvents": "true",
            "timeMin": "2026-01-01T00:00:00Z",
            "timeMax": "2029-01-01T00:00:00Z",
        },
    ).json()["items"]
    return [e for e in listed if e.get("recurringEventId") == master]


def _series(api: httpx.Client, start: dict[str, str], end: dict[str, str], rule: str) -> str:
    body = {"summary": rule, "start": start, "end": end, "recurrence": [rule]}
    answer = api.post("/events", json=body)
    assert answer.status_code == 200, answer.text
    return str(answer.json()["id"])


def _local(item: dict[str, Any], zone: ZoneInfo) -> datetime:
    return datetime.fromisoformat(item["start"]["dateTime"]).astimezone(zone)


def test_daily_count(api: httpx.Client) -> None:
    start = {"dateTime": "2027-03-01T09:00:00", "timeZone": "Europe/Berlin"}
    end = {"dateTime": "2027-03-01T09:30:00", "timeZone": "Europe/Berlin"}
    master = _series(api, start, end, "RRULE:FREQ=DAILY;COUNT=5")
    days = [_local(i, BERLIN).day for i in _instances(api, master)]
    assert days == [1, 2, 3, 4, 5]


def test_weekly_until_keeps_the_wall_clock_across_dst(api: httpx.Client) -> None:
    # Europe/Berlin moves to summer time on 2027-03-28.
    start = {"dateTime": "2027-03-15T09:00:00", "timeZone": "Europe/Berlin"}
    end = {"dateTime": "2027-03-15T10:00:00", "timeZone": "Europe/Berlin"}
    master = _series(api, start, end, "RRULE:FREQ=WEEKLY;UNTIL=20270412T235959Z")
    items = _instances(api, master)
    assert [(_local(i, BERLIN).day, _local(i, BERLIN).hour) for i in items] == [
        (15, 9),
        (22, 9),
        (29, 9),
        (5, 9),
        (12, 9),
    ]
    utc_hours = [datetime.fromisoformat(i["start"]["dateTime"]).astimezone(UTC).hour for i in items]
    assert utc_hours == [8, 8, 7, 7, 7]


def test_monthly_on_a_lord_howe_half_hour_zone(api: httpx.Client) -> None:
    zone = ZoneInfo("Australia/Lord_Howe")
    start = {"dateTime": "2027-03-31T08:00:00", "timeZone": "Australia/Lord_Howe"}
    end = {"dateTime": "2027-03-31T09:00:00", "timeZone": "Australia/Lord_Howe"}
    master = _series(api, start, end, "RRULE:FREQ=MONTHLY;BYMONTHDAY=-1;COUNT=3")
    items = _instances(api, master)
    assert [(_local(i, zone).month, _local(i, zone).day, _local(i, zone).hour) for i in items] == [
        (3, 31, 8),
        (4, 30, 8),
        (5, 31, 8),
    ]
    # Lord Howe leaves its half-hour summer time on 2027-04-04: the UTC time moves 30 min.
    offsets = [datetime.fromisoformat(i["start"]["dateTime"]).utcoffset() for i in items]
    assert offsets == [timedelta(hours=11), timedelta(hours=10, minutes=30)] * 1 + [
        timedelta(hours=10, minutes=30)
    ]


def test_all_day_weekly_series(api: httpx.Client) -> None:
    master = _series(
        api, {"date": "2027-03-01"}, {"date": "2027-03-02"}, "RRULE:FREQ=WEEKLY;COUNT=3"
    )
    items = _instances(api, master)
    assert [i["start"] for i in items] == [
        {"date": "2027-03-01"},
        {"date": "2027-03-08"},
        {"date": "2027-03-15"},
    ]
    assert [i["id"].rsplit("_", 1)[1] for i in items] == ["20270301", "20270308", "20270315"]


def test_a_broken_rule_is_refused(api: httpx.Client) -> None:
    body = event(recurrence=["RRULE:FREQ=SOMETIMES"])
    body["start"]["timeZone"] = body["end"]["timeZone"] = "Europe/Berlin"
    assert api.post("/events", json=body).status_code == 400
    dtstart = event(recurrence=["DTSTART:20270301T090000Z", "RRULE:FREQ=DAILY;COUNT=2"])
    assert api.post("/events", json=dtstart).status_code == 400


def test_out_of_office_only_timed_and_on_the_primary_calendar(
    google: FakeGoogle, api: httpx.Client
) -> None:
    made = api.post("/events", json=event(eventType="outOfOffice"))
    assert made.status_code == 200 and made.json()["eventType"] == "outOfOffice"
    all_day = event(
        eventType="outOfOffice", start={"date": "2027-03-02"}, end={"date": "2027-03-03"}
    )
    assert api.post("/events", json=all_day).status_code == 400
    team = google.add_calendar(OWNER)
    elsewhere = api.post(f"../{team}/events", json=event(eventType="outOfOffice"))
    assert elsewhere.status_code == 400, elsewhere.text
    assert api.post(f"../{team}/events", json=event()).status_code == 200

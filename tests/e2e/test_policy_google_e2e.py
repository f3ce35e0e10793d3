"""The boundary policy end to end on the fake Google server, over HTTP only."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from app.domain.time import IsoWeek
from tests.booking_helpers import book
from tests.e2e.harness import AppServer, browser, wait_until
from tests.fakes.google_server import FakeGoogle
from tests.fakes.google_store import parse_when
from tests.support.e2e_google import BERLIN, USER

POLICY: dict[str, Any] = {
    "default": "flag",
    "rules": [
        {"name": "skip-level", "when": {"organizer_in": ["vp@corp.example"]}, "then": "move_block"},
        {"name": "big meetings", "when": {"attendees_at_least": 8}, "then": "decline"},
    ],
    "guardrails": {"max_declines_per_week": 5, "never_decline_accepted": True, "dry_run": False},
    "decline_message": "This time is reserved for growth work. Could one of these work "
    "instead? {alternatives}",
}


@pytest.fixture
def session(
    fake: FakeGoogle, app_server: AppServer
) -> Iterator[tuple[httpx.Client, int, list[dict]]]:
    with browser(app_server.base_url) as client:
        client.get("/auth/google/start", follow_redirects=True)
        wait_until(lambda: client.get("/accounts").json()[0]["calendars"][0]["push_active"], 5)
        plan = client.post("/plans", json={"goal": "Lead a cross-team project"}).json()
        assert client.put(f"/plans/{plan['id']}/policy", json=POLICY).status_code == 200
        # Two weeks ahead: every block is further away than any short-notice rule.
        week = IsoWeek.containing(datetime.now(UTC), BERLIN).plus(2)
        booked = book(client, plan["id"], str(week))
        assert len(booked[0]["created"]) == 2
        blocks = sorted(
            (e for e in fake.events(USER) if e.get("extendedProperties")),
            key=lambda e: parse_when(e["start"]),
        )
        yield client, plan["id"], blocks


def decision_for(client: httpx.Client, invite_id: str) -> dict:
    def found() -> dict | None:
        for conflict in client.get("/conflicts").json():
            if conflict["decision"] and invite_id in str(conflict):
                return conflict
        return None

    return wait_until(found, timeout=5)


def test_large_meeting_is_declined_with_alternatives(
    fake: FakeGoogle,
    session: tuple[httpx.Client, int, list[dict]],
) -> None:
    client, _, blocks = session
    block = blocks[0]
    invite_id = fake.insert_invite(
        USER,
        "Q3 all-hands",
        parse_when(block["start"]),
        parse_when(block["end"]),
        organizer="cto@corp.example",
        attendee_count=12,
    )
    conflict = decision_for(client, "Q3 all-hands")
    decision = conflict["decision"]
    assert (decision["action"], decision["rule"], decision["outcome"]) == (
        "decline",
        "big meetings",
        "done",
    )
    assert "12" in decision["explanation"] and "big meetings" in decision["explanation"]
    rsvps = fake.rsvps(USER, invite_id)
    assert [status for status, _ in rsvps] == ["declined"]
    assert "Could one of these work instead?" in (rsvps[0][1] or "")
    event = fake.event(USER, invite_id)
    others = [a for a in event["attendees"] if a["email"] != USER]
    assert len(others) == 11 and all(
        a["responseStatus"] in ("needsAction", "accepted") for a in others
    )


def test_skip_level_invite_moves_the_block_and_keeps_the_meeting(
    fake: FakeGoogle,
    session: tuple[httpx.Client, int, list[dict]],
) -> None:
    client, _, blocks = session
    block = blocks[1]
    start, end = parse_when(block["start"]), parse_when(block["end"])
    invite_id = fake.insert_invite(
        USER, "Skip-level 1:1", start, end, organizer="vp@corp.example", attendee_count=2
    )
    decision = decision_for(client, "Skip-level 1:1")["decision"]
    assert (decision["action"], decision["rule"]) == ("move_block", "skip-level")
    moved = fake.event(USER, block["id"])
    assert parse_when(moved["start"]) != start
    assert not (parse_when(moved["start"]) < end and start < parse_when(moved["end"]))
    assert fake.rsvps(USER, invite_id) == []  # the meeting is untouched


def test_dry_run_records_but_writes_nothing(
    fake: FakeGoogle,
    session: tuple[httpx.Client, int, list[dict]],
) -> None:
    client, plan_id, blocks = session
    dry = {**POLICY, "guardrails": {**POLICY["guardrails"], "dry_run": True}}
    assert client.put(f"/plans/{plan_id}/policy", json=dry).status_code == 200
    block = blocks[0]
    invite_id = fake.insert_invite(
        USER,
        "Big planning",
        parse_when(block["start"]),
        parse_when(block["end"]),
        attendee_count=20,
    )
    decision = decision_for(client, "Big planning")["decision"]
    assert (
        decision["action"] == "decline" and decision["dry_run"] and decision["outcome"] == "skipped"
    )
    assert "dry run" in decision["explanation"]
    assert fake.rsvps(USER, invite_id) == []

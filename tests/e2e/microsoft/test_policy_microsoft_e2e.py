"""The boundary policy end to end on the fake Graph server, over HTTP only."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from app.domain.time import IsoWeek
from tests.booking_helpers import book
from tests.e2e.harness import AppServer, browser, wait_until
from tests.fakes.graph_server import FakeGraphServer
from tests.support.e2e_microsoft import BERLIN, LOGIN, USER

POLICY: dict[str, Any] = {
    "default": "flag",
    "rules": [
        {"name": "skip-level", "when": {"organizer_in": ["@board.example"]}, "then": "move_block"},
        {"name": "big meetings", "when": {"attendees_at_least": 8}, "then": "decline"},
    ],
}

Session = tuple[httpx.Client, int, list[Any], str]


@pytest.fixture
def session(fake: FakeGraphServer, app_server: AppServer) -> Iterator[Session]:
    with browser(app_server.base_url, {LOGIN: fake.base_url}) as client:
        client.get("/auth/microsoft/start", follow_redirects=True)
        wait_until(lambda: client.get("/accounts").json()[0]["calendars"][0]["push_active"], 5)
        plan = client.post("/plans", json={"goal": "Mentor two juniors"}).json()
        assert client.put(f"/plans/{plan['id']}/policy", json=POLICY).status_code == 200
        week = IsoWeek.containing(datetime.now(UTC), BERLIN).plus(2)
        booked = book(client, plan["id"], str(week))
        assert len(booked[0]["created"]) == 2
        cal_id = fake.calendar_id(USER)
        blocks = sorted((e for e in fake.events(USER, cal_id) if e.ext), key=lambda e: e.start)
        yield client, plan["id"], blocks, cal_id


def decision_for(client: httpx.Client, title: str) -> dict[str, Any]:
    def found() -> dict[str, Any] | None:
        for conflict in client.get("/conflicts").json():
            if conflict["decision"] and conflict["event"]["title"] == title:
                return dict(conflict["decision"])
        return None

    return dict(wait_until(found, timeout=5))


def test_large_meeting_is_declined_with_alternatives(
    fake: FakeGraphServer, session: Session
) -> None:
    client, _, blocks, cal_id = session
    invite_id = fake.insert_invite(
        USER,
        cal_id,
        "Budget review",
        blocks[0].start,
        blocks[0].end,
        "cfo@contoso.example",
        attendees=[f"p{n}@contoso.example" for n in range(10)],
    )
    decision = decision_for(client, "Budget review")
    assert (decision["action"], decision["outcome"]) == ("decline", "done")
    responses = fake.responses(USER, invite_id)
    assert len(responses) == 1 and responses[0].response == "decline"
    assert "Could one of these work instead?" in (responses[0].comment or "")
    event = next(e for e in fake.events(USER, cal_id) if e.id == invite_id)
    others = {k: v for k, v in event.attendees.items() if k != USER}
    assert len(others) == 10 and set(others.values()) <= {"none", "notResponded", "accepted"}


def test_board_invite_moves_the_block(fake: FakeGraphServer, session: Session) -> None:
    client, _, blocks, cal_id = session
    block = blocks[1]
    start, end = block.start, block.end  # the fake updates its event objects in place
    invite_id = fake.insert_invite(USER, cal_id, "Board prep", start, end, "chair@board.example")
    decision = decision_for(client, "Board prep")
    assert (decision["action"], decision["rule"]) == ("move_block", "skip-level")
    moved = next(e for e in fake.events(USER, cal_id) if e.id == block.id)
    assert moved.start != start
    assert not (moved.start < end and start < moved.end)
    assert fake.responses(USER, invite_id) == []


def test_dry_run_writes_nothing(fake: FakeGraphServer, session: Session) -> None:
    client, plan_id, blocks, cal_id = session
    dry = {**POLICY, "guardrails": {"dry_run": True}}
    assert client.put(f"/plans/{plan_id}/policy", json=dry).status_code == 200
    invite_id = fake.insert_invite(
        USER,
        cal_id,
        "All-hands",
        blocks[0].start,
        blocks[0].end,
        "ceo@contoso.example",
        attendees=[f"q{n}@contoso.example" for n in range(30)],
    )
    decision = decision_for(client, "All-hands")
    assert decision["action"] == "decline" and decision["dry_run"]
    assert fake.responses(USER, invite_id) == []

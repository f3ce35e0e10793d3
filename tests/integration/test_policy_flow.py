"""The boundary policy through the API with memory calendars: validation, explain, grace-period
declines with signed links, overrides, and deciding each conflict once."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from app import tasks
from app.db.models import Notification
from app.runtime import Runtime
from tests.support.policy import (
    ME,
    berlin,
    conflicts,
    invite,
    plan_with,
    signed_in_client,
    sync,
)
from tests.support.world import FakeClock, MemoryWorld


@pytest.fixture
def client(runtime: Runtime, world: MemoryWorld, clock: FakeClock) -> Iterator[TestClient]:
    with signed_in_client(runtime, world, clock) as test_client:
        yield test_client


def test_invalid_policies_name_the_rule_and_field(client: TestClient):
    plan_id = client.post("/plans", json={"goal": "x"}).json()["id"]
    bad = {
        "rules": [
            {"name": "ok", "when": {"attendees_at_least": 3}, "then": "flag"},
            {"name": "no grace", "when": {"attendees_at_least": 8}, "then": "decline_after"},
        ]
    }
    response = client.put(f"/plans/{plan_id}/policy", json=bad)
    assert response.status_code == 422
    locations = [".".join(map(str, item["loc"])) for item in response.json()["detail"]]
    assert any(loc.startswith("body.rules.1") for loc in locations), locations
    regex = {"rules": [{"name": "r", "when": {"title_matches": "(unclosed"}, "then": "flag"}]}
    response = client.put(f"/plans/{plan_id}/policy", json=regex)
    assert response.status_code == 422
    assert any("title_matches" in ".".join(map(str, i["loc"])) for i in response.json()["detail"])


def test_presets_and_explain(client: TestClient):
    assert {"gentle", "balanced", "strict"} <= set(client.get("/policies/presets").json())
    plan_id = client.post("/plans", json={"goal": "x"}).json()["id"]
    assert client.get(f"/plans/{plan_id}/policy").json()["name"] == "balanced"
    policy = {
        "rules": [{"name": "big meetings", "when": {"attendees_at_least": 8}, "then": "decline"}]
    }
    stored = client.put(f"/plans/{plan_id}/policy", json=policy).json()
    sample = {
        "title": "Q3 sync",
        "start": "2027-01-20T10:00:00+01:00",
        "end": "2027-01-20T11:00:00+01:00",
        "organizer_email": "pm@corp.example",
        "attendee_count": 12,
    }
    verdict = client.post(f"/policies/{stored['id']}/explain", json=sample).json()
    assert verdict["action"] == "decline" and verdict["rule"] == "big meetings"
    assert "12" in verdict["explanation"] and "big meetings" in verdict["explanation"]
    mine = client.post(
        f"/policies/{stored['id']}/explain", json={**sample, "self_is_organizer": True}
    )
    assert mine.json()["action"] != "decline"


def test_grace_period_decline_with_signed_links(
    client: TestClient, runtime: Runtime, world: MemoryWorld, clock: FakeClock
):
    plan_with(
        client,
        {
            "rules": [
                {
                    "name": "big",
                    "when": {"attendees_at_least": 8},
                    "then": "decline_after",
                    "grace_hours": 2,
                }
            ]
        },
    )
    first = invite(world, "Roadmap review", berlin(11, 9), berlin(11, 10))
    second = invite(world, "Sprint demo", berlin(12, 9, 30), berlin(12, 10, 30))
    sync(runtime)
    decided = {c["event"]["title"]: c for c in conflicts(client)}
    assert decided["Roadmap review"]["decision"]["outcome"] == "pending"
    with runtime.sessions() as session:
        payloads = [
            n.payload
            for n in session.scalars(
                select(Notification).where(Notification.kind == "conflict.decided")
            )
        ]
    links = {p["title"]: p for p in payloads}
    keep = urlsplit(links["Sprint demo"]["keep_url"])
    token = parse_qs(keep.query)["t"][0]
    forged = client.post(keep.path, data={"t": token[:-2] + "xx"})
    assert forged.status_code == 410
    assert client.post(keep.path, data={"t": token}).status_code == 200
    decline = urlsplit(links["Roadmap review"]["decline_url"])
    assert client.post(decline.path, data={"t": parse_qs(decline.query)["t"][0]}).status_code == 200
    responses = {(r.event_id, r.response.value) for r in world.store(ME).responses}
    assert (first, "declined") in responses
    assert all(event_id != second for event_id, _ in responses)
    # The kept one is never declined, even after its grace period ends.
    clock.now += timedelta(hours=3)
    assert tasks.decline_due() == 0
    assert second not in {r.event_id for r in world.store(ME).responses}


def test_grace_period_ends_without_a_choice(
    client: TestClient, runtime: Runtime, world: MemoryWorld, clock: FakeClock
):
    plan_with(
        client,
        {
            "rules": [
                {
                    "name": "big",
                    "when": {"attendees_at_least": 8},
                    "then": "decline_after",
                    "grace_hours": 2,
                }
            ]
        },
    )
    event_id = invite(world, "Roadmap review", berlin(11, 9), berlin(11, 10))
    sync(runtime)
    assert tasks.decline_due() == 0  # not yet
    clock.now += timedelta(hours=2, minutes=1)
    assert tasks.decline_due() == 1
    assert [(r.event_id, r.response.value) for r in world.store(ME).responses] == [
        (event_id, "declined")
    ]
    assert conflicts(client)[0]["decision"]["outcome"] == "done"


def test_keep_meeting_after_a_decline_reaccepts_and_moves_the_block(
    client: TestClient, runtime: Runtime, world: MemoryWorld
):
    plan_with(client, {"default": "decline"})
    event_id = invite(world, "Roadmap review", berlin(11, 9), berlin(11, 11))
    sync(runtime)
    conflict = conflicts(client)[0]
    assert conflict["decision"]["action"] == "decline"
    result = client.post(f"/conflicts/{conflict['id']}/override").json()
    assert result["reaccepted"] is True and result["block_moved"] is True
    assert [r.response.value for r in world.store(ME).responses if r.event_id == event_id] == [
        "declined",
        "accepted",
    ]
    assert conflicts(client)[0]["state"] == "overridden"
    blocks = client.get("/blocks").json()
    assert all(
        not (b["start"] < "2027-01-11T10:00:00Z" and b["end"] > "2027-01-11T08:00:00Z")
        for b in blocks
    )


def test_each_conflict_is_decided_once_and_own_events_are_not_conflicts(
    client: TestClient, runtime: Runtime, world: MemoryWorld
):
    plan_with(client, {"default": "decline"})
    invite(world, "Roadmap review", berlin(11, 9), berlin(11, 10))
    invite(
        world,
        "My own sync",
        berlin(12, 9),
        berlin(12, 10),
        self_is_organizer=True,
        self_response=None,
    )
    sync(runtime)
    world.store(ME).expire_cursors("primary")
    sync(runtime)  # a full resync sees the invite again
    sync(runtime)
    found = conflicts(client)
    assert [c["event"]["title"] for c in found] == ["Roadmap review"]
    assert len(world.store(ME).responses) == 1

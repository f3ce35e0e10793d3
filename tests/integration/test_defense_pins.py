"""Defense levels and pinning through the API on memory calendars: a free flexible block is
only flagged, a locked one declines what would be flagged; a pinned block keeps its time
through re-booking and policy moves; chosen slots are booked exactly, and bad ones are
refused naming the field."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from app import tasks
from app.db.models import AuditEntry, Block
from app.runtime import Runtime
from connectors.base import Response
from tests.booking_helpers import book
from tests.support.api import error_fields
from tests.support.policy import ME, berlin, conflicts, invite, signed_in_client, sync
from tests.support.world import FakeClock, MemoryWorld

WEEK = "2027-W02"  # Mon 11 .. Sun 17 Jan 2027; the client starts Sunday 10 Jan 18:00 Berlin


@pytest.fixture
def client(runtime: Runtime, world: MemoryWorld, clock: FakeClock) -> Iterator[TestClient]:
    with signed_in_client(runtime, world, clock) as test_client:
        yield test_client


def make_plan(client: TestClient, policy: dict, **spec: object) -> int:
    plan_id = int(client.post("/plans", json={"goal": "Lead a project", **spec}).json()["id"])
    assert client.put(f"/plans/{plan_id}/policy", json=policy).status_code == 200
    book(client, plan_id, WEEK)
    return plan_id


def blocks(client: TestClient, plan_id: int) -> list[dict]:
    rows = client.get("/blocks", params={"plan_id": plan_id, "week": WEEK}).json()
    return sorted(rows, key=lambda b: b["start"])


def provider_times(world: MemoryWorld) -> list[tuple[datetime, datetime, bool]]:
    events = [e for e in world.store(ME).events("primary") if e.tag is not None]
    return sorted((e.start, e.end, e.busy) for e in events)


def at(text: str) -> datetime:
    return datetime.fromisoformat(text)


def test_a_free_flexible_block_is_flagged_never_declined(
    client: TestClient, runtime: Runtime, world: MemoryWorld
):
    plan_id = make_plan(
        client, {"rules": [], "default": "decline"}, defense="flexible", flexible_hours_before=24
    )
    monday, tuesday = blocks(client, plan_id)
    # Monday 09:00 is 15 h away: past its threshold, busy; Tuesday's is still free
    assert (monday["level"], monday["busy"]) == ("flexible", True)
    assert (tuesday["level"], tuesday["busy"]) == ("flexible", False)
    start = at(tuesday["start"])
    invite(world, "Vendor demo", start, start + timedelta(hours=1))
    sync(runtime)
    [conflict] = conflicts(client)
    assert conflict["block_level"] == "flexible"
    assert conflict["decision"]["action"] == "flag"
    assert "flexible" in conflict["decision"]["explanation"]
    assert world.store(ME).responses == []


def test_a_locked_block_declines_what_the_policy_would_flag(
    client: TestClient, runtime: Runtime, world: MemoryWorld
):
    plan_id = make_plan(client, {"rules": [], "default": "flag"}, defense="locked")
    first = blocks(client, plan_id)[0]
    assert (first["level"], first["busy"]) == ("locked", True)
    start = at(first["start"])
    invite(world, "Status round", start, start + timedelta(hours=1))
    sync(runtime)
    [conflict] = conflicts(client)
    assert conflict["block_level"] == "locked"
    assert conflict["decision"]["action"] == "decline"
    assert [r.response for r in world.store(ME).responses] == [Response.DECLINE]


def test_a_pinned_block_keeps_its_time_through_rebooking_and_policy_moves(
    client: TestClient, runtime: Runtime, world: MemoryWorld, clock: FakeClock
):
    plan_id = make_plan(client, {"rules": [], "default": "move_block"})
    second = blocks(client, plan_id)[1]
    wanted = berlin(13, 14)  # Wednesday 14:00, outside the preferred mornings
    answer = client.post(
        f"/plans/{plan_id}/blocks/{second['id']}/pin", json={"start": wanted.isoformat()}
    )
    assert answer.status_code == 200, answer.text
    assert answer.json()["pinned"] is True
    assert at(answer.json()["start"]) == wanted
    # the plan changes to afternoons only, and booking runs again
    spec = client.get(f"/plans/{plan_id}").json()["spec"]
    client.put(f"/plans/{plan_id}", json={**spec, "windows": ["13:00-17:00"]})
    book(client, plan_id, WEEK)
    after = {b["id"]: b for b in blocks(client, plan_id)}
    assert at(after[second["id"]]["start"]) == wanted
    assert (wanted, wanted + timedelta(hours=2), True) in provider_times(world)
    # an invite over the pinned block: the policy would move it, pinned it stays (flagged)
    invite(world, "All hands", wanted, wanted + timedelta(hours=1))
    sync(runtime)
    [conflict] = conflicts(client)
    assert conflict["decision"]["action"] == "flag"
    assert "pinned" in conflict["decision"]["explanation"]
    assert any(at(b["start"]) == wanted for b in blocks(client, plan_id))
    with runtime.sessions() as session:
        row = session.get(Block, second["id"])
        assert row is not None and row.pinned and row.start == wanted


def test_keep_it_here_without_a_time_pins_in_place(client: TestClient):
    plan_id = make_plan(client, {"rules": [], "default": "flag"})
    first = blocks(client, plan_id)[0]
    answer = client.post(f"/plans/{plan_id}/blocks/{first['id']}/pin", json={})
    assert answer.status_code == 200
    assert (answer.json()["start"], answer.json()["pinned"]) == (first["start"], True)


def test_choosing_slots_books_exactly_those(
    client: TestClient, runtime: Runtime, world: MemoryWorld
):
    plan_id = make_plan(client, {"rules": [], "default": "flag"})
    assert len(blocks(client, plan_id)) == 2
    chosen = [
        (berlin(11, 13), berlin(11, 14)),  # Monday 13:00-14:00
        (berlin(14, 15), berlin(14, 16, 30)),  # Thursday 15:00-16:30
        (berlin(15, 10), berlin(15, 11)),  # Friday 10:00-11:00
    ]
    body = {"slots": [{"start": s.isoformat(), "end": e.isoformat()} for s, e in chosen]}
    answer = client.put(f"/plans/{plan_id}/weeks/{WEEK}/slots", json=body)
    assert answer.status_code == 200, answer.text
    assert [(at(b["start"]), at(b["end"])) for b in answer.json()] == chosen
    assert all(b["pinned"] for b in answer.json())
    assert [(s, e) for s, e, _ in provider_times(world)] == chosen
    # 210 of 240 minutes: booking again adds nothing to a week the person chose
    book(client, plan_id, WEEK)
    assert [(at(b["start"]), at(b["end"])) for b in blocks(client, plan_id)] == chosen
    assert [(s, e) for s, e, _ in provider_times(world)] == chosen
    # choosing again is idempotent: no second write
    again = client.put(f"/plans/{plan_id}/weeks/{WEEK}/slots", json=body)
    assert [b["id"] for b in again.json()] == [b["id"] for b in answer.json()]
    assert [(s, e) for s, e, _ in provider_times(world)] == chosen


@pytest.mark.parametrize(
    ("slots", "field"),
    [
        ([(berlin(18, 9), berlin(18, 10))], "body.slots[0].start"),  # the next week
        ([(berlin(10, 9), berlin(10, 10))], "body.slots[0].start"),  # Sunday before: other week
        ([(berlin(11, 9), berlin(11, 9, 10))], "body.slots[0].end"),  # 10 minutes
        ([(berlin(11, 9), berlin(11, 22))], "body.slots[0].end"),  # 13 hours
        (
            [(berlin(12, 9), berlin(12, 11)), (berlin(12, 10), berlin(12, 12))],
            "body.slots[1].start",
        ),
    ],
)
def test_bad_slots_are_refused_naming_the_field(
    client: TestClient, world: MemoryWorld, slots, field
):
    plan_id = make_plan(client, {"rules": [], "default": "flag"})
    before = provider_times(world)
    body = {"slots": [{"start": s.isoformat(), "end": e.isoformat()} for s, e in slots]}
    answer = client.put(f"/plans/{plan_id}/weeks/{WEEK}/slots", json=body)
    assert answer.status_code == 422, answer.text
    assert field in error_fields(answer)
    assert provider_times(world) == before


def test_slots_in_the_past_and_naive_times_are_refused(
    client: TestClient, world: MemoryWorld, clock: FakeClock
):
    plan_id = make_plan(client, {"rules": [], "default": "flag"})
    clock.now = berlin(12, 10)  # Tuesday 10:00, in the middle of Tuesday's block
    past = {"slots": [{"start": berlin(11, 13).isoformat(), "end": berlin(11, 14).isoformat()}]}
    answer = client.put(f"/plans/{plan_id}/weeks/{WEEK}/slots", json=past)
    assert answer.status_code == 422
    assert error_fields(answer) == ["body.slots[0].start"]
    naive = {"slots": [{"start": "2027-01-13T09:00:00", "end": "2027-01-13T10:00:00"}]}
    answer = client.put(f"/plans/{plan_id}/weeks/{WEEK}/slots", json=naive)
    assert answer.status_code == 422
    assert "body.slots.0.start" in error_fields(answer)
    assert client.put(f"/plans/{plan_id}/weeks/2027-W99/slots", json=past).status_code == 422
    first = blocks(client, plan_id)[0]
    pin = client.post(
        f"/plans/{plan_id}/blocks/{first['id']}/pin", json={"start": berlin(11, 9).isoformat()}
    )
    assert pin.status_code == 409  # Monday's block has ended
    second = blocks(client, plan_id)[1]
    pin = client.post(
        f"/plans/{plan_id}/blocks/{second['id']}/pin", json={"start": berlin(12, 8).isoformat()}
    )
    assert pin.status_code == 422 and error_fields(pin) == ["body.start"]


def test_another_persons_block_cannot_be_pinned(client: TestClient, runtime: Runtime):
    plan_id = make_plan(client, {"rules": [], "default": "flag"})
    with runtime.sessions() as session:
        block_id = session.scalars(select(Block.id)).first()
    assert client.post(f"/plans/{plan_id + 99}/blocks/{block_id}/pin", json={}).status_code == 404
    assert client.post(f"/plans/{plan_id}/blocks/999999/pin", json={}).status_code == 404


def test_a_week_filling_up_turns_the_free_blocks_busy_once(
    client: TestClient, runtime: Runtime, world: MemoryWorld
):
    """The squeeze: when the week's free window time falls to what the still-free blocks need,
    the sweep turns them busy (from the sync cache), before their time threshold."""
    plan_id = make_plan(
        client, {"rules": [], "default": "flag"}, defense="flexible", flexible_hours_before=24
    )
    tuesday = blocks(client, plan_id)[1]
    assert tuesday["busy"] is False
    # others book most of the week: only Tuesday 09:00-11:00 (the block) stays free after one
    invite(world, "Offsite day one", berlin(11, 11), berlin(12, 9))
    sync(runtime)
    assert tasks.harden_flexible_blocks() == 0  # Wednesday to Friday still have room
    invite(world, "Offsite, the rest", berlin(12, 11), berlin(15, 17))
    sync(runtime)
    assert tasks.harden_flexible_blocks() == 1
    assert tasks.harden_flexible_blocks() == 0
    assert blocks(client, plan_id)[1]["busy"] is True
    assert [busy for _, _, busy in provider_times(world)] == [True, True]
    book(client, plan_id, WEEK)  # booking sees the same week: nothing more to write
    assert [busy for _, _, busy in provider_times(world)] == [True, True]


def test_booking_turns_squeezed_free_blocks_busy(
    client: TestClient, runtime: Runtime, world: MemoryWorld
):
    plan_id = make_plan(
        client, {"rules": [], "default": "flag"}, defense="flexible", flexible_hours_before=24
    )
    invite(world, "Offsite day one", berlin(11, 11), berlin(12, 9))
    invite(world, "Offsite, the rest", berlin(12, 11), berlin(15, 17))
    book(client, plan_id, WEEK)  # reads the calendars itself: no sync needed
    assert [b["busy"] for b in blocks(client, plan_id)] == [True, True]
    with runtime.sessions() as session:
        writes = session.scalars(select(AuditEntry).where(AuditEntry.action == "show_busy")).all()
        assert [w.outcome for w in writes] == ["ok"]

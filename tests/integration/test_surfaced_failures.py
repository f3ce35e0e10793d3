"""What used to be swallowed is said (issue 11 item 4): a refused move is not "no slot fits",
a failed re-accept never reports success, a calendar deleted at the provider is marked and
the person is told once."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from app import tasks
from app.db.models import Calendar, Conflict, ConflictState, Notification
from app.runtime import Runtime
from connectors.errors import NotFound, PermissionDenied, TransientError
from tests.support.policy import ME, berlin, conflicts, invite, plan_with, signed_in_client, sync
from tests.support.world import FakeClock, MemoryWorld


@pytest.fixture
def client(runtime: Runtime, world: MemoryWorld, clock: FakeClock) -> Iterator[TestClient]:
    with signed_in_client(runtime, world, clock) as test_client:
        yield test_client


def test_a_refused_move_is_reported_as_refused_not_as_no_free_slot(
    client, runtime: Runtime, world: MemoryWorld
):
    plan_with(client, {"default": "move_block"})
    invite(world, "Roadmap review", berlin(11, 9), berlin(11, 11))
    world.store(ME).fail_next("update_block", PermissionDenied("calendar is read-only"))
    sync(runtime)
    decision = conflicts(client)[0]["decision"]
    assert decision["action"] == "flag" and decision["outcome"] == "failed"
    assert "refused to move the block" in decision["explanation"]
    assert "read-only" in decision["explanation"]
    assert "no other free slot" not in decision["explanation"]


def test_no_free_slot_still_says_so(client, runtime: Runtime, world: MemoryWorld):
    plan_with(client, {"default": "move_block"})
    # Fill the rest of the week so the block has nowhere to go.
    for day in range(11, 16):
        invite(world, f"Busy {day}", berlin(day, 8), berlin(day, 18), attendee_count=2)
    sync(runtime)
    explanations = [c["decision"]["explanation"] for c in conflicts(client) if c["decision"]]
    assert explanations and all("no other free slot" in e for e in explanations)


def test_a_failed_reaccept_never_reports_the_meeting_kept(
    client, runtime: Runtime, world: MemoryWorld
):
    plan_with(client, {"default": "decline"})
    invite(world, "Roadmap review", berlin(11, 9), berlin(11, 11))
    sync(runtime)
    conflict = conflicts(client)[0]
    assert conflict["decision"]["action"] == "decline"
    world.store(ME).fail_next("respond", TransientError("Graph answered 503"))
    reply = client.post(f"/conflicts/{conflict['id']}/override")
    assert reply.status_code == 503, reply.text
    assert "try again" in reply.json()["detail"]
    assert conflicts(client)[0]["state"] == "decided"  # not "overridden": nothing was kept
    responses = [r.response.value for r in world.store(ME).responses]
    assert responses == ["declined"]
    # When the provider answers again, keeping works.
    again = client.post(f"/conflicts/{conflict['id']}/override")
    assert again.status_code == 200 and again.json()["reaccepted"] is True
    with runtime.sessions() as session:
        assert session.scalars(select(Conflict.state)).one() == ConflictState.OVERRIDDEN


def test_a_calendar_deleted_at_the_provider_is_marked_and_told_once(
    client, runtime: Runtime, world: MemoryWorld
):
    plan_with(client, {"default": "flag"})
    store = world.store(ME)
    for _ in range(3):
        store.fail_next("sync", NotFound("calendar gone"))
    with runtime.sessions() as session:
        calendar_id = session.scalars(select(Calendar.id)).one()
    for _ in range(3):
        tasks.sync_calendar(calendar_id)
        tasks.poll_calendars()  # a gone calendar is not polled any more
    with runtime.sessions() as session:
        calendar = session.get_one(Calendar, calendar_id)
        assert calendar.gone_at is not None
        assert not calendar.is_busy_source and not calendar.is_target
        told = session.scalars(select(Notification).where(Notification.kind == "calendar.gone"))
        notes = list(told)
    assert len(notes) == 1
    assert "deleted" in notes[0].payload["message"]
    assert "choose another calendar" in notes[0].payload["message"]
    # Booking now says what is missing instead of failing on the gone calendar forever.
    plan_id = client.get("/plans").json()[0]["id"]
    blocked = client.post(f"/plans/{plan_id}/book")
    assert blocked.status_code == 409 and "target" in blocked.json()["reason"]

"""Block titles name the current milestone, and booking keeps them current when it changes."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from sqlalchemy import select

from app import tasks
from app.db.growth_models import Milestone
from app.db.models import AuditEntry, Calendar, Plan, User
from app.db.session import transaction
from app.domain.policy import PolicySpec
from app.runtime import Runtime
from app.services.growth import milestones
from app.services.planning import policies
from connectors.base import Event, SelfResponse
from tests.support.booking import WEEK, berlin, count, provider_blocks, setup_plan
from tests.support.world import FakeClock, MemoryWorld

GOAL = "Lead a project"


def add_milestones(rt: Runtime, plan_id: int, *items: tuple[str, date]) -> list[int]:
    with transaction(rt.sessions) as session:
        plan = session.get_one(Plan, plan_id)
        user = session.get_one(User, plan.user_id)
        rows = milestones.add(
            session, user, plan, [milestones.MilestoneInput(t, d) for t, d in items]
        )
        return [row.id for row in rows]


@pytest.fixture
def sunday_evening(clock: FakeClock) -> FakeClock:
    clock.now = berlin(10, 18)
    return clock


@pytest.mark.usefixtures("sunday_evening")
def test_new_blocks_name_the_milestone_due_next(runtime: Runtime, world: MemoryWorld) -> None:
    plan_id = setup_plan(runtime, world)
    # Blocks on Mon 11th and Tue 12th: the first works toward "outline", the second toward
    # "draft" (outline is due on the 11th itself).
    add_milestones(
        runtime, plan_id, ("draft the proposal", date(2027, 2, 1)), ("outline", date(2027, 1, 11))
    )
    tasks.book_plan(plan_id, str(WEEK))

    events = provider_blocks(world)
    assert [e.title for e in events] == [
        f"Growth: outline — toward: {GOAL}",
        f"Growth: draft the proposal — toward: {GOAL}",
    ]


@pytest.mark.usefixtures("sunday_evening")
def test_booking_again_retitles_kept_blocks_after_milestones_change(
    runtime: Runtime, world: MemoryWorld, clock: FakeClock
) -> None:
    plan_id = setup_plan(runtime, world)
    (draft,) = add_milestones(runtime, plan_id, ("draft the proposal", date(2027, 2, 1)))
    tasks.book_plan(plan_id, str(WEEK))
    assert {e.title for e in provider_blocks(world)} == {
        f"Growth: draft the proposal — toward: {GOAL}"
    }

    with transaction(runtime.sessions) as session:
        user = session.scalars(select(User)).one()
        milestones.update(
            session, user, draft, milestones.MilestoneInput("share the draft", date(2027, 2, 1))
        )
    tasks.book_plan(plan_id, str(WEEK))
    assert {e.title for e in provider_blocks(world)} == {
        f"Growth: share the draft — toward: {GOAL}"
    }
    assert count(runtime, AuditEntry, action="retitle_block", outcome="ok") == 2

    # Done: the blocks no longer name a milestone; booking once more changes nothing further.
    with transaction(runtime.sessions) as session:
        user = session.scalars(select(User)).one()
        milestones.mark_done(session, user, draft, date(2027, 1, 10))
    tasks.book_plan(plan_id, str(WEEK))
    tasks.book_plan(plan_id, str(WEEK))
    assert {e.title for e in provider_blocks(world)} == {f"Growth: {GOAL}"}
    assert count(runtime, AuditEntry, action="retitle_block", outcome="ok") == 4


@pytest.mark.usefixtures("sunday_evening")
def test_blocks_already_over_keep_their_title(
    runtime: Runtime, world: MemoryWorld, clock: FakeClock
) -> None:
    plan_id = setup_plan(runtime, world)
    (draft,) = add_milestones(runtime, plan_id, ("draft", date(2027, 2, 1)))
    tasks.book_plan(plan_id, str(WEEK))
    clock.now = berlin(11, 12)  # Monday's block is over, Tuesday's ahead
    with transaction(runtime.sessions) as session:
        session.get_one(Milestone, draft).title = "draft v2"
    tasks.book_plan(plan_id, str(WEEK))
    assert [e.title for e in provider_blocks(world)] == [
        f"Growth: draft — toward: {GOAL}",
        f"Growth: draft v2 — toward: {GOAL}",
    ]


@pytest.mark.usefixtures("sunday_evening")
def test_a_block_moved_by_the_policy_keeps_naming_its_milestone(
    runtime: Runtime, world: MemoryWorld
) -> None:
    plan_id = setup_plan(runtime, world)
    add_milestones(runtime, plan_id, ("draft the proposal", date(2027, 2, 1)))
    with transaction(runtime.sessions) as session:
        plan = session.get_one(Plan, plan_id)
        user = session.get_one(User, plan.user_id)
        policies.set_policy(
            session, user, plan.id, PolicySpec.model_validate({"default": "move_block"})
        )
    tasks.book_plan(plan_id, str(WEEK))
    first = provider_blocks(world)[0]

    store = world.store("me@corp.example")
    store.put_event(
        Event(
            id=store.new_id(),
            calendar_id="primary",
            title="Roadmap review",
            start=first.start,
            end=first.start + timedelta(hours=1),
            organizer_email="boss@corp.example",
            self_response=SelfResponse.NEEDS_ACTION,
            attendee_count=4,
        )
    )
    with runtime.sessions() as session:
        calendar_id = session.scalars(select(Calendar.id)).one()
    tasks.sync_calendar(calendar_id)

    moved = next(e for e in provider_blocks(world) if e.tag == first.tag)
    assert moved.start != first.start  # the policy moved it
    assert moved.title == f"Growth: draft the proposal — toward: {GOAL}"
    # Booking again finds the title current: nothing to retitle.
    tasks.book_plan(plan_id, str(WEEK))
    assert count(runtime, AuditEntry, action="retitle_block") == 0

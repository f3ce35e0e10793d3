"""Weekly bookings claimed together (a leader catching up, a slot many plans share) are booked
through the batch path: their database reads done together, each run ending as its own would."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import event, select
from sqlalchemy.engine import Engine

from app import tasks
from app.db.models import BookingJob, BookingJobState, WeeklyClaim
from app.db.session import transaction
from app.domain.plan import PlanSpec
from app.runtime import Runtime
from app.services.accounts.rows import add_account
from app.services.people.users import create_user
from app.services.planning.plans import create_plan
from connectors.errors import ReauthRequired
from tests.support.claims import _settle
from tests.support.world import FakeClock, MemoryWorld

PEOPLE = ("ada@corp.example", "bo@corp.example", "cy@corp.example")


def make_plans(rt: Runtime, world: MemoryWorld) -> list[int]:
    """One plan each, booked weekly on Sunday 18:00 in Berlin (the fixture clock is Monday)."""
    ids = []
    with transaction(rt.sessions) as session:
        for email in PEOPLE:
            user, _ = create_user(session, email, "Europe/Berlin")
            add_account(session, user, "memory", email, world.store(email).calendars())
            spec = {"goal": "Learn Rust", "book_at": {"day": "sun", "time": "18:00"}}
            ids.append(create_plan(session, user, PlanSpec.model_validate(spec)).id)
    return ids


def runs(rt: Runtime) -> dict[int, BookingJob]:
    with rt.sessions() as session:
        return {r.plan_id: r for r in session.scalars(select(BookingJob))}


@contextmanager
def statements(engine: Engine, *, every_thread: bool = False) -> Iterator[list[str]]:
    seen: list[str] = []

    def record(*args: Any) -> None:
        if every_thread or threading.current_thread() is threading.main_thread():
            seen.append(args[2])

    event.listen(engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", record)


def test_runs_booked_together_read_the_people_once_and_end_as_their_own(
    runtime: Runtime, world: MemoryWorld, clock: FakeClock
) -> None:
    plans = make_plans(runtime, world)
    claimed = [tasks.claim_weekly(p, clock(), enqueue=False) for p in plans]
    assert all(claimed)
    with statements(runtime.engine) as seen:
        assert tasks.run_bookings_together([r for r in claimed if r is not None]) == 3
    done = runs(runtime)
    weeks = {w for p in plans for w in done[p].weeks}
    # the per-plan path reads each person on its own, week after week (plans x weeks); the
    # batch reads everybody in one query per week
    assert len([s for s in seen if "FROM users" in s]) == len(weeks) < len(plans) * len(weeks)
    assert {done[p].state for p in plans} == {BookingJobState.DONE}
    assert all(len(done[p].detail["reports"]) >= 1 for p in plans)
    for email in PEOPLE:
        assert len([e for e in world.store(email).events("primary") if e.tag]) >= 2
    # runs no longer queued are left alone
    assert tasks.run_bookings_together([r for r in claimed if r is not None]) == 0


def test_catch_up_books_many_together_and_a_blocked_plan_alone_is_blocked(
    runtime: Runtime, world: MemoryWorld
) -> None:
    plans = make_plans(runtime, world)
    world.store(PEOPLE[1]).fail_next("list_events", ReauthRequired("grant revoked"))
    with statements(runtime.engine, every_thread=True) as seen:
        assert tasks.catch_up_weekly() == 3
        _settle(runtime)
    # through the batch path: the people of all three plans read in one query
    assert any("FROM users" in s and "users.id IN" in s for s in seen)
    done = runs(runtime)
    assert done[plans[0]].state == BookingJobState.DONE
    assert done[plans[2]].state == BookingJobState.DONE
    assert done[plans[1]].state == BookingJobState.BLOCKED
    assert "reconnect" in done[plans[1]].detail["reason"]
    assert not [e for e in world.store(PEOPLE[1]).events("primary") if e.tag]
    with runtime.sessions() as session:  # claimed exactly once each
        assert len(list(session.scalars(select(WeeklyClaim)))) == 3
    assert tasks.catch_up_weekly() == 0


def test_weekly_jobs_that_fire_together_are_booked_together(
    runtime: Runtime, world: MemoryWorld
) -> None:
    plans = make_plans(runtime, world)  # all three share Sunday 18:00 in Berlin
    with statements(runtime.engine, every_thread=True) as seen:
        for plan_id in plans:  # the scheduler fires each plan's job at the slot
            tasks.scheduled_booking(plan_id)
        _settle(runtime)
    # one batch: the three people read in one query, where one job each reads them one by one
    assert any("FROM users" in s and "users.id IN" in s for s in seen)
    done = runs(runtime)
    assert {done[p].state for p in plans} == {BookingJobState.DONE}
    for email in PEOPLE:
        assert len([e for e in world.store(email).events("primary") if e.tag]) >= 2


def test_a_weekly_job_that_fires_alone_is_booked_as_its_own_run(
    runtime: Runtime, world: MemoryWorld
) -> None:
    [first, *_] = make_plans(runtime, world)
    with statements(runtime.engine, every_thread=True) as seen:
        tasks.scheduled_booking(first)
        _settle(runtime)
    assert not any("users.id IN" in s for s in seen)
    assert runs(runtime)[first].state == BookingJobState.DONE
    assert len([e for e in world.store(PEOPLE[0]).events("primary") if e.tag]) >= 2

"""The in-process scheduler: weekly jobs in the user's zone, surviving restarts exactly once."""

from __future__ import annotations

import pickle
import threading
import time
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from apscheduler.events import EVENT_JOB_EXECUTED
from sqlalchemy import Engine, select, text

from app.db.models import Block
from app.runtime import Runtime
from app.scheduler import JobScheduler, WeeklySlot, job_id, weekly_slots
from tests.support.scheduling import make_plan
from tests.support.world import MemoryWorld


def backdate_job(engine: Engine, jid: str, when: datetime) -> None:
    """Edit the persisted job the way an outage leaves it: its next run lies in the past."""
    with engine.begin() as connection:
        state = pickle.loads(
            connection.execute(
                text("SELECT job_state FROM apscheduler_jobs WHERE id = :id"), {"id": jid}
            ).scalar_one()
        )
        state["next_run_time"] = when
        connection.execute(
            text("UPDATE apscheduler_jobs SET job_state = :s, next_run_time = :t WHERE id = :id"),
            {"s": pickle.dumps(state), "t": when.timestamp(), "id": jid},
        )


def slots(rt: Runtime) -> list[WeeklySlot]:
    with rt.sessions() as session:
        return weekly_slots(session)


def test_weekly_job_fires_at_the_users_local_time(
    runtime: Runtime, world: MemoryWorld, engine: Engine
):
    plan_id = make_plan(
        runtime, world, "Australia/Lord_Howe", book_at={"day": "sun", "time": "18:00"}
    )
    scheduler = JobScheduler(engine)
    scheduler.start(paused=True)
    try:
        scheduler.sync(slots(runtime))
        next_run = scheduler.next_run(plan_id)
    finally:
        scheduler.shutdown()
    assert next_run is not None
    local = next_run.astimezone(ZoneInfo("Australia/Lord_Howe"))
    assert (local.weekday(), local.hour, local.minute) == (6, 18, 0)


def test_restart_keeps_one_job_and_its_next_run(
    runtime: Runtime, world: MemoryWorld, engine: Engine
):
    plan_id = make_plan(runtime, world, "Asia/Kolkata")
    first = JobScheduler(engine)
    first.start(paused=True)
    first.sync(slots(runtime))
    before = first.next_run(plan_id)
    first.shutdown()

    second = JobScheduler(engine)
    second.start(paused=True)
    try:
        second.sync(slots(runtime))
        jobs = [jid for jid, _ in second.jobs() if jid == job_id(plan_id)]
        assert jobs == [job_id(plan_id)]
        assert second.next_run(plan_id) == before
    finally:
        second.shutdown()


def test_a_run_missed_while_down_fires_once_after_restart(
    runtime: Runtime, world: MemoryWorld, engine: Engine
):
    plan_id = make_plan(runtime, world, "America/St_Johns")
    first = JobScheduler(engine)
    first.start(paused=True)
    first.sync(slots(runtime))
    first.shutdown()
    # While nothing runs, the stored job falls due twice over (the process was down 8 days).
    backdate_job(engine, job_id(plan_id), datetime.now(UTC) - timedelta(days=8))

    executed: list[str] = []
    done = threading.Event()

    def on_run(event: object) -> None:
        executed.append(getattr(event, "job_id", ""))
        done.set()

    second = JobScheduler(engine)
    second._scheduler.add_listener(on_run, EVENT_JOB_EXECUTED)
    second.start(paused=True)
    second.sync(slots(runtime))
    second.resume()
    try:
        assert done.wait(10), "the missed run did not fire"
        next_run = second.next_run(plan_id)
    finally:
        second.shutdown()

    assert executed == [job_id(plan_id)]  # coalesced: one run, not one per missed week
    assert next_run is not None and next_run > datetime.now(UTC)
    # The weekly job queues a booking run; the dispatcher carries it out.
    deadline = time.monotonic() + 10
    booked: list[Block] = []
    while not booked and time.monotonic() < deadline:
        with runtime.sessions() as session:
            booked = list(session.scalars(select(Block).where(Block.plan_id == plan_id)))
        time.sleep(0.02)
    assert booked, "the run should have booked blocks"


def test_changed_booking_time_reschedules_and_removed_plans_drop(
    runtime: Runtime, world: MemoryWorld, engine: Engine
):
    plan_id = make_plan(runtime, world, "Europe/London")
    scheduler = JobScheduler(engine)
    scheduler.start(paused=True)
    try:
        scheduler.sync(slots(runtime))
        zone = ZoneInfo("Europe/London")
        scheduler.schedule_plan(WeeklySlot(plan_id, "mon", 7, 30, zone))
        moved = scheduler.next_run(plan_id)
        assert moved is not None
        local = moved.astimezone(zone)
        assert (local.weekday(), local.hour, local.minute) == (0, 7, 30)
        scheduler.sync([])
        assert scheduler.next_run(plan_id) is None
    finally:
        scheduler.shutdown()

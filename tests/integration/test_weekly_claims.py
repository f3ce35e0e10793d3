"""Weekly bookings are claimed once per plan and week, whichever scheduler fired them and
however often (issue 14: no weekly run lost or doubled across leaders)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import select, update

from app import tasks
from app.db.models import BookingJob, BookingJobState, Plan, WeeklyClaim
from app.db.session import transaction
from app.runtime import Runtime
from app.services.booking import jobs as booking_jobs
from tests.support.claims import _settle
from tests.support.scheduling import make_plan
from tests.support.world import FakeClock, MemoryWorld


def _claims(rt: Runtime) -> list[tuple[int, str]]:
    with rt.sessions() as session:
        return [(c.plan_id, c.week) for c in session.scalars(select(WeeklyClaim))]


def _runs(rt: Runtime) -> list[list[str]]:
    with rt.sessions() as session:
        return [list(r.weeks) for r in session.scalars(select(BookingJob).order_by(BookingJob.id))]


def test_a_weekly_job_that_fires_twice_books_once(
    runtime: Runtime, world: MemoryWorld, clock: FakeClock
) -> None:
    # Monday 2027-01-11 08:00 UTC; the slot was Sunday 18:00 in Berlin (2027-W01).
    plan_id = make_plan(runtime, world, "Europe/Berlin", book_at={"day": "sun", "time": "18:00"})
    tasks.scheduled_booking(plan_id)
    tasks.scheduled_booking(plan_id)  # a second leader fires the same slot again
    assert tasks.catch_up_weekly() == 0
    assert _claims(runtime) == [(plan_id, "2027-W01")]
    assert len(_runs(runtime)) == 1

    clock.now = datetime(2027, 1, 17, 17, 1, tzinfo=UTC)  # the next Sunday, 18:01 in Berlin
    assert tasks.catch_up_weekly() == 1  # fell due with no scheduler running: not lost
    tasks.scheduled_booking(plan_id)
    assert _claims(runtime) == [(plan_id, "2027-W01"), (plan_id, "2027-W02")]
    # (The run itself may be the first one, reused while it still waits for the same weeks.)
    _settle(runtime)


def test_no_claim_before_the_slot_or_for_a_plan_newer_than_it(
    runtime: Runtime, world: MemoryWorld, clock: FakeClock
) -> None:
    plan_id = make_plan(runtime, world, "UTC", book_at={"day": "mon", "time": "09:00"})
    clock.now = datetime(2027, 1, 4, 8, 59, tzinfo=UTC)  # Monday, a minute before the slot
    with transaction(runtime.sessions) as session:  # the plan exists since the week before
        session.execute(
            update(Plan).where(Plan.id == plan_id).values(created_at=clock.now - timedelta(days=3))
        )
    assert tasks.claim_weekly(plan_id, clock.now) is None
    assert _claims(runtime) == []  # last Monday's slot is older than the plan

    clock.now = datetime(2027, 1, 4, 9, 0, tzinfo=UTC)
    assert tasks.claim_weekly(plan_id, clock.now) is not None
    assert _claims(runtime) == [(plan_id, "2027-W01")]
    _settle(runtime)


def test_an_inactive_plan_is_never_claimed(
    runtime: Runtime, world: MemoryWorld, clock: FakeClock
) -> None:
    plan_id = make_plan(runtime, world, "UTC")
    with transaction(runtime.sessions) as session:
        session.execute(update(Plan).where(Plan.id == plan_id).values(active=False))
    assert tasks.catch_up_weekly() == 0
    tasks.scheduled_booking(plan_id)
    assert _claims(runtime) == [] and _runs(runtime) == []


def test_stalled_booking_runs_are_queued_again(
    runtime: Runtime, world: MemoryWorld, clock: FakeClock
) -> None:
    plan_id = make_plan(runtime, world, "UTC")
    with transaction(runtime.sessions) as session:
        plan = session.get_one(Plan, plan_id)
        old = booking_jobs.request_run(session, plan, ["2027-W03"], clock.now - timedelta(hours=1))
        fresh = booking_jobs.request_run(session, plan, ["2027-W04"], clock.now)
        overdue = booking_jobs.request_run(session, plan, ["2027-W05"], clock.now)
        overdue.state = BookingJobState.RETRYING
        overdue.next_attempt_at = clock.now - timedelta(minutes=10)
        ids = {"old": old.id, "fresh": fresh.id, "overdue": overdue.id}
    assert tasks.resume_stalled_bookings() == 2

    _settle(runtime, leave=frozenset({ids["fresh"]}))

    def state(run_id: int) -> str:
        with runtime.sessions() as session:
            return session.get_one(BookingJob, run_id).state

    assert (state(ids["old"]), state(ids["overdue"])) == (BookingJobState.DONE,) * 2
    assert state(ids["fresh"]) == BookingJobState.QUEUED  # not stalled: left alone

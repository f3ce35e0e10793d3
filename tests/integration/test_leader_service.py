"""What the scheduler leader runs (app.leader.SchedulerService), in one process: the weekly
jobs and the sweeps, queued for workers; missed weeks caught up; a dead scheduler restarted."""

from __future__ import annotations

from sqlalchemy import select

from app.db.models import WeeklyClaim
from app.leader import SchedulerService
from app.runtime import Runtime
from app.scheduler import QUEUED_JOB, SCALED_JOBS, job_id
from tests.support.claims import _settle
from tests.support.scheduling import make_plan
from tests.support.world import MemoryWorld


def test_the_leader_schedules_catches_up_and_keeps_its_scheduler_alive(
    runtime: Runtime, world: MemoryWorld
) -> None:
    plan_id = make_plan(runtime, world, "UTC", book_at={"day": "sun", "time": "18:00"})
    service = SchedulerService(runtime)
    service.lead()
    try:
        scheduler = service._scheduler
        assert scheduler is not None and scheduler.alive()
        jobs = {job.id: job for job in scheduler._scheduler.get_jobs()}
        assert job_id(plan_id) in jobs and set(SCALED_JOBS) <= set(jobs)
        sweep = jobs["deliver-notifications"]
        assert (sweep.func_ref, sweep.args) == (QUEUED_JOB, ("app.tasks:deliver_notifications",))
        with runtime.sessions() as session:  # the fake clock's Monday: Sunday's run was missed
            assert session.scalars(select(WeeklyClaim.week)).all() == ["2027-W01"]

        scheduler._scheduler.shutdown(wait=False)  # its thread dies
        assert not scheduler.alive()
        service.check()
        assert scheduler.alive()
    finally:
        service.stand_down()
        _settle(runtime)  # the caught-up booking, before the tables are emptied
    assert not scheduler.running

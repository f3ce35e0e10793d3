"""A Celery worker SIGKILLed mid-booking: the message is delivered again (late acks) and
the booking finishes with no duplicate and no missing block (issue 14)."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select

from app import tasks
from app.db.models import BookingJob, BookingJobState
from tests.crash.harness import CrashWorld
from tests.fakes.google_server import FakeGoogle
from tests.scaled.harness import processes, start_worker, task_runs, wait_for
from tests.scaled.world import scaled_world

pytestmark = pytest.mark.postgres


def _reference(folder: Path) -> tuple[int, int]:
    """(Calendar API calls, blocks) of an undisturbed booking at this moment."""
    folder.mkdir()
    with FakeGoogle() as fake:
        world = CrashWorld(folder, fake).setup()
        calls = world.count_calls("book")
        return calls, len(world.provider_blocks())


def test_a_worker_killed_mid_booking_leaves_no_duplicate_and_no_missing_block(
    tmp_path: Path, pg_url: str, redis_url: str, queue_name: str
) -> None:
    calls, expected = _reference(tmp_path / "reference")
    assert calls >= 3 and expected >= 2, (calls, expected)
    kill_at = calls // 2 + 1  # after some blocks were created, before the last
    with (
        scaled_world(tmp_path, pg_url, redis_url, queue_name, visibility_timeout=3) as (world, rt),
        processes() as running,
    ):
        first = start_worker(world.config_path, tmp_path / "first.log")
        running.append(first)
        wait_for("the first worker", lambda: first.logged("worker ready"), running)
        world.crash.arm_kill(first.pid, kill_at, "after")  # created at Google, answer lost
        plan_id = world.crash.plan_id
        run_id = tasks.request_booking(plan_id, tasks.plan_weeks(plan_id, rt.clock()))
        assert run_id is not None
        wait_for("the kill", world.crash.kill_done, running)
        first.popen.wait(timeout=30)
        assert 0 < len(world.crash.provider_blocks()) < expected  # it died mid-booking

        second = start_worker(world.config_path, tmp_path / "second.log")
        running.append(second)

        def finished() -> bool:
            # the run is done inside the task; the worker logs the task's end just after
            with rt.sessions() as session:
                run = session.get(BookingJob, run_id)
                done = run is not None and run.state == BookingJobState.DONE
            return done and bool(task_runs(second.records(), f"book:{run_id}"))

        wait_for("the redelivered booking to finish", finished, running)
        assert [r["outcome"] for r in task_runs(second.records(), f"book:{run_id}")] == ["ok"]

        provider, rows = world.crash.provider_blocks(), world.crash.block_rows()
        assert all(n == 1 for n in provider.values()), provider
        assert all(n == 1 for n in rows.values()), rows
        assert len(provider) == expected
        assert set(provider) == set(rows)
        with rt.sessions() as session:
            states = session.scalars(select(BookingJob.state)).all()
        assert states == [BookingJobState.DONE]

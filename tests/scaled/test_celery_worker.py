"""Tasks through a real Celery worker process on Redis, with PostgreSQL (issue 14)."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from app import tasks
from app.queue import CeleryDispatcher
from tests.crash.harness import USER
from tests.fakes.google_server import Recorded
from tests.scaled.harness import processes, start_worker, task_runs, wait_for
from tests.scaled.world import scaled_world

pytestmark = pytest.mark.postgres


def _is_sync_listing(request: Recorded, calendar: str) -> bool:
    return request.method == "GET" and request.path.endswith(f"/calendars/{calendar}/events")


def test_a_webhook_burst_gives_one_sync_and_at_most_one_follow_up(
    tmp_path: Path, pg_url: str, redis_url: str, broker_url: str, queue_name: str
) -> None:
    with scaled_world(tmp_path, pg_url, redis_url, queue_name, broker_url=broker_url) as (
        world,
        rt,
    ):
        calendar_id = world.crash.calendar_id
        email = USER  # the account's primary calendar id
        entered, release = threading.Event(), threading.Event()

        def hold_first_sync(request: Recorded, phase: str) -> None:
            # The first sync's listing waits here, so the second burst arrives mid-run.
            if phase == "before" and _is_sync_listing(request, email) and not entered.is_set():
                entered.set()
                release.wait(60)

        world.fake.crash_hook = hold_first_sync
        # Burst 1, before any worker runs: one message.
        queued = [tasks.enqueue_sync(calendar_id) for _ in range(40)]
        assert queued.count(True) == 1
        assert isinstance(rt.dispatcher, CeleryDispatcher)
        assert rt.dispatcher.queue_depth() in (1, None)  # None: RabbitMQ (not counted)

        with processes() as running:
            worker = start_worker(world.config_path, tmp_path / "worker.log")
            running.append(worker)
            wait_for("the first sync to start", entered.is_set, running)
            # Burst 2, while the sync runs: exactly one follow-up is queued.
            queued = [tasks.enqueue_sync(calendar_id) for _ in range(40)]
            assert queued.count(True) == 1
            release.set()
            key = f"sync:{calendar_id}:0:0"
            wait_for(
                "both syncs to finish",
                lambda: len(task_runs(worker.records(), key)) >= 2,
                running,
            )
            assert rt.dispatcher.queue_depth() in (0, None)
            assert rt.dispatcher.redis.get(rt.dispatcher.pending_key(key)) is None

        runs = task_runs(worker.records(), key)
        assert [r["outcome"] for r in runs] == ["ok", "ok"]
        listings = [r for r in world.fake.requests if _is_sync_listing(r, email)]
        assert len(listings) == 2
        # Each run logged with its own task id (JSON logs carry it).
        assert len({r["task_id"] for r in runs}) == 2

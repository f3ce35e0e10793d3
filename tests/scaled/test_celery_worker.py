"""Tasks through a real Celery worker process on Redis, with PostgreSQL (issue 14)."""

from __future__ import annotations

import threading
from datetime import timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from app import tasks
from app.db.models import Calendar
from app.db.session import transaction
from app.main import create_app
from app.queue import CeleryDispatcher
from app.runtime import Runtime
from app.security import hash_token
from tests.crash.harness import USER
from tests.fakes.google_server import Recorded
from tests.scaled.harness import processes, start_worker, task_runs, wait_for
from tests.scaled.world import scaled_world

pytestmark = pytest.mark.postgres


def _is_sync_listing(request: Recorded, calendar: str) -> bool:
    return request.method == "GET" and request.path.endswith(f"/calendars/{calendar}/events")


def _watch(rt: Runtime, calendar_id: int) -> None:
    """The calendar has a Google push channel (as `ensure_watch` leaves it)."""
    with transaction(rt.sessions) as session:
        calendar = session.get_one(Calendar, calendar_id)
        calendar.watch_id, calendar.watch_resource_id = "chan-1", "res-1"
        calendar.watch_secret_hash = hash_token("chan-secret")
        calendar.watch_expires_at = rt.clock() + timedelta(days=7)


def _burst(client: TestClient, numbers: range) -> list[int]:
    """Google's change notifications for the channel, one per message number."""
    statuses = []
    for number in numbers:
        answer = client.post(
            "/webhooks/google",
            headers={
                "x-goog-channel-id": "chan-1",
                "x-goog-channel-token": "chan-secret",
                "x-goog-resource-id": "res-1",
                "x-goog-resource-state": "exists",
                "x-goog-message-number": str(number),
            },
        )
        statuses.append(answer.status_code)
    return statuses


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
        _watch(rt, calendar_id)
        assert isinstance(rt.dispatcher, CeleryDispatcher)
        key = f"sync:{calendar_id}:0:0"
        pending = rt.dispatcher.pending_key(key)
        web = TestClient(create_app(rt, scaled=True))  # a web replica of this runtime
        with web, processes() as running:
            # Burst 1, before any worker runs: 40 notifications, one message.
            assert set(_burst(web, range(1, 41))) == {200}
            assert rt.dispatcher.queue_depth() == 1
            first = rt.dispatcher.redis.get(pending)
            assert first is not None
            # Direct submissions (the polling sweep's path) coalesce with it the same way.
            assert not any(tasks.enqueue_sync(calendar_id) for _ in range(5))

            worker = start_worker(world.config_path, tmp_path / "worker.log")
            running.append(worker)
            wait_for("the first sync to start", entered.is_set, running)
            assert rt.dispatcher.redis.get(pending) is None  # released when the run started
            # Burst 2, while the sync runs: exactly one follow-up is queued.
            assert set(_burst(web, range(41, 81))) == {200}
            follow_up = rt.dispatcher.redis.get(pending)
            assert follow_up is not None and follow_up != first
            release.set()
            wait_for(
                "both syncs to finish",
                lambda: len(task_runs(worker.records(), key)) >= 2,
                running,
            )
            assert rt.dispatcher.queue_depth() == 0
            assert rt.dispatcher.redis.get(pending) is None

        runs = task_runs(worker.records(), key)
        assert [r["outcome"] for r in runs] == ["ok", "ok"]
        # The runs are the messages the bursts queued, each logged with its task id.
        assert [r["task_id"] for r in runs] == [first.decode(), follow_up.decode()]
        listings = [r for r in world.fake.requests if _is_sync_listing(r, email)]
        assert len(listings) == 2

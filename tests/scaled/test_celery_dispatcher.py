"""The Celery dispatcher's side of the contract, against the real Redis (no worker needed):
coalescing keys, capped countdowns, closures kept local, messages that name only our tasks."""

from __future__ import annotations

import base64
import json
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import redis
from sqlalchemy import select

from app import runtime as runtime_module
from app import tasks
from app.config import Environment, Settings
from app.db.models import Calendar
from app.db.session import transaction
from app.jobs import Job, resolve
from app.queue import CeleryDispatcher
from app.runtime import Runtime
from app.scheduler import RemoteSchedule
from app.services.accounts.rows import add_account
from app.services.people.users import create_user
from connectors.errors import RateLimited
from tests.support.world import MemoryWorld

VISIBILITY = 100


@pytest.fixture
def dispatcher(redis_url: str, queue_name: str) -> Iterator[CeleryDispatcher]:
    settings = Settings(
        _env_file=None,  # type: ignore[call-arg]
        env=Environment.TEST,
        broker_url=redis_url,
        redis_url=redis_url,
        task_queue=queue_name,
        visibility_timeout_seconds=VISIBILITY,
    )
    found = CeleryDispatcher(settings)
    yield found
    found.shutdown()


def _messages(dispatcher: CeleryDispatcher) -> list[dict[str, Any]]:
    raw = dispatcher.redis.lrange(f"{dispatcher.queue}:{dispatcher.queue}", 0, -1)
    return [json.loads(item) for item in raw]


def test_one_message_per_key_until_a_worker_starts_it(dispatcher: CeleryDispatcher) -> None:
    job = Job("app.tasks:sync_job", (5, False, False, 1))
    assert [dispatcher.submit("sync:5:0:0", job) for _ in range(10)].count(True) == 1
    (message,) = _messages(dispatcher)
    assert message["headers"]["task"] == "growthguard.run"
    dispatcher.started("sync:5:0:0", "some-other-message")  # not the key's message: kept
    assert not dispatcher.submit("sync:5:0:0", job)
    dispatcher.started("sync:5:0:0", message["headers"]["id"])
    assert dispatcher.submit("sync:5:0:0", job)  # mid-run: exactly one more
    assert not dispatcher.submit("sync:5:0:0", job)
    assert dispatcher.queue_depth() == 2


def test_a_long_retry_after_becomes_a_capped_countdown(dispatcher: CeleryDispatcher) -> None:
    before = datetime.now(UTC)
    assert dispatcher.submit("book:1", Job("app.tasks:run_booking", (1,)), delay=7200)
    after = datetime.now(UTC)
    (message,) = _messages(dispatcher)
    eta = datetime.fromisoformat(message["headers"]["eta"])
    # Half the visibility timeout: a delayed message is held unacknowledged by a worker.
    assert before + timedelta(seconds=VISIBILITY / 2) <= eta
    assert eta <= after + timedelta(seconds=VISIBILITY / 2)
    assert dispatcher.redis.ttl(dispatcher.pending_key("book:1")) > VISIBILITY / 2


def test_closures_run_here_and_plan_changes_go_to_the_queue(
    dispatcher: CeleryDispatcher, runtime: Runtime
) -> None:
    ran = threading.Event()
    assert dispatcher.submit("account-mail:1", ran.set)  # cannot travel: runs in this process
    assert ran.wait(30)
    assert _messages(dispatcher) == []

    runtime.dispatcher = dispatcher  # a web replica
    runtime_module.install(runtime)
    RemoteSchedule().plan_changed(12)
    (message,) = _messages(dispatcher)
    body = json.loads(base64.b64decode(message["body"]))
    assert body[0][:3] == ["book-now:12", "app.tasks:book_now", [12]]


def test_a_message_can_name_only_a_growthguard_task() -> None:
    assert resolve("app.tasks:run_booking").__name__ == "run_booking"
    for path in (
        "os:system",
        "app.tasks:__class__",
        "app.tasks:nonexistent",
        "app.tasks:select",
        "app.db:engine",
    ):
        with pytest.raises(ValueError, match="not a GrowthGuard task"):
            resolve(path)


def test_a_web_replica_has_no_scheduler_and_is_ready_while_the_queue_answers(
    dispatcher: CeleryDispatcher, runtime: Runtime
) -> None:
    from fastapi.testclient import TestClient

    from app.main import create_app

    runtime.dispatcher = dispatcher
    app = create_app(runtime, scaled=True)
    with TestClient(app) as client:
        assert isinstance(app.state.scheduler, RemoteSchedule)
        assert client.get("/readyz").json() == {"status": "ok"}
        reachable = dispatcher.redis
        dispatcher.redis = redis.Redis(port=1, socket_connect_timeout=1)  # the queue goes away
        try:
            answer = client.get("/readyz")
        finally:
            dispatcher.redis = reachable
        assert answer.status_code == 503
        assert "task queue unreachable" in answer.json()["status"]


def test_the_plan_lock_is_shared_through_redis_and_expires(
    dispatcher: CeleryDispatcher,
) -> None:
    key = f"{dispatcher.queue}:lock:plan:3"
    with dispatcher.lock("plan:3", seconds=30):
        assert dispatcher.redis.get(key) is not None  # every worker sees it held
        assert 0 < dispatcher.redis.ttl(key) <= 30  # and a killed holder's lock expires
        with pytest.raises(TimeoutError), dispatcher.lock("plan:3", seconds=0.2):
            pass  # another holder is refused (here: after a short wait)
    assert dispatcher.redis.get(key) is None


@pytest.mark.parametrize(("retry_after", "countdown"), [(30, 30), (7200, VISIBILITY / 2)])
def test_a_throttled_sync_becomes_a_countdown_not_a_sleep(
    dispatcher: CeleryDispatcher,
    runtime: Runtime,
    world: MemoryWorld,
    retry_after: float,
    countdown: float,
) -> None:
    with transaction(runtime.sessions) as session:
        user, _ = create_user(session, "me@corp.example", "UTC")
        store = world.store("me@corp.example")
        account = add_account(session, user, "memory", "me@corp.example", store.calendars())
        calendar_id = session.scalars(
            select(Calendar.id).where(Calendar.account_id == account.id)
        ).one()
    store.fail_next("sync", RateLimited(retry_after))
    runtime.dispatcher = dispatcher  # this process is a worker running the sync
    runtime_module.install(runtime)
    before = datetime.now(UTC)
    tasks.sync_job(calendar_id, False, False, 1)  # returns at once: nothing slept
    after = datetime.now(UTC)
    (message,) = _messages(dispatcher)
    body = json.loads(base64.b64decode(message["body"]))
    assert body[0][:3] == [
        f"sync:{calendar_id}:0:0:retry",
        "app.tasks:retry_sync",
        [calendar_id, False, False, 2],
    ]
    eta = datetime.fromisoformat(message["headers"]["eta"])
    assert before + timedelta(seconds=countdown) <= eta <= after + timedelta(seconds=countdown)

"""Parallel plan edits through a real HTTP server, with the scheduler running (issue 11 item 1).

Before the fix, 4 threads x 10 edits on SQLite deadlocked a request (holding the write lock,
waiting for the scheduler's lock) against the scheduler (holding its lock, waiting for the
write lock): 500s, connection resets, and a dead scheduler thread with /readyz still 200.
"""

from __future__ import annotations

import ctypes
import logging
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest
from sqlalchemy import Engine

from app.main import create_app
from app.runtime import build_runtime
from tests.e2e.harness import AppServer, wait_until
from tests.signups import api_token
from tests.support.settings import make_settings
from tests.support.world import FakeClock, MemoryWorld

THREADS, EDITS = 4, 10
DAYS = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]


@pytest.fixture
def served(
    db_url: str, engine: Engine, world: MemoryWorld, clock: FakeClock
) -> Iterator[tuple[AppServer, Any]]:
    settings = make_settings(db_url, scheduler_enabled=True, supervise_seconds=300)
    runtime = build_runtime(settings, connectors=world.provider(), engine=engine)
    app = create_app(runtime)
    with AppServer(app) as server:
        yield server, app


def _signup(client: httpx.Client, email: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {api_token(client, email, 'Australia/Lord_Howe')}"}


def test_parallel_plan_edits_never_fail_and_the_scheduler_lives(
    served: tuple[AppServer, Any],
) -> None:
    server, app = served
    with httpx.Client(base_url=server.base_url, timeout=60) as client:
        auth = _signup(client, "edits@corp.example")
        plan = client.post("/plans", json={"goal": "Ship it"}, headers=auth)
        assert plan.status_code == 201, plan.text
        url = f"/plans/{plan.json()['id']}"

    def edits(worker: int) -> list[int]:
        codes = []
        with httpx.Client(base_url=server.base_url, timeout=60) as own:
            for n in range(EDITS):
                # Each edit moves the weekly booking time: the scheduler reschedules every time.
                book_at = {"day": DAYS[(worker + n) % 7], "time": f"{6 + n:02d}:{15 * worker:02d}"}
                body = {"goal": f"Ship it {worker}.{n}", "book_at": book_at}
                codes.append(own.put(url, json=body, headers=auth).status_code)
        return codes

    started = time.monotonic()
    with ThreadPoolExecutor(THREADS) as pool:
        codes = [code for result in pool.map(edits, range(THREADS)) for code in result]
    elapsed = time.monotonic() - started

    assert codes == [200] * THREADS * EDITS, sorted(set(codes))
    scheduler = app.state.scheduler
    assert scheduler.alive()
    with httpx.Client(base_url=server.base_url, timeout=30) as client:
        ready = client.get("/readyz")
        assert ready.status_code == 200, ready.text
        final = client.get(url, headers=auth).json()
    # The stored weekly job follows the last saved plan (no edit was lost between the two).
    try:
        wait_until(lambda: scheduler.next_run(final["id"]) == _parse(final["next_booking_at"]), 10)
    except AssertionError:
        raise AssertionError((scheduler.next_run(final["id"]), final)) from None
    assert elapsed < 60  # generous liveness bound: the deadlock took 30 s per stuck request


def _parse(text: str) -> Any:
    from datetime import datetime

    return datetime.fromisoformat(text)


def _kill_thread(thread: threading.Thread) -> None:
    """Raise SystemExit inside `thread` (how a thread dies of an unexpected error)."""
    assert thread.ident is not None
    done = ctypes.pythonapi.PyThreadState_SetAsyncExc(
        ctypes.c_ulong(thread.ident), ctypes.py_object(SystemExit)
    )
    assert done == 1


# The killed thread's SystemExit is reported by pytest's thread hook: that is the point here.
@pytest.mark.filterwarnings("ignore::pytest.PytestUnhandledThreadExceptionWarning")
def test_readyz_is_503_while_the_scheduler_is_dead_and_the_supervisor_restarts_it(
    served: tuple[AppServer, Any], caplog: pytest.LogCaptureFixture
) -> None:
    server, app = served
    scheduler, supervisor = app.state.scheduler, app.state.supervisor
    with httpx.Client(base_url=server.base_url, timeout=30) as client:
        assert client.get("/readyz").status_code == 200

        thread = scheduler._scheduler._thread
        _kill_thread(thread)
        scheduler._scheduler.wakeup()  # the thread notices the exception once it runs again
        thread.join(timeout=10)
        assert not thread.is_alive()

        down = client.get("/readyz")
        assert down.status_code == 503
        assert "scheduler" in down.json()["status"]
        assert down.headers["retry-after"]

        with caplog.at_level(logging.ERROR, logger="app.supervise"):
            supervisor.check()  # what the watchdog thread does every few seconds
        assert any("scheduler stopped" in r.getMessage() for r in caplog.records)
        assert scheduler.alive()
        assert supervisor.restarts == {"scheduler": 1}
        assert client.get("/readyz").status_code == 200


def test_readyz_is_503_when_the_dispatcher_is_stopped(served: tuple[AppServer, Any]) -> None:
    server, app = served
    dispatcher = app.state.runtime.dispatcher
    with httpx.Client(base_url=server.base_url, timeout=30) as client:
        dispatcher._pool.shutdown(wait=True)  # a broken pool takes no more work
        down = client.get("/readyz")
        assert down.status_code == 503 and "dispatcher" in down.json()["status"]
        app.state.supervisor.check()
        assert client.get("/readyz").status_code == 200
        # The restarted dispatcher runs work again.
        ran = threading.Event()
        assert dispatcher.submit("probe", ran.set)
        assert ran.wait(5)

"""The one retry policy and the dispatcher's delayed runs (no sleeping in callers)."""

from __future__ import annotations

import threading
import time

import pytest

from app.dispatch import InProcessDispatcher
from app.tasks import RetryPolicy
from connectors.errors import NotFound, RateLimited, ReauthRequired, TransientError

POLICY = RetryPolicy(attempts=5, base_seconds=30, cap_seconds=600)


def test_the_providers_retry_after_wins_even_above_the_cap():
    assert POLICY.delay(RateLimited(retry_after=90), 1) == 90
    assert POLICY.delay(RateLimited(retry_after=3600), 2) == 3600


def test_backoff_doubles_with_jitter_and_is_capped():
    lows = [POLICY.delay(TransientError("503"), n, jitter=0.0) for n in (1, 2, 3, 4)]
    highs = [POLICY.delay(TransientError("503"), n, jitter=1.0) for n in (1, 2, 3, 4)]
    assert lows == [15, 30, 60, 120] and highs == [30, 60, 120, 240]
    assert POLICY.delay(TransientError("503"), 4, jitter=1.0) <= 600


@pytest.mark.parametrize("error", [ReauthRequired("x"), NotFound("x"), ValueError("bug")])
def test_only_transient_failures_are_retried(error: Exception):
    assert POLICY.delay(error, 1) is None


def test_retries_stop_after_the_last_attempt():
    assert POLICY.delay(TransientError("503"), 5) is None


def test_a_delayed_run_waits_and_coalesces():
    dispatcher = InProcessDispatcher(workers=1)
    ran: list[float] = []
    done = threading.Event()
    started = time.monotonic()

    def task() -> None:
        ran.append(time.monotonic() - started)
        done.set()

    try:
        assert dispatcher.submit("k", task, delay=0.3)
        assert not dispatcher.submit("k", task)  # already waiting: coalesced
        assert [key for key, _ in dispatcher.pending()] == ["k"]
        assert done.wait(5)
        assert ran[0] >= 0.25
        assert dispatcher.pending() == []
    finally:
        dispatcher.shutdown()


def test_a_dead_timer_is_restarted_and_keeps_its_delayed_runs():
    dispatcher = InProcessDispatcher(workers=1)
    done = threading.Event()
    try:
        dispatcher.submit("later", done.set, delay=1.0)
        dispatcher._pool.shutdown(wait=True)  # the pool broke
        assert not dispatcher.alive() and dispatcher.problem() is not None
        dispatcher.restart()
        assert dispatcher.alive()
        assert done.wait(5)
    finally:
        dispatcher.shutdown()

"""A throttling provider never makes a request wait (issue 13): connectors make one attempt,
requests answer at once (503 + Retry-After, or 202 with the booking job queued), and retries
are the task's business (app/tasks.py `RetryPolicy`), as a countdown, never a sleep."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime

import pytest

from app.domain.time import IsoWeek
from tests.e2e.harness import AppServer, browser, wait_until
from tests.fakes.google_server import FakeGoogle
from tests.support.e2e_google import BERLIN

RETRY_AFTER = 30


@pytest.fixture
def sleeps(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """`time.sleep` anywhere but the test's own thread raises (and is recorded): the request
    threads, the dispatcher and the connectors must not sleep on a provider."""
    real_sleep, main = time.sleep, threading.main_thread()
    seen: list[str] = []

    def guarded(seconds: float) -> None:
        if threading.current_thread() is main:
            real_sleep(seconds)
            return
        seen.append(f"{threading.current_thread().name} slept {seconds}s")
        raise AssertionError("slept while serving a request or a job")

    monkeypatch.setattr(time, "sleep", guarded)
    return seen


def test_a_throttled_provider_gets_a_503_or_a_queued_job_and_nothing_sleeps(
    fake: FakeGoogle, app_server: AppServer, sleeps: list[str]
) -> None:
    week = str(IsoWeek.containing(datetime.now(UTC), BERLIN).next())
    with browser(app_server.base_url) as client:
        assert client.get("/auth/google/start", follow_redirects=True).status_code == 200
        plan = client.post("/plans", json={"goal": "Learn Rust"}).json()
        fake.faults.fail_next(None, status=429, retry_after=RETRY_AFTER, path="/calendar/v3/")

        # Reading the calendar in a request: one attempt, then Google's hint passed on.
        preview = client.get(f"/plans/{plan['id']}/preview", params={"week": week})
        assert preview.status_code == 503, preview.text
        assert preview.headers["retry-after"] == str(RETRY_AFTER)
        assert "throttling" in preview.json()["detail"]

        # Booking in a request: queued and answered; the job meets the 429 and is put off.
        booked = client.post(f"/plans/{plan['id']}/book", params={"week": week})
        assert booked.status_code == 202, booked.text
        assert booked.json()["state"] == "queued"
        status_url = booked.headers["location"]
        run = wait_until(
            lambda: (r := client.get(status_url).json())["state"] == "retrying" and r,
            timeout=10,
        )
        assert run["attempts"] == 1
        waited = datetime.fromisoformat(run["next_attempt_at"]) - datetime.now(UTC)
        assert 0 < waited.total_seconds() <= RETRY_AFTER  # Google's Retry-After, as a countdown
    fake.faults.clear()
    assert not sleeps

"""Booking through the API answers 202 and runs in the background: wait for the outcome."""

from __future__ import annotations

import time
from typing import Any

FINISHED = {"done", "blocked", "failed"}


def wait_for_run(client: Any, status_url: str, headers: Any = None, timeout: float = 20) -> Any:
    """Poll a booking run until it finished; the run's JSON."""
    deadline = time.monotonic() + timeout
    while True:
        run = client.get(status_url, headers=headers).json()
        if run["state"] in FINISHED:
            return run
        if time.monotonic() > deadline:
            raise AssertionError(f"booking run did not finish: {run}")
        time.sleep(0.02)


def book(
    client: Any, plan_id: int, week: str | None = None, headers: Any = None, timeout: float = 20
) -> list[dict[str, Any]]:
    """POST /plans/{id}/book, wait until the run is done; its per-week reports."""
    params = {"week": week} if week is not None else None
    answer = client.post(f"/plans/{plan_id}/book", params=params, headers=headers)
    assert answer.status_code == 202, answer.text
    assert answer.headers["location"] == answer.json()["status_url"]
    run = wait_for_run(client, answer.json()["status_url"], headers, timeout)
    assert run["state"] == "done", run
    reports: list[dict[str, Any]] = run["reports"]
    return reports

"""Graph down or throttling: requests answer at once, the booking retries later (issue 11, 3).

Before: a 429 with Retry-After: 90 held a request for 90 s, and nested retries made 16 calls.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime

import pytest

from app.domain.time import IsoWeek
from tests.e2e.harness import AppServer, browser, wait_until
from tests.fakes.graph_server import FakeGraphServer
from tests.support.e2e_microsoft import BERLIN, LOGIN, USER


@pytest.mark.parametrize("status", [429, 503])
def test_a_throttling_graph_never_holds_a_request(
    fake: FakeGraphServer, app_server: AppServer, status: int
) -> None:
    with browser(app_server.base_url, {LOGIN: fake.base_url}) as client:
        assert client.get("/auth/microsoft/start", follow_redirects=True).status_code == 200
        wait_until(lambda: client.get("/accounts").json()[0]["calendars"][0]["push_active"], 5)
        plan = client.post("/plans", json={"goal": "Write the RFC"}).json()
        week = str(IsoWeek.containing(datetime.now(UTC), BERLIN).next())
        fake.faults.fail_next(None, status=status, retry_after=90, path="/me/")

        before = len(fake.graph_requests("/me/"))
        started = time.monotonic()
        preview = client.get(f"/plans/{plan['id']}/preview", params={"week": week})
        took = time.monotonic() - started
        calls = len(fake.graph_requests("/me/")) - before
        assert preview.status_code == 503, preview.text
        assert preview.headers["retry-after"] == "90"
        assert preview.json()["account"]["name"] == USER
        assert took < 1.0 and calls == 1, (took, calls)

        before = len(fake.graph_requests("/me/"))
        started = time.monotonic()
        queued = client.post(f"/plans/{plan['id']}/book", params={"week": week})
        took = time.monotonic() - started
        assert queued.status_code == 202 and took < 1.0, (queued.text, took)
        run = wait_until(
            lambda: (
                (r := client.get(queued.json()["status_url"]).json())["state"] == "retrying" and r
            ),
            timeout=5,
        )
        assert "throttl" in run["reason"].lower() or "rate" in run["reason"].lower()
        wait = datetime.fromisoformat(run["next_attempt_at"]) - datetime.now(UTC)
        assert 80 < wait.total_seconds() <= 90  # the provider's Retry-After, honoured
        assert len(fake.graph_requests("/me/")) - before == 1  # one attempt, then wait

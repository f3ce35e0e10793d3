"""A hostile invite title against a catastrophic pattern: the service keeps answering."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime

import httpx

from app.domain.time import IsoWeek
from tests.booking_helpers import book
from tests.e2e.harness import AppServer, browser, wait_until
from tests.fakes.google_server import FakeGoogle
from tests.fakes.google_store import parse_when
from tests.support.e2e_google import BERLIN, USER

# Exponential on a backtracking engine: 'a' * 40 + '!' never matches, after 2**40 attempts.
EVIL = r"^(\w+\s?)+$"
TITLE = "a" * 40 + "!"


def test_catastrophic_pattern_and_hostile_title_do_not_freeze_the_service(
    fake: FakeGoogle, app_server: AppServer
) -> None:
    with browser(app_server.base_url) as client:
        client.get("/auth/google/start", follow_redirects=True)
        wait_until(lambda: client.get("/accounts").json()[0]["calendars"][0]["push_active"], 5)
        plan = client.post("/plans", json={"goal": "Lead a cross-team project"}).json()
        policy = {
            "default": "flag",
            "rules": [{"name": "evil", "when": {"title_matches": EVIL}, "then": "decline"}],
        }
        saved = client.put(f"/plans/{plan['id']}/policy", json=policy)
        assert saved.status_code == 200, saved.text
        week = IsoWeek.containing(datetime.now(UTC), BERLIN).plus(2)
        book(client, plan["id"], str(week))
        block = min(
            (e for e in fake.events(USER) if e.get("extendedProperties")),
            key=lambda e: parse_when(e["start"]),
        )

        slowest = [0.0]
        stop = threading.Event()

        def probe() -> None:
            # A separate connection: /healthz must answer while the invite is being decided.
            with httpx.Client(base_url=app_server.base_url, timeout=5.0) as health:
                while not stop.is_set():
                    started = time.monotonic()
                    answer = health.get("/healthz")
                    assert answer.status_code == 200
                    slowest[0] = max(slowest[0], time.monotonic() - started)
                    time.sleep(0.02)

        prober = threading.Thread(target=probe, daemon=True)
        prober.start()
        try:
            fake.insert_invite(
                USER,
                TITLE,
                parse_when(block["start"]),
                parse_when(block["end"]),
                organizer="stranger@elsewhere.example",
                attendee_count=3,
            )

            def decided() -> dict | None:
                for conflict in client.get("/conflicts", timeout=5.0).json():
                    if conflict["decision"] and conflict["event"]["title"] == TITLE:
                        return conflict
                return None

            conflict = wait_until(decided, timeout=10)
        finally:
            stop.set()
            prober.join(timeout=10)
        # The rule did not match (no decline), the default decided, and nothing stalled.
        assert conflict["decision"]["action"] == "flag"
        assert slowest[0] < 1.0, f"/healthz took {slowest[0]:.2f} s"

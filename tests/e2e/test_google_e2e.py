"""Google, end to end over HTTP: connect, book, an invite lands on a block, push, sync."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import Engine

from app.domain.time import IsoWeek
from app.main import create_app
from app.providers import Providers
from app.runtime import build_runtime
from connectors.google.oauth import GoogleConfig
from tests.conftest import make_settings
from tests.e2e.harness import PUBLIC_URL, AppServer, browser, wait_until
from tests.fakes.google_server import CLIENT_ID, CLIENT_SECRET, FakeGoogle
from tests.fakes.google_store import parse_when

USER = "ann@corp.example"
BERLIN = ZoneInfo("Europe/Berlin")


@pytest.fixture
def fake() -> Iterator[FakeGoogle]:
    with FakeGoogle(redirect_uris=(f"{PUBLIC_URL}/auth/google/callback",)) as server:
        server.add_account(USER, workspace=True, time_zone="Europe/Berlin")
        server.set_consent(USER)
        yield server


@pytest.fixture
def app_server(
    fake: FakeGoogle, db_url: str, engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> Iterator[AppServer]:
    monkeypatch.setenv("OAUTHLIB_INSECURE_TRANSPORT", "1")  # the fake speaks plain http
    settings = make_settings(
        db_url,
        public_url=PUBLIC_URL,
        google_client_id=CLIENT_ID,
        google_client_secret=CLIENT_SECRET,
    )
    base = fake.base_url
    providers = Providers(
        google=GoogleConfig(
            client_id=CLIENT_ID,
            client_secret=CLIENT_SECRET,
            redirect_uri=settings.redirect_uri("google"),
            auth_uri=f"{base}/o/oauth2/auth",
            token_uri=f"{base}/token",
            revoke_uri=f"{base}/revoke",
            userinfo_uri=f"{base}/v1/userinfo",
            api_endpoint=f"{base}/calendar/v3/",
        )
    )
    runtime = build_runtime(settings, engine=engine, providers=providers)
    with AppServer(create_app(runtime, scheduler=False)) as server:
        fake.deliver_to(server.base_url)
        yield server


def test_connect_book_invite_push_sync(fake: FakeGoogle, app_server: AppServer) -> None:
    with browser(app_server.base_url) as client:
        # 1. Connect through the real redirect dance (PKCE, state bound to this browser).
        page = client.get("/auth/google/start", follow_redirects=True)
        assert page.status_code == 200 and USER in page.text, page.text
        assert "Connect Google Calendar" in page.text

        # 2. Calendars are listed; the primary is the target; push gets set up.
        accounts = wait_until(
            lambda: [a for a in client.get("/accounts").json() if a["calendars"][0]["push_active"]],
            timeout=5,
        )
        calendar = accounts[0]["calendars"][0]
        assert (accounts[0]["provider"], accounts[0]["status"]) == ("google", "ok")
        assert calendar["is_primary"] and calendar["is_target"] and calendar["is_busy_source"]
        assert fake.channels()

        # 3. Book next week.
        plan = client.post("/plans", json={"goal": "Lead a cross-team project"}).json()
        week = IsoWeek.containing(datetime.now(UTC), BERLIN).next()
        booked = client.post(f"/plans/{plan['id']}/book", params={"week": str(week)})
        assert booked.status_code == 200, booked.text
        assert len(booked.json()[0]["created"]) == 2

        # 4. The blocks exist at Google, tagged.
        blocks = [e for e in fake.events(USER) if e.get("extendedProperties")]
        assert len(blocks) == 2
        for event in blocks:
            private = event["extendedProperties"]["private"]
            assert str(plan["id"]) in private.values()
            assert event["transparency"] == "opaque"

        # 5. An invite lands on the first block; Google pushes; the service syncs.
        first = min(blocks, key=lambda e: parse_when(e["start"]))
        start, end = parse_when(first["start"]), parse_when(first["end"])
        sent = time.monotonic()
        invite_id = fake.insert_invite(USER, "Quarterly all-hands", start, end, attendee_count=12)

        def seen() -> bool:
            events = client.get(f"/calendars/{calendar['id']}/events").json()
            return any(e["provider_event_id"] == invite_id for e in events)

        wait_until(seen, timeout=1.0)
        elapsed = time.monotonic() - sent
        assert elapsed < 1.0
        invite = next(
            e
            for e in client.get(f"/calendars/{calendar['id']}/events").json()
            if e["provider_event_id"] == invite_id
        )
        assert invite["self_response"] == "needsAction" and invite["attendee_count"] == 12
        assert invite["start"].startswith(start.astimezone(UTC).strftime("%Y-%m-%dT%H:%M"))

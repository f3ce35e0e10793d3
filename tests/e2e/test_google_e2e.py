"""Google, end to end over HTTP: connect, book, an invite lands on a block, push, sync."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import Engine, text

from app import tasks
from app.domain.time import IsoWeek
from tests.booking_helpers import book
from tests.e2e.harness import AppServer, browser, wait_until
from tests.fakes.google_server import FakeGoogle
from tests.fakes.google_store import parse_when
from tests.support.e2e_google import BERLIN, USER


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
        booked = book(client, plan["id"], str(week))
        assert len(booked[0]["created"]) == 2

        # 4. The blocks exist at Google, tagged.
        blocks = [e for e in fake.events(USER) if e.get("extendedProperties")]
        assert len(blocks) == 2
        for event in blocks:
            private = event["extendedProperties"]["private"]
            assert str(plan["id"]) in private.values()
            assert event["transparency"] == "opaque"
            assert event["eventType"] == "focusTime"  # a Workspace primary calendar
            assert event["focusTimeProperties"]["autoDeclineMode"] == "declineNone"

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


def _connect(client) -> dict:
    page = client.get("/auth/google/start", follow_redirects=True)
    assert page.status_code == 200, page.text
    return client.get("/accounts").json()[0]


def _refresh_tokens(fake: FakeGoogle) -> list[str]:
    with fake.lock:
        return [token for token, grant in fake.oauth._grants.items() if grant.email == USER]


def test_a_replayed_callback_is_rejected(fake: FakeGoogle, app_server: AppServer) -> None:
    with browser(app_server.base_url) as client:
        page = client.get("/auth/google/start", follow_redirects=True)
        callback = next(r for r in page.history if "/auth/google/callback" in str(r.url))
        replay = client.get(str(callback.url))
        assert replay.status_code == 400 and "already used" in replay.text


def test_a_state_from_another_browser_is_rejected(fake: FakeGoogle, app_server: AppServer) -> None:
    with browser(app_server.base_url) as victim, browser(app_server.base_url) as attacker:
        # The attacker starts a sign-in and gets the victim's browser to finish it.
        to_provider = attacker.get("/auth/google/start")
        to_callback = attacker.get(to_provider.headers["location"])
        finished = victim.get(to_callback.headers["location"])
        assert finished.status_code == 400 and "another browser" in finished.text
        assert victim.get("/accounts").status_code == 401


def test_missing_calendar_permission_explains_what_to_grant(
    fake: FakeGoogle, app_server: AppServer
) -> None:
    fake.set_consent(USER, scopes=["openid", "https://www.googleapis.com/auth/userinfo.email"])
    with browser(app_server.base_url) as client:
        page = client.get("/auth/google/start", follow_redirects=True)
        assert page.status_code == 400
        assert "calendar.events" in page.text and "Connect again" in page.text


def test_credentials_are_encrypted_at_rest(
    fake: FakeGoogle, app_server: AppServer, engine: Engine, db_url: str
) -> None:
    with browser(app_server.base_url) as client:
        _connect(client)
    tokens = _refresh_tokens(fake)
    assert tokens
    with engine.connect() as connection:
        stored = connection.execute(text("SELECT credentials FROM accounts")).scalar_one()
    assert stored and not any(t.encode() in bytes(stored) for t in tokens)
    if db_url.startswith("sqlite:///"):
        path = Path(db_url.removeprefix("sqlite:///"))
        raw = b"".join(p.read_bytes() for p in path.parent.glob(path.name + "*"))
        assert not any(t.encode() in raw for t in tokens)


def test_revoked_grant_marks_the_account_and_notifies(
    fake: FakeGoogle, app_server: AppServer
) -> None:
    with browser(app_server.base_url) as client:
        account = _connect(client)
        calendar_id = account["calendars"][0]["id"]
        wait_until(lambda: client.get("/accounts").json()[0]["calendars"][0]["push_active"], 5)
        fake.revoke_grant(USER)
        fake.expire_access_tokens(USER)
        assert client.post(f"/calendars/{calendar_id}/sync").status_code == 202
        status = wait_until(
            lambda: client.get("/accounts").json()[0]["status"] == "needs_reauth", timeout=5
        )
        assert status
        kinds = [n["kind"] for n in client.get("/notifications").json()]
        assert "account.needs_reauth" in kinds
        page = client.get("/dashboard/accounts")
        assert "needs reauth" in page.text and "Reconnect" in page.text


def test_forged_push_is_rejected_over_http(fake: FakeGoogle, app_server: AppServer) -> None:
    with browser(app_server.base_url) as client:
        _connect(client)
        wait_until(lambda: fake.channels(), timeout=5)
        channel = fake.channels()[0]
        forged = client.post(
            "/webhooks/google",
            headers={
                "X-Goog-Channel-ID": channel,
                "X-Goog-Channel-Token": "guessed",
                "X-Goog-Message-Number": "99",
                "X-Goog-Resource-State": "exists",
            },
        )
        assert forged.status_code == 403
        unknown = client.post("/webhooks/google", headers={"X-Goog-Channel-ID": "nope"})
        assert unknown.status_code == 404


def test_disconnect_revokes_and_deletes_the_credential(
    fake: FakeGoogle, app_server: AppServer, engine: Engine
) -> None:
    with browser(app_server.base_url) as client:
        account = _connect(client)
        wait_until(lambda: fake.channels(), timeout=5)
        tokens = _refresh_tokens(fake)
        gone = client.delete(f"/accounts/{account['id']}")
        assert gone.status_code == 200 and gone.json()["status"] == "disconnected"
    with fake.lock:
        assert all(fake.oauth._grants[t].revoked for t in tokens)
    assert fake.channels() == []
    with engine.connect() as connection:
        assert connection.execute(text("SELECT credentials FROM accounts")).scalar_one() is None


def test_channels_are_replaced_before_they_expire(
    fake: FakeGoogle, app_server: AppServer, engine: Engine
) -> None:
    with browser(app_server.base_url) as client:
        _connect(client)
        old = wait_until(lambda: fake.channels(), timeout=5)[0]
    with engine.begin() as connection:
        connection.execute(
            text("UPDATE calendars SET watch_expires_at = :soon"),
            {"soon": datetime.now(UTC) + timedelta(hours=2)},
        )
    assert tasks.renew_watches() == 1
    channels = fake.channels()
    assert len(channels) == 1 and channels[0] != old  # the new one opened, the old one stopped
    with engine.connect() as connection:
        assert (
            connection.execute(text("SELECT watch_id FROM calendars")).scalar_one() == channels[0]
        )
    assert tasks.renew_watches() == 0  # fresh channels are left alone


def test_consumer_accounts_fall_back_to_plain_blocks_and_remember(
    fake: FakeGoogle, app_server: AppServer, engine: Engine
) -> None:
    consumer = "joe@gmail.example"
    fake.add_account(consumer, workspace=False, time_zone="Europe/Berlin")
    fake.set_consent(consumer)
    with browser(app_server.base_url) as client:
        client.get("/auth/google/start", follow_redirects=True)
        plan = client.post("/plans", json={"goal": "Learn Rust"}).json()
        week = IsoWeek.containing(datetime.now(UTC), BERLIN).next()
        for offset in (0, 1):
            booked = book(client, plan["id"], str(week.plus(offset)))
            assert len(booked[0]["created"]) == 2
    blocks = [e for e in fake.events(consumer) if e.get("extendedProperties")]
    assert len(blocks) == 4 and all(e.get("eventType", "default") == "default" for e in blocks)
    with engine.connect() as connection:
        assert connection.execute(text("SELECT focus_time_unsupported FROM calendars")).scalar_one()
    focus_attempts = [
        r
        for r in fake.requests
        if r.method == "POST" and (r.json or {}).get("eventType") == "focusTime"
    ]
    assert len(focus_attempts) == 1  # refused once, never tried again

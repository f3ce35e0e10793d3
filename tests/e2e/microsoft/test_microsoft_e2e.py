"""Microsoft 365, end to end over HTTP: connect with MSAL, book, invite, notification, delta."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

from sqlalchemy import Engine, text

from app.domain.time import IsoWeek
from tests.booking_helpers import book
from tests.e2e.harness import AppServer, browser, wait_until
from tests.fakes.graph_server import FakeGraphServer
from tests.support.e2e_microsoft import BERLIN, LOGIN, USER


def test_connect_book_invite_notification_delta(
    fake: FakeGraphServer, app_server: AppServer
) -> None:
    with browser(app_server.base_url, {LOGIN: fake.base_url}) as client:
        page = client.get("/auth/microsoft/start", follow_redirects=True)
        assert page.status_code == 200 and USER in page.text, page.text
        assert "Connect Outlook / Microsoft 365" in page.text

        accounts = wait_until(
            lambda: [a for a in client.get("/accounts").json() if a["calendars"][0]["push_active"]],
            timeout=5,
        )
        calendar = accounts[0]["calendars"][0]
        assert (accounts[0]["provider"], accounts[0]["status"]) == ("microsoft", "ok")
        assert calendar["is_target"] and calendar["is_busy_source"]

        plan = client.post("/plans", json={"goal": "Write the architecture RFC"}).json()
        week = IsoWeek.containing(datetime.now(UTC), BERLIN).next()
        booked = book(client, plan["id"], str(week))
        assert len(booked[0]["created"]) == 2

        cal_id = fake.calendar_id(USER)
        blocks = [e for e in fake.events(USER, cal_id) if e.ext]
        assert len(blocks) == 2
        assert all("Growth" in e.categories and e.show_as == "busy" for e in blocks)

        first = min(blocks, key=lambda e: e.start)
        sent = time.monotonic()
        invite_id = fake.insert_invite(
            USER,
            cal_id,
            "Budget review",
            first.start,
            first.end,
            "cfo@contoso.example",
            attendees=[f"p{n}@contoso.example" for n in range(9)],
        )

        def seen() -> bool:
            events = client.get(f"/calendars/{calendar['id']}/events").json()
            return any(e["provider_event_id"] == invite_id for e in events)

        wait_until(seen, timeout=1.0)
        assert time.monotonic() - sent < 1.0


def _connect(client) -> dict:
    page = client.get("/auth/microsoft/start", follow_redirects=True)
    assert page.status_code == 200, page.text
    return wait_until(
        lambda: [a for a in client.get("/accounts").json() if a["calendars"][0]["push_active"]],
        timeout=5,
    )[0]


def test_validation_handshake_and_forged_client_state(
    fake: FakeGraphServer, app_server: AppServer
) -> None:
    with browser(app_server.base_url, {LOGIN: fake.base_url}) as client:
        handshake = client.post("/webhooks/microsoft", params={"validationToken": "a b&c"})
        assert handshake.status_code == 200 and handshake.text == "a b&c"
        assert handshake.headers["content-type"].startswith("text/plain")
        _connect(client)
        forged = client.post(
            "/webhooks/microsoft",
            json={"value": [{"subscriptionId": _subscription_id(fake), "clientState": "forged"}]},
        )
        assert forged.status_code == 403


def _subscription_id(fake: FakeGraphServer) -> str:
    subscriptions = list(fake.push.subscriptions)
    assert len(subscriptions) == 1
    return str(subscriptions[0])


def test_subscription_removed_is_recreated_and_resynced(
    fake: FakeGraphServer, app_server: AppServer
) -> None:
    with browser(app_server.base_url, {LOGIN: fake.base_url}) as client:
        _connect(client)
        old = _subscription_id(fake)
        fake.send_lifecycle(old, "subscriptionRemoved")
        new = wait_until(lambda: set(fake.push.subscriptions) - {old}, timeout=5)
        assert len(new) == 1


def test_token_cache_is_encrypted_at_rest(
    fake: FakeGraphServer, app_server: AppServer, engine: Engine
) -> None:
    with browser(app_server.base_url, {LOGIN: fake.base_url}) as client:
        _connect(client)
    with engine.connect() as connection:
        stored = bytes(connection.execute(text("SELECT credentials FROM accounts")).scalar_one())
    refresh_tokens = list(fake.identity.refresh_tokens)
    assert refresh_tokens
    assert not any(token.encode() in stored for token in refresh_tokens)
    assert b"RefreshToken" not in stored and b"AccessToken" not in stored


def test_missed_notifications_trigger_one_full_resync(
    fake: FakeGraphServer, app_server: AppServer
) -> None:
    with browser(app_server.base_url, {LOGIN: fake.base_url}) as client:
        account = _connect(client)
        calendar_id = account["calendars"][0]["id"]
        sub = _subscription_id(fake)
        # A change Graph failed to notify us about (the subscription is silent meanwhile).
        silent = fake.push.subscriptions.pop(sub)
        start = datetime.now(UTC).replace(microsecond=0) + timedelta(days=2)
        fake.add_event(USER, fake.calendar_id(USER), "Unnoticed", start, start + timedelta(hours=1))
        fake.push.subscriptions[sub] = silent

        def full_syncs() -> int:
            return len(
                [
                    r
                    for r in fake.graph_requests("/calendarView/delta")
                    if "startDateTime" in r.query
                ]
            )

        before = full_syncs()
        fake.send_lifecycle(sub, "missed")
        wait_until(
            lambda: any(
                e["title"] == "Unnoticed"
                for e in client.get(f"/calendars/{calendar_id}/events").json()
            ),
            timeout=5,
        )
        assert full_syncs() == before + 1
        # Graph redelivers the same lifecycle event: no second full resync, an incremental one.
        deltas = len(fake.graph_requests("/calendarView/delta"))
        fake.send_lifecycle(sub, "missed")
        wait_until(lambda: len(fake.graph_requests("/calendarView/delta")) > deltas, timeout=5)
        time.sleep(0.2)
        assert full_syncs() == before + 1

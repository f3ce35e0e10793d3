"""A short-notice invite is flagged: the person gets an email (real SMTP server) and a signed
webhook (local receiver), and the meeting is left alone."""

from __future__ import annotations

import hashlib
import hmac
import json
from datetime import UTC, datetime

import pytest

from app.domain.time import IsoWeek
from tests.booking_helpers import book
from tests.e2e.harness import AppServer, browser, wait_until
from tests.fakes.google_server import FakeGoogle
from tests.fakes.google_store import parse_when
from tests.fakes.receivers import Inbox, Receiver
from tests.support.e2e_google import BERLIN, USER


@pytest.fixture
def extra_settings(inbox: tuple[Inbox, int]) -> dict[str, object]:
    return {
        "smtp_host": "127.0.0.1",
        "smtp_port": inbox[1],
        "smtp_starttls": False,
        "smtp_sender": "growthguard@gg.test",
    }


def test_short_notice_invite_is_flagged_by_email_and_signed_webhook(
    fake: FakeGoogle, app_server: AppServer, inbox: tuple[Inbox, int], receiver: Receiver
) -> None:
    with browser(app_server.base_url) as client:
        client.get("/auth/google/start", follow_redirects=True)
        wait_until(lambda: client.get("/accounts").json()[0]["calendars"][0]["push_active"], 5)
        email = client.post("/notification-channels", json={"kind": "email", "target": USER})
        hook = client.post(
            "/notification-channels",
            json={"kind": "webhook", "target": f"{receiver.base_url}/hooks/gg"},
        )
        assert email.status_code == 201 and hook.status_code == 201, hook.text
        secret = hook.json()["secret"]
        plan = client.post("/plans", json={"goal": "Ship the RFC"}).json()
        policy = {
            "default": "decline",
            "rules": [
                {"name": "short notice", "when": {"starts_within_hours": 720}, "then": "flag"}
            ],
        }
        assert client.put(f"/plans/{plan['id']}/policy", json=policy).status_code == 200
        week = IsoWeek.containing(datetime.now(UTC), BERLIN).plus(2)
        book(client, plan["id"], str(week))
        block = min(
            (e for e in fake.events(USER) if e.get("extendedProperties")),
            key=lambda e: parse_when(e["start"]),
        )
        invite_id = fake.insert_invite(
            USER,
            "Incident review",
            parse_when(block["start"]),
            parse_when(block["end"]),
            attendee_count=15,
        )

        messages = wait_until(lambda: inbox[0].messages, timeout=10)
        hooks = wait_until(lambda: receiver.requests, timeout=10)

    assert fake.rsvps(USER, invite_id) == []  # flagged: the meeting is untouched
    mail = messages[0]
    assert "Incident review" in mail["Subject"] or "Incident review" in mail.get_content()
    assert "short notice" in mail.get_content()
    request = hooks[0]
    expected = hmac.new(secret.encode(), request.body, hashlib.sha256).hexdigest()
    assert request.headers["x-growthguard-signature"] == f"sha256={expected}"
    body = json.loads(request.body)
    assert body["kind"] == "conflict.decided"
    assert body["payload"]["action"] == "flag" and body["payload"]["rule"] == "short notice"

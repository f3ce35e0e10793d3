"""On Microsoft 365 too: a short-notice invite is flagged with an email and a signed webhook."""

from __future__ import annotations

import hashlib
import hmac
import json
from datetime import UTC, datetime

import pytest

from app.domain.time import IsoWeek
from tests.booking_helpers import book
from tests.e2e.harness import AppServer, browser, wait_until
from tests.fakes.graph_server import FakeGraphServer
from tests.fakes.receivers import Inbox, Receiver
from tests.support.e2e_microsoft import BERLIN, LOGIN, USER


@pytest.fixture
def extra_settings(inbox: tuple[Inbox, int]) -> dict[str, object]:
    return {"smtp_host": "127.0.0.1", "smtp_port": inbox[1], "smtp_starttls": False}


def test_short_notice_invite_is_flagged_by_email_and_signed_webhook(
    fake: FakeGraphServer, app_server: AppServer, inbox: tuple[Inbox, int], receiver: Receiver
) -> None:
    with browser(app_server.base_url, {LOGIN: fake.base_url}) as client:
        client.get("/auth/microsoft/start", follow_redirects=True)
        wait_until(lambda: client.get("/accounts").json()[0]["calendars"][0]["push_active"], 5)
        client.post("/notification-channels", json={"kind": "email", "target": USER})
        hook = client.post(
            "/notification-channels",
            json={"kind": "webhook", "target": f"{receiver.base_url}/hooks/gg"},
        ).json()
        plan = client.post("/plans", json={"goal": "Write the RFC"}).json()
        policy = {
            "default": "decline",
            "rules": [
                {"name": "short notice", "when": {"starts_within_hours": 720}, "then": "flag"}
            ],
        }
        client.put(f"/plans/{plan['id']}/policy", json=policy)
        week = IsoWeek.containing(datetime.now(UTC), BERLIN).plus(2)
        book(client, plan["id"], str(week))
        cal_id = fake.calendar_id(USER)
        block = min((e for e in fake.events(USER, cal_id) if e.ext), key=lambda e: e.start)
        invite_id = fake.insert_invite(
            USER, cal_id, "Incident review", block.start, block.end, "sre@contoso.example"
        )
        messages = wait_until(lambda: inbox[0].messages, timeout=10)
        hooks = wait_until(lambda: receiver.requests, timeout=10)

    assert fake.responses(USER, invite_id) == []
    assert "short notice" in messages[0].get_content()
    body = hooks[0].body
    digest = hmac.new(hook["secret"].encode(), body, hashlib.sha256).hexdigest()
    assert hooks[0].headers["x-growthguard-signature"] == f"sha256={digest}"
    assert json.loads(body)["payload"]["action"] == "flag"

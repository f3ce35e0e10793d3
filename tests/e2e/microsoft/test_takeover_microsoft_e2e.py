"""Account takeover through Microsoft sign-in: identity is oid + tid, never the claimed email."""

from __future__ import annotations

import uuid

import pytest

from tests.e2e.harness import AppServer, browser
from tests.fakes.graph_server import FakeGraphServer
from tests.signups import browser_sign_up
from tests.support.e2e_microsoft import LOGIN, USER

PASSWORD = "victim passphrase!"


@pytest.fixture
def extra_settings() -> dict[str, object]:
    return {"dev_mailbox": True}


def test_pre_sign_up_with_my_email_never_gets_my_microsoft_calendar(
    fake: FakeGraphServer, app_server: AppServer
) -> None:
    hosts = {LOGIN: fake.base_url}
    with browser(app_server.base_url, hosts) as attacker, browser(app_server.base_url, hosts) as me:
        asked = attacker.post("/users", json={"email": USER, "timezone": "UTC"})
        stolen_token = asked.json().get("api_token") if asked.status_code < 300 else None
        page = me.get("/auth/microsoft/start", follow_redirects=True)
        assert page.status_code == 200, page.text
        assert [a["email"] for a in me.get("/accounts").json()] == [USER]
        if stolen_token:
            seen = attacker.get("/accounts", headers={"Authorization": f"Bearer {stolen_token}"})
            assert seen.status_code == 401 or seen.json() == [], seen.text


def test_another_tenant_claiming_my_email_cannot_sign_in_as_me(
    fake: FakeGraphServer, app_server: AppServer
) -> None:
    hosts = {LOGIN: fake.base_url}
    with browser(app_server.base_url, hosts) as me:
        # My local account (email proven by its link); I connect my Microsoft calendar.
        assert browser_sign_up(me, USER, PASSWORD).status_code in (200, 303)
        me_id = me.get("/users/me").json()["id"]
        assert me.get("/auth/microsoft/start", follow_redirects=True).status_code == 200
        assert [a["email"] for a in me.get("/accounts").json()] == [USER]

    # Someone else's tenant has a user whose (unverified) email claim is my address.
    someone = fake.state.user(USER)
    mine = someone.oid, someone.tid
    someone.oid, someone.tid = str(uuid.uuid4()), str(uuid.uuid4())
    with browser(app_server.base_url, hosts) as attacker:
        page = attacker.get("/auth/microsoft/start", follow_redirects=True)
        assert page.status_code == 400, page.text
        assert "sign in to it first" in page.text
        who = attacker.get("/users/me")
        assert who.status_code == 401 or who.json()["id"] != me_id, who.text

    # My own Microsoft identity still signs me in (by its subject, not by the email).
    someone.oid, someone.tid = mine
    with browser(app_server.base_url, hosts) as again:
        assert again.get("/auth/microsoft/start", follow_redirects=True).status_code == 200
        assert again.get("/users/me").json()["id"] == me_id

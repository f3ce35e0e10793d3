"""Pre-sign-up account takeover through Google: an address is never claimed by a stranger."""

from __future__ import annotations

import pytest

from tests.e2e.harness import AppServer, browser
from tests.fakes.google_server import FakeGoogle
from tests.signups import front_door_csrf
from tests.support.e2e_google import USER


@pytest.fixture
def extra_settings() -> dict[str, object]:
    return {"dev_mailbox": True}


def test_a_stranger_who_signs_up_with_my_email_never_gets_my_google_calendar(
    fake: FakeGoogle, app_server: AppServer
) -> None:
    with browser(app_server.base_url) as attacker, browser(app_server.base_url) as victim:
        # 1. The attacker signs up with the victim's address, by the API and by the form.
        asked = attacker.post("/users", json={"email": USER, "timezone": "UTC"})
        stolen_token = asked.json().get("api_token") if asked.status_code < 300 else None
        attacker.post(
            "/signup",
            data={
                "email": USER,
                "password": "attacker passphrase",
                "timezone": "UTC",
                "csrf_token": front_door_csrf(attacker),
            },
        )
        # 2. Later, the victim signs in with Google for the first time.
        page = victim.get("/auth/google/start", follow_redirects=True)
        assert page.status_code == 200, page.text
        mine = victim.get("/accounts").json()
        assert [a["email"] for a in mine] == [USER]

        # 3. Nothing the attacker holds reaches the victim's calendar.
        if stolen_token:
            seen = attacker.get("/accounts", headers={"Authorization": f"Bearer {stolen_token}"})
            assert seen.status_code == 401 or seen.json() == [], seen.text
        by_cookie = attacker.get("/accounts")
        assert by_cookie.status_code == 401 or by_cookie.json() == [], by_cookie.text
        signin = attacker.post(
            "/signin",
            data={
                "email": USER,
                "password": "attacker passphrase",
                "csrf_token": front_door_csrf(attacker),
            },
        )
        assert signin.status_code == 401
        assert attacker.get("/accounts").status_code == 401

"""The Quiet page and API through HTTP: connecting Slack with OAuth v2 against the fake Slack
(consent, state bound to the browser, code exchange by the real slack_sdk), the token stored
encrypted, quiet mode on and off, disconnecting (status put back, token revoked)."""

from __future__ import annotations

from collections.abc import Iterator
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from fastapi.testclient import TestClient
from sqlalchemy import Engine, select

from app.db.quiet_models import SlackLink
from app.main import create_app
from app.runtime import Runtime
from app.services.quiet.link import token_of
from tests.fakes.slack_server import FakeSlackServer
from tests.support.dashboard import csrf, sign_up
from tests.support.quiet import RecordingDispatcher, quiet_runtime
from tests.support.world import FakeClock, MemoryWorld


@pytest.fixture
def slack(clock: FakeClock) -> Iterator[FakeSlackServer]:
    with FakeSlackServer(clock=lambda: clock.now) as fake:
        fake.approve_as = "U1"
        fake.add_user("U1", status=("Commuting", ":train:"))
        yield fake


@pytest.fixture
def rt(
    db_url: str, engine: Engine, clock: FakeClock, world: MemoryWorld, slack: FakeSlackServer
) -> Iterator[tuple[Runtime, RecordingDispatcher]]:
    with quiet_runtime(db_url, engine, clock, world, slack) as pair:
        yield pair


@pytest.fixture
def browser(rt: tuple[Runtime, RecordingDispatcher]) -> Iterator[TestClient]:
    with TestClient(create_app(rt[0], scheduler=False), follow_redirects=False) as client:
        yield client


def consent(browser: TestClient) -> str:
    """Press "Connect Slack", let the fake Slack approve; the callback path for the app."""
    token = csrf(browser.get("/dashboard/quiet").text)
    started = browser.post("/dashboard/quiet/connect", data={"csrf_token": token})
    assert started.status_code == 303, started.text
    asked = parse_qs(urlsplit(started.headers["location"]).query)
    assert asked["user_scope"] == ["users.profile:read,users.profile:write,dnd:write"]
    assert "scope" not in asked  # no bot scopes (an empty value)
    back = requests.get(started.headers["location"], allow_redirects=False, timeout=5)
    assert back.status_code == 302
    target = urlsplit(back.headers["location"])
    assert target.path == "/dashboard/quiet/callback"
    return f"{target.path}?{target.query}"


def test_connect_keeps_the_token_encrypted_and_the_page_shows_it(
    browser: TestClient, rt: tuple[Runtime, RecordingDispatcher], slack: FakeSlackServer
) -> None:
    sign_up(browser)
    page = browser.get("/dashboard/quiet")
    assert page.status_code == 200 and "Connect Slack" in page.text

    done = browser.get(consent(browser))

    assert done.status_code == 303 and done.headers["location"] == "/dashboard/quiet"
    page = browser.get("/dashboard/quiet")
    assert "Slack connected" in page.text and "Growth Team" in page.text
    runtime = rt[0]
    with runtime.sessions() as session:
        link = session.scalars(select(SlackLink)).one()
        token = token_of(runtime.cipher, link)
        assert token.startswith("xoxp-") and token.encode() not in link.credentials
        assert link.slack_user_id == "U1" and link.quiet_enabled
    assert slack.state.tokens[token].user_id == "U1"


def test_a_callback_replayed_or_from_another_browser_is_refused(
    browser: TestClient, rt: tuple[Runtime, RecordingDispatcher]
) -> None:
    sign_up(browser)
    callback = consent(browser)
    browser.cookies.delete("gg_browser")
    foreign = browser.get(callback)
    assert foreign.status_code == 400 and "another browser" in foreign.text
    with rt[0].sessions() as session:
        assert session.scalars(select(SlackLink)).first() is None

    callback = consent(browser)
    assert browser.get(callback).status_code == 303
    again = browser.get(callback)
    assert again.status_code == 400 and "already used" in again.text


def test_missing_scopes_are_named(browser: TestClient, slack: FakeSlackServer) -> None:
    sign_up(browser)
    slack.grant_scopes = ("users.profile:write",)
    reply = browser.get(consent(browser))
    assert reply.status_code == 400
    assert "users.profile:read" in reply.text and "dnd:write" in reply.text


def test_declined_consent_connects_nothing(browser: TestClient, slack: FakeSlackServer) -> None:
    sign_up(browser)
    slack.approve_as = None
    reply = browser.get(consent_declined(browser))
    assert reply.status_code == 400 and "not approved" in reply.text


def consent_declined(browser: TestClient) -> str:
    token = csrf(browser.get("/dashboard/quiet").text)
    started = browser.post("/dashboard/quiet/connect", data={"csrf_token": token})
    back = requests.get(started.headers["location"], allow_redirects=False, timeout=5)
    target = urlsplit(back.headers["location"])
    assert "error=access_denied" in target.query
    return f"{target.path}?{target.query}"


def test_forms_need_the_csrf_token(browser: TestClient) -> None:
    sign_up(browser)
    reply = browser.post("/dashboard/quiet/connect", data={"csrf_token": "forged"})
    assert reply.status_code == 403
    bad = browser.post("/dashboard/quiet/mode", data={"csrf_token": "forged", "enabled": "off"})
    assert bad.status_code == 403


def test_mode_form_api_and_disconnect(
    browser: TestClient, rt: tuple[Runtime, RecordingDispatcher], slack: FakeSlackServer
) -> None:
    sign_up(browser)
    browser.get(consent(browser))
    token = csrf(browser.get("/dashboard/quiet").text)

    off = browser.post("/dashboard/quiet/mode", data={"csrf_token": token, "enabled": "off"})
    assert off.status_code == 303
    assert browser.get("/quiet").json()["enabled"] is False
    # Applied at once, after the commit: a quiet run for the person was queued.
    assert [key for key, _, _ in rt[1].submitted][-1].startswith("quiet:")
    forged = browser.post("/dashboard/quiet/mode", data={"csrf_token": token, "enabled": "maybe"})
    assert forged.status_code == 400 and "on or off" in forged.text

    on = browser.put("/quiet", json={"enabled": True}, headers={"X-CSRF-Token": token})
    assert on.status_code == 200 and on.json()["enabled"] is True
    assert on.json()["status"] == "ok"
    assert (
        browser.put("/quiet", json={"enabled": "x"}, headers={"X-CSRF-Token": token}).status_code
        == 422
    )

    gone = browser.post("/dashboard/quiet/disconnect", data={"csrf_token": token})
    assert gone.status_code == 303
    assert browser.get("/quiet").json()["connected"] is False
    assert all(grant.revoked for grant in slack.state.tokens.values())
    assert browser.delete("/quiet/slack", headers={"X-CSRF-Token": token}).status_code == 404


def test_without_slack_configured_the_page_says_so(runtime: Runtime) -> None:
    with TestClient(create_app(runtime, scheduler=False), follow_redirects=False) as client:
        sign_up(client)
        page = client.get("/dashboard/quiet")
        assert "not set up on this server" in page.text
        token = csrf(page.text)
        refused = client.post("/dashboard/quiet/connect", data={"csrf_token": token})
        assert refused.status_code == 409 and "not configured" in refused.text

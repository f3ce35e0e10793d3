"""connectors.slack against the fake Slack server: the real slack_sdk over HTTP, Slack's
answers mapped onto connectors.errors, and the fake's rules (tokens, scopes, codes)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
import requests

from connectors.errors import ConnectorError, RateLimited, ReauthRequired, TransientError
from connectors.slack.client import ProfileStatus, SlackClient
from connectors.slack.oauth import GrantRefused, SlackApp, authorize_url, exchange
from tests.fakes.slack_server import ALL_USER_SCOPES, CLIENT_ID, CLIENT_SECRET, FakeSlackServer
from tests.support.servers import free_port

NOW = datetime(2027, 1, 11, 9, 0, tzinfo=UTC)


@pytest.fixture
def slack() -> Iterator[FakeSlackServer]:
    with FakeSlackServer(clock=lambda: NOW) as fake:
        fake.add_user("U1", status=("In a meeting", ":calendar:"))
        yield fake


def client(slack: FakeSlackServer, scopes: tuple[str, ...] = ALL_USER_SCOPES) -> SlackClient:
    return SlackClient(slack.issue_token("U1", scopes), slack.base_url)


def test_status_round_trip_and_snooze(slack: FakeSlackServer) -> None:
    chat = client(slack)
    assert chat.status() == ProfileStatus("In a meeting", ":calendar:", 0)
    chat.set_status(ProfileStatus("Growth work until 10:00", ":seedling:", 1_800_000_000))
    assert chat.status() == ProfileStatus("Growth work until 10:00", ":seedling:", 1_800_000_000)
    ends = chat.snooze_until(NOW + timedelta(minutes=59, seconds=30), NOW)
    assert ends == NOW + timedelta(minutes=60)
    assert chat.end_snooze() is True
    assert chat.end_snooze() is False  # snooze_not_active


def test_status_text_is_cut_to_slacks_limit(slack: FakeSlackServer) -> None:
    chat = client(slack)
    chat.set_status(ProfileStatus("x" * 150, ":seedling:", 0))
    assert slack.user("U1").status_text == "x" * 100


def test_the_fake_refuses_what_slack_refuses(slack: FakeSlackServer) -> None:
    token = slack.issue_token("U1")
    api = slack.base_url + "/api/"
    long = requests.post(
        api + "users.profile.set",
        json={"profile": {"status_text": "y" * 101}},
        headers={"Authorization": f"Bearer {token}"},
        timeout=5,
    ).json()
    assert long == {"ok": False, "error": "too_long", "field": "status_text"}
    assert requests.post(api + "users.profile.get", timeout=5).json()["error"] == "not_authed"
    forged = requests.post(api + "users.profile.get", data={"token": "xoxp-forged"}, timeout=5)
    assert forged.status_code == 200 and forged.json()["error"] == "invalid_auth"
    snooze = requests.post(api + "dnd.setSnooze", data={"token": token}, timeout=5).json()
    assert snooze["error"] == "invalid_arguments"


def test_errors_are_mapped(slack: FakeSlackServer) -> None:
    chat = client(slack)
    slack.faults.fail_next(path="/api/users.profile.get", status=429, retry_after=17)
    with pytest.raises(RateLimited) as limited:
        chat.status()
    assert limited.value.retry_after == 17.0
    slack.faults.fail_next(path="/api/users.profile.get", status=502)
    with pytest.raises(TransientError, match="502"):
        chat.status()
    slack.faults.fail_next(path="/api/dnd.setSnooze", status=200, body={"error": "internal_error"})
    with pytest.raises(TransientError):
        chat.snooze_until(NOW + timedelta(hours=1), NOW)
    slack.revoke_all("U1")
    with pytest.raises(ReauthRequired, match="token_revoked"):
        chat.status()


def test_a_missing_scope_needs_reconnecting(slack: FakeSlackServer) -> None:
    chat = client(slack, ("users.profile:read",))
    assert chat.status().text == "In a meeting"
    with pytest.raises(ReauthRequired, match="missing_scope"):
        chat.set_status(ProfileStatus("x", ":seedling:", 0))


def test_an_unreachable_slack_is_transient() -> None:
    chat = SlackClient("xoxp-nothing", f"http://127.0.0.1:{free_port()}")
    with pytest.raises(TransientError, match="cannot be reached"):
        chat.status()


def test_oauth_exchange_single_use_codes_bound_to_the_redirect(slack: FakeSlackServer) -> None:
    app = SlackApp(
        CLIENT_ID, CLIENT_SECRET, "https://gg.test/dashboard/quiet/callback", slack.base_url
    )
    slack.approve_as = "U1"
    consent = requests.get(authorize_url(app, "state-1"), allow_redirects=False, timeout=5)
    code = consent.headers["location"].split("code=")[1].split("&")[0]

    grant = exchange(app, code)

    assert (grant.user_id, grant.team_id) == ("U1", "T0GROWTH")
    assert grant.scopes == {"users.profile:read", "users.profile:write", "dnd:write"}
    assert SlackClient(grant.token, slack.base_url).status().text == "In a meeting"
    with pytest.raises(GrantRefused, match="invalid_code"):
        exchange(app, code)
    wrong = SlackApp(CLIENT_ID, "not-the-secret", app.redirect_uri, slack.base_url)
    with pytest.raises(GrantRefused, match="bad_client_secret"):
        exchange(wrong, "whatever")


def test_revoke_is_quiet_about_dead_tokens(slack: FakeSlackServer) -> None:
    chat = client(slack)
    chat.revoke()
    chat.revoke()
    with pytest.raises(ConnectorError):
        chat.status()

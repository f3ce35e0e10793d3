"""Notifications, API tokens and the front door: errors at their field, input kept, no repeats
on reload (issue 12, 1, 8 and 9)."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from httpx import Response

from app.main import create_app
from app.runtime import Runtime
from tests.signups import front_door_csrf
from tests.support.dashboard import csrf, sign_up
from tests.support.servers import free_port


@pytest.fixture
def client(runtime: Runtime) -> Iterator[TestClient]:
    app = create_app(runtime, scheduler=False)
    with TestClient(app, raise_server_exceptions=False, follow_redirects=False) as test_client:
        yield test_client


def token_of(client: TestClient, page: str = "/dashboard/notifications") -> str:
    return csrf(client.get(page).text)


def add_channel(client: TestClient, kind: str, target: str) -> Response:
    return client.post(
        "/dashboard/channels",
        data={"csrf_token": token_of(client), "kind": kind, "target": target},
    )


def channel_ids(client: TestClient) -> list[str]:
    return re.findall(
        r"/dashboard/channels/(\d+)/test", client.get("/dashboard/notifications").text
    )


def make_token(client: TestClient, name: str) -> Response:
    token = token_of(client, "/dashboard/tokens")
    return client.post("/dashboard/tokens", data={"csrf_token": token, "name": name})


def test_a_failed_test_message_is_an_error_with_its_reason(client: TestClient):
    sign_up(client)
    port = free_port()  # nothing listens there
    assert add_channel(client, "webhook", f"http://127.0.0.1:{port}/hook").status_code == 303
    (channel_id,) = channel_ids(client)
    reply = client.post(
        f"/dashboard/channels/{channel_id}/test", data={"csrf_token": token_of(client)}
    )
    assert reply.status_code == 502
    assert 'class="errors" role="alert"' in reply.text
    assert "<h2>The test message did not arrive</h2>" in reply.text
    assert "The test message was not delivered: connection refused." in reply.text
    assert f'id="channel-{channel_id}-error"' in reply.text  # beside the channel
    assert 'class="flash"' not in reply.text  # not a green box


def test_email_without_smtp_says_how_to_configure_it(client: TestClient):
    sign_up(client)
    add_channel(client, "email", "me@example.org")
    (channel_id,) = channel_ids(client)
    reply = client.post(
        f"/dashboard/channels/{channel_id}/test", data={"csrf_token": token_of(client)}
    )
    assert reply.status_code == 502
    assert "SMTP is not configured: set GG_SMTP_HOST." in reply.text


def test_an_empty_channel_target_is_an_error_at_its_field(client: TestClient):
    sign_up(client)
    reply = add_channel(client, "slack", "")
    assert reply.status_code == 422
    text = reply.text
    assert 'aria-invalid="true" aria-describedby="channel-target-error"' in text
    assert '<option value="slack" selected>' in text  # the chosen kind is kept
    bad = add_channel(client, "webhook", "ftp://example.org/x")
    assert 'value="ftp://example.org/x"' in bad.text


def test_a_new_token_is_shown_once_after_a_redirect(client: TestClient):
    sign_up(client)
    made = client.post(
        "/dashboard/tokens",
        data={"csrf_token": token_of(client, "/dashboard/tokens"), "name": "ci"},
    )
    assert made.status_code == 303 and made.headers["location"] == "/dashboard/tokens"
    first = client.get("/dashboard/tokens")
    shown = re.search(r"<code class=\"wrap\">(gg[^<]+)</code>", first.text)
    assert shown, first.text
    assert client.get("/users/me", headers={"Authorization": f"Bearer {shown.group(1)}"}).is_success
    again = client.get("/dashboard/tokens")  # a reload: no second token, the secret is gone
    assert shown.group(1) not in again.text
    assert again.text.count("Revoke ci</button>") == 1


def test_a_new_channel_redirects_and_its_secret_is_shown_once(client: TestClient):
    sign_up(client)
    added = add_channel(client, "webhook", f"http://127.0.0.1:{free_port()}/hook")
    assert added.status_code == 303
    assert added.headers["location"].startswith("/dashboard/notifications")
    first = client.get("/dashboard/notifications")
    shown = re.search(r"<code>(ggwh_[^<]+)</code>", first.text)
    assert shown, first.text
    again = client.get("/dashboard/notifications")  # a reload adds nothing and shows no secret
    assert shown.group(1) not in again.text
    assert len(channel_ids(client)) == 1


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("", "Give the token a name"),
        ("x" * 5000, "Use at most 100 characters."),
        ("ci", "You already have a token called “ci”."),
    ],
)
def test_token_names_are_required_short_and_unique(client: TestClient, name: str, message: str):
    sign_up(client)
    client.post(
        "/dashboard/tokens",
        data={"csrf_token": token_of(client, "/dashboard/tokens"), "name": "ci"},
    )
    reply = client.post(
        "/dashboard/tokens",
        data={"csrf_token": token_of(client, "/dashboard/tokens"), "name": name},
    )
    assert reply.status_code == 422
    assert 'aria-describedby="token-name-error"' in reply.text
    assert message in reply.text
    assert client.get("/dashboard/tokens").text.count("Revoke ") == 1


def test_revoking_asks_first(client: TestClient):
    sign_up(client)
    client.post(
        "/dashboard/tokens",
        data={"csrf_token": token_of(client, "/dashboard/tokens"), "name": "ci"},
    )
    page = client.get("/dashboard/tokens").text
    token_id = re.search(r"/dashboard/tokens/(\d+)/revoke", page).group(1)  # type: ignore[union-attr]
    asked = client.post(f"/dashboard/tokens/{token_id}/revoke", data={"csrf_token": csrf(page)})
    assert asked.status_code == 200 and "Revoke “ci”?" in asked.text
    assert "Revoke ci</button>" in client.get("/dashboard/tokens").text  # still there
    done = client.post(
        f"/dashboard/tokens/{token_id}/revoke", data={"csrf_token": csrf(page), "confirm": "yes"}
    )
    assert done.status_code == 303
    assert "Revoke ci</button>" not in client.get("/dashboard/tokens").text


def test_sign_up_errors_keep_the_email_and_zone(client: TestClient):
    reply = client.post(
        "/signup",
        data={
            "email": "zoe@example.org",
            "password": "long enough password",
            "timezone": "Mars/Olympus",
            "csrf_token": front_door_csrf(client),
        },
    )
    assert reply.status_code == 422
    text = reply.text
    assert 'id="signup-email" name="email" type="email"' in text
    assert 'value="zoe@example.org"' in text and 'value="Mars/Olympus"' in text
    assert 'aria-invalid="true" aria-describedby="signup-timezone-error"' in text


def test_a_done_message_is_shown_once(client: TestClient):
    sign_up(client)
    reply = make_token(client, "ci")
    token_id = re.search(r"/dashboard/tokens/(\d+)/revoke", client.get("/dashboard/tokens").text)
    assert reply.status_code == 303 and token_id
    done = client.post(
        f"/dashboard/tokens/{token_id.group(1)}/revoke",
        data={"csrf_token": token_of(client, "/dashboard/tokens"), "confirm": "yes"},
    )
    assert done.headers["location"] == "/dashboard/tokens"  # no message in the address
    first = client.get("/dashboard/tokens")
    assert '<p class="flash" role="status">Token revoked</p>' in first.text
    again = client.get("/dashboard/tokens")  # a reload
    assert "Token revoked" not in again.text
    # A message in a crafted link is not shown as if GrowthGuard said it.
    crafted = client.get("/dashboard/tokens?flash=Your+account+is+locked")
    assert "Your account is locked" not in crafted.text


@pytest.mark.parametrize(
    "target", ["nope", "ftp://example.org/x", "http://example.org/hook", "https://", "http://[::1"]
)
def test_every_unusable_channel_address_gets_the_same_answer(client: TestClient, target: str):
    sign_up(client)
    reply = add_channel(client, "webhook", target)
    assert reply.status_code == 422
    assert "Use a full https:// address, e.g. https://hooks.example.org/growthguard." in reply.text

"""Every secret kind stays out of the logs and out of the database file, through real flows."""

from __future__ import annotations

import io
import logging
import re
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
from sqlalchemy import Engine
from sqlalchemy.engine import make_url

from app.main import create_app
from app.providers import Providers
from app.runtime import build_runtime
from connectors.google.oauth import GoogleConfig
from tests.e2e.harness import PUBLIC_URL, AppServer, browser
from tests.fakes.google_server import CLIENT_ID, CLIENT_SECRET, FakeGoogle
from tests.fakes.receivers import Receiver
from tests.signups import api_sign_up, front_door_csrf
from tests.support.e2e_google import USER
from tests.support.settings import TEST_KEY, make_settings

PASSWORD = "my very own passphrase"
SLACK = "https://hooks.slack.com/services/T0SECRET/B0SECRET/SlackPathSecret42"


@pytest.fixture
def app_server(
    fake: FakeGoogle, db_url: str, engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> Iterator[AppServer]:
    monkeypatch.setenv("OAUTHLIB_INSECURE_TRANSPORT", "1")
    settings = make_settings(
        db_url,
        public_url=PUBLIC_URL,
        google_client_id=CLIENT_ID,
        google_client_secret=CLIENT_SECRET,
        dev_mailbox=True,
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
    with AppServer(create_app(runtime, scheduler=False), access_log=True) as server:
        fake.deliver_to(server.base_url)
        yield server


def test_no_secret_in_logs_or_in_the_database_file(
    fake: FakeGoogle,
    app_server: AppServer,
    receiver: Receiver,
    logs: io.StringIO,
    db_url: str,
) -> None:
    if not db_url.startswith("sqlite"):
        pytest.skip("reads the bytes of SQLite's database file; PostgreSQL has no such file")
    webhook = f"{receiver.base_url}/hooks/WebhookPathSecret77"
    with browser(app_server.base_url) as me:
        # A local account with a password, confirmed by its link; an API token.
        created = api_sign_up(me, USER, "Europe/Berlin", password=PASSWORD)
        api_token = created["api_token"]
        signup_link = me.get("/dev/mailbox.json").json()[0]["text"]
        signup_token = re.search(r"\?t=(\S+)", signup_link).group(1)  # type: ignore[union-attr]
        me.post(
            "/signin", data={"email": USER, "password": PASSWORD, "csrf_token": front_door_csrf(me)}
        )
        # Connect Google by hand, to see the authorization code on its way.
        start = me.get("/auth/google/start")
        consent = me.get(start.headers["location"])
        callback = urlsplit(consent.headers["location"])
        code = parse_qs(callback.query)["code"][0]
        assert me.get(f"{callback.path}?{callback.query}").status_code == 303
        auth = {"Authorization": f"Bearer {api_token}"}
        for kind, target in (("slack", SLACK), ("webhook", webhook)):
            made = me.post(
                "/notification-channels", json={"kind": kind, "target": target}, headers=auth
            )
            assert made.status_code == 201, made.text
            assert made.json()["target"].endswith("/…")
            if kind == "webhook":
                webhook_secret = made.json()["secret"]
                sent = me.post(f"/notification-channels/{made.json()['id']}/test", headers=auth)
                assert sent.json() == {"delivered": True}
        assert receiver.requests, "the webhook test message was not delivered"
        logging.getLogger("app.test").warning("request headers: %s", dict(auth))
        session_cookie = me.cookies.get("gg_session")

    google_tokens = [*fake.oauth._access, *fake.oauth._grants]
    secrets = {
        "password": PASSWORD,
        "API token": api_token,
        "sign-up link token": signup_token,
        "OAuth code": code,
        "Slack URL": "SlackPathSecret42",
        "webhook URL": "WebhookPathSecret77",
        "webhook signing secret": webhook_secret,
        "client secret": CLIENT_SECRET,
        "session cookie": session_cookie or "missing",
        "Fernet key": TEST_KEY,
        **{f"Google token {i}": token for i, token in enumerate(google_tokens)},
    }
    assert len(google_tokens) >= 2
    # The webhook receiver runs in this process: its own access line (the receiving site's
    # log, not GrowthGuard's) names its path, so it is left out.
    logged = "\n".join(line for line in logs.getvalue().splitlines() if '"POST /hooks/' not in line)
    assert "GET /auth/google/callback" in logged  # the access log was captured
    path = Path(make_url(db_url).database or "")
    stored = b"".join(p.read_bytes() for p in (path, Path(f"{path}-wal")) if p.exists())
    for kind, secret in secrets.items():
        assert secret not in logged, f"{kind} is in the logs"
        assert secret.encode() not in stored, f"{kind} is in the database file"

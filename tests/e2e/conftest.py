"""End-to-end fixtures: the app over HTTP with the fake Google server (the default provider).

Modules testing another provider define their own `fake` and `app_server`, which take
precedence over these.
"""

from __future__ import annotations

import io
import logging
from collections.abc import Iterator

import pytest
from sqlalchemy import Engine

from app.logsetup import configure_logging
from app.main import create_app
from app.providers import Providers
from app.runtime import build_runtime
from connectors.google.oauth import GoogleConfig
from tests.e2e.harness import PUBLIC_URL, AppServer
from tests.fakes.google_server import CLIENT_ID, CLIENT_SECRET, FakeGoogle
from tests.support.e2e_google import USER
from tests.support.settings import make_settings


@pytest.fixture
def fake() -> Iterator[FakeGoogle]:
    with FakeGoogle(redirect_uris=(f"{PUBLIC_URL}/auth/google/callback",)) as server:
        server.add_account(USER, workspace=True, time_zone="Europe/Berlin")
        server.set_consent(USER)
        yield server


@pytest.fixture
def extra_settings() -> dict[str, object]:
    """Settings a test module adds to the app's (e.g. SMTP); override to change them."""
    return {}


@pytest.fixture
def app_server(
    fake: FakeGoogle,
    db_url: str,
    engine: Engine,
    monkeypatch: pytest.MonkeyPatch,
    extra_settings: dict[str, object],
) -> Iterator[AppServer]:
    monkeypatch.setenv("OAUTHLIB_INSECURE_TRANSPORT", "1")  # the fake speaks plain http
    settings = make_settings(
        db_url,
        public_url=PUBLIC_URL,
        google_client_id=CLIENT_ID,
        google_client_secret=CLIENT_SECRET,
        **extra_settings,
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
    with AppServer(create_app(runtime, scheduler=False)) as server:
        fake.deliver_to(server.base_url)
        yield server


@pytest.fixture
def logs() -> Iterator[io.StringIO]:
    """Everything logged meanwhile, through the app's redacting handler, libraries included."""
    root = logging.getLogger()
    saved = (list(root.handlers), root.level)
    stream = io.StringIO()
    configure_logging("DEBUG", stream)  # libraries too: their lines must be redacted as well
    try:
        yield stream
    finally:
        for handler in list(root.handlers):
            root.removeHandler(handler)
        for handler in saved[0]:
            root.addHandler(handler)
        root.setLevel(saved[1])

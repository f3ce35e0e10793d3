"""End-to-end fixtures for Microsoft 365: the app over HTTP with the fake identity + Graph."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import Engine

from app.main import create_app
from app.providers import Providers
from app.runtime import build_runtime
from connectors.microsoft.oauth import MicrosoftConfig
from tests.e2e.harness import PUBLIC_URL, AppServer
from tests.fakes.graph_server import CLIENT_ID, CLIENT_SECRET, FakeGraphServer
from tests.support.e2e_microsoft import USER
from tests.support.settings import make_settings


@pytest.fixture
def fake() -> Iterator[FakeGraphServer]:
    with FakeGraphServer() as server:
        server.identity.register_app(
            CLIENT_ID, CLIENT_SECRET, f"{PUBLIC_URL}/auth/microsoft/callback"
        )
        server.add_user(USER, "Calendar")
        yield server


@pytest.fixture
def app_server(
    fake: FakeGraphServer, db_url: str, engine: Engine, extra_settings: dict[str, object]
) -> Iterator[AppServer]:
    settings = make_settings(
        db_url,
        public_url=PUBLIC_URL,
        microsoft_client_id=CLIENT_ID,
        microsoft_client_secret=CLIENT_SECRET,
        default_timezone="Europe/Berlin",
        **extra_settings,
    )
    providers = Providers(
        microsoft=MicrosoftConfig(
            client_id=CLIENT_ID,
            client_secret=CLIENT_SECRET,
            redirect_uri=settings.redirect_uri("microsoft"),
            msal_http_client=fake.routing_session(),
            graph_transport=fake.routing_transport(),
        )
    )
    runtime = build_runtime(settings, engine=engine, providers=providers)
    with AppServer(create_app(runtime, scheduler=False)) as server:
        fake.deliver_to(server.base_url)
        yield server

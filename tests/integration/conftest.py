"""Fixtures for the integration tests that share one fake Microsoft Graph server per module
(test_microsoft_connector, test_fake_graph_strict): the server, a config routed to it, a signed-in
mailbox and a connector factory. Other modules define their own fixtures under these names."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from connectors.microsoft import MicrosoftConfig, MicrosoftConnector, MicrosoftGrant
from tests.fakes.graph_server import CLIENT_ID, CLIENT_SECRET, REDIRECT_URI, FakeGraphServer
from tests.support.microsoft import Factory, sign_in

_users = itertools.count(1)


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeGraphServer]:
    with FakeGraphServer() as server:
        yield server


@pytest.fixture(scope="module")
def config(fake: FakeGraphServer) -> Iterator[MicrosoftConfig]:
    session, transport = fake.routing_session(), fake.routing_transport()
    yield MicrosoftConfig(
        CLIENT_ID,
        CLIENT_SECRET,
        REDIRECT_URI,
        msal_http_client=session,
        graph_transport=transport,
    )
    session.close()
    transport.close()


@pytest.fixture
def email(fake: FakeGraphServer) -> str:
    address = f"it{next(_users)}@contoso.example"
    fake.add_user(address, "Calendar")
    return address


@pytest.fixture
def grant(fake: FakeGraphServer, config: MicrosoftConfig, email: str) -> MicrosoftGrant:
    return sign_in(fake, config, email)


@pytest.fixture
def make(config: MicrosoftConfig, grant: MicrosoftGrant) -> Iterator[Factory]:
    built: list[MicrosoftConnector] = []

    def build(save: Callable[[bytes], None] = lambda blob: None, **kw: Any) -> MicrosoftConnector:
        kw.setdefault("home_account_id", grant.home_account_id)
        connector = MicrosoftConnector(config, grant.token_cache, save, **kw)
        built.append(connector)
        return connector

    yield build
    for connector in built:
        connector.close()

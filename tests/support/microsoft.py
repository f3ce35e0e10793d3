"""Signing in against the fake Microsoft Graph server, and a connector factory's type."""

from __future__ import annotations

from collections.abc import Callable

from connectors.microsoft import (
    MicrosoftConfig,
    MicrosoftConnector,
    MicrosoftGrant,
    finish_authorization,
    start_authorization,
)
from tests.fakes.graph_server import FakeGraphServer

Factory = Callable[..., MicrosoftConnector]


def sign_in(fake: FakeGraphServer, config: MicrosoftConfig, email: str) -> MicrosoftGrant:
    """The whole browser round trip: authorize URL, consent, form_post back, code redemption."""
    fake.identity.approve_as = email
    flow = start_authorization(config)
    return finish_authorization(config, flow, fake.authorize(flow["auth_uri"]))


def calendar(fake: FakeGraphServer, email: str) -> str:
    return fake.calendar_id(email, "Calendar")

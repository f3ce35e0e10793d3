"""Microsoft Graph scopes (issue 17 item 5): book-only asks for the same Calendars.ReadWrite
(Graph has nothing narrower that can create events) and records the mode; a grant missing it
is refused at connect; the fake refuses changes a token's permissions do not cover."""

from __future__ import annotations

import pytest

from connectors.microsoft import MicrosoftConfig
from connectors.microsoft.entry import entry
from connectors.registry import BOOK_ONLY, MissingPermissions
from tests.fakes.graph_server import FakeGraphServer

OIDC = {"openid", "profile", "offline_access"}


def test_book_only_on_graph_asks_calendars_readwrite_and_keeps_the_mode(
    fake: FakeGraphServer, config: MicrosoftConfig, email: str
) -> None:
    provider = entry(config)
    assert provider.begin is not None
    start = provider.begin(BOOK_ONLY)
    fake.identity.approve_as = email
    grant = provider.finish(start.secrets, fake.authorize(start.url))
    assert grant.access_mode == BOOK_ONLY
    asked = set(fake.identity.requested_scopes[-1]) - OIDC
    assert {s.removeprefix("https://graph.microsoft.com/") for s in asked} == {
        "Calendars.ReadWrite"
    }
    note = next(m.note for m in provider.access_modes if m.name == BOOK_ONLY)
    assert "no narrower permission" in note


def test_a_grant_without_calendars_readwrite_is_refused_and_cannot_write(
    fake: FakeGraphServer, config: MicrosoftConfig, email: str
) -> None:
    provider = entry(config)
    assert provider.begin is not None
    start = provider.begin(BOOK_ONLY)
    fake.identity.approve_as = email
    fake.identity.grant_only = frozenset({"Calendars.Read"})  # an admin allowed reading only
    try:
        with pytest.raises(MissingPermissions) as refused:
            provider.finish(start.secrets, fake.authorize(start.url))
    finally:
        fake.identity.grant_only = None
    assert refused.value.missing == ["Calendars.ReadWrite"]

    # The token Graph issued anyway reads, and is refused any change, as Graph does.
    [token] = [t for t, a in fake.identity.access_tokens.items() if a.email == email]
    session = fake.routing_session()
    headers = {"Authorization": f"Bearer {token}"}
    graph = "https://graph.microsoft.com/v1.0"
    assert session.get(f"{graph}/me/calendars", headers=headers).status_code == 200
    write = session.post(f"{graph}/me/events", json={"subject": "Growth"}, headers=headers)
    assert write.status_code == 403
    assert write.json()["error"]["code"] == "ErrorAccessDenied"
    session.close()

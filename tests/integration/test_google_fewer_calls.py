"""Answering an invite the sync just returned costs one PATCH, not a GET and a PATCH."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from connectors.base import Response, SelfResponse
from connectors.google import GoogleConfig, GoogleConnector
from connectors.google.connector import SYNCED
from tests.fakes.google_server import FakeGoogle

T0 = datetime(2031, 3, 3, 9, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def google() -> Iterator[FakeGoogle]:
    with FakeGoogle() as fake:
        yield fake


@pytest.fixture
def email(google: FakeGoogle) -> str:
    return google.add_account(f"user-{uuid.uuid4().hex[:8]}@example.com")


@pytest.fixture
def connector(google: FakeGoogle, email: str) -> GoogleConnector:
    creds = google.mint_credentials(email)
    config = GoogleConfig(**google.endpoints(), timeout=5)
    return GoogleConnector(config, json.dumps(creds).encode(), lambda _: None)


def methods(google: FakeGoogle) -> list[str]:
    return [r.method for r in google.requests if "/events/" in r.path]


def test_a_decline_after_a_sync_reads_nothing_again(
    google: FakeGoogle, connector: GoogleConnector, email: str
) -> None:
    cursor = connector.sync(email, None).next_cursor
    invite = google.insert_invite(email, "Big sync", T0, T0 + timedelta(hours=1))
    assert [e.id for e in connector.sync(email, cursor).changed] == [invite]
    google.requests.clear()

    declined = connector.respond(email, invite, Response.DECLINE, "Protected growth time")

    assert methods(google) == ["PATCH"]
    assert declined.self_response is SelfResponse.DECLINED
    [mine] = [a for a in google.event(email, invite)["attendees"] if a.get("self")]
    assert mine["responseStatus"] == "declined"


def test_the_synced_copy_is_used_once_and_only_while_fresh(
    google: FakeGoogle, connector: GoogleConnector, email: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    cursor = connector.sync(email, None).next_cursor
    invite = google.insert_invite(email, "Big sync", T0, T0 + timedelta(hours=1))
    connector.sync(email, cursor)
    connector.respond(email, invite, Response.DECLINE)
    google.requests.clear()
    # a second answer (e.g. "keep the meeting") reads the event as it is now
    accepted = connector.respond(email, invite, Response.ACCEPT)
    assert methods(google) == ["GET", "PATCH"]
    assert accepted.self_response is SelfResponse.ACCEPTED

    other = google.insert_invite(email, "Later sync", T0, T0 + timedelta(hours=1))
    connector.sync(email, None)
    monkeypatch.setattr(SYNCED, "fresh", -1.0)  # too old by now
    google.requests.clear()
    connector.respond(email, other, Response.DECLINE)
    assert methods(google) == ["GET", "PATCH"]


def test_a_cancelled_event_is_forgotten(
    google: FakeGoogle, connector: GoogleConnector, email: str
) -> None:
    cursor = connector.sync(email, None).next_cursor
    invite = google.insert_invite(email, "Big sync", T0, T0 + timedelta(hours=1))
    cursor = connector.sync(email, cursor).next_cursor
    google.delete_event(email, invite)
    connector.sync(email, cursor)
    assert SYNCED.take((email, invite)) is None

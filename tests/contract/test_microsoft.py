"""The contract suite against `MicrosoftConnector` and the fake identity + Graph server.

Each test gets a fresh mailbox, signed in through the real MSAL auth-code flow (PKCE, nonce,
form_post) against the fake; production URLs are rerouted by `RoutingSession`/`RoutingTransport`.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta

import pytest

from connectors.base import CalendarConnector, Response, utc_midnight
from connectors.microsoft import (
    MicrosoftConfig,
    MicrosoftConnector,
    MicrosoftGrant,
)
from tests.contract.suite import T0, ConnectorContract, ProviderSide, RecordedRsvp
from tests.fakes.graph_server import CLIENT_ID, CLIENT_SECRET, REDIRECT_URI, FakeGraphServer
from tests.support.microsoft import sign_in

_ACTIONS = {
    "accept": Response.ACCEPT,
    "decline": Response.DECLINE,
    "tentativelyAccept": Response.TENTATIVE,
}
_users = itertools.count(1)


@dataclass
class Account:
    email: str
    grant: MicrosoftGrant


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeGraphServer]:
    with FakeGraphServer() as server:
        yield server


@pytest.fixture(scope="module")
def config(fake: FakeGraphServer) -> Iterator[MicrosoftConfig]:
    session, transport = fake.routing_session(), fake.routing_transport()
    yield MicrosoftConfig(
        client_id=CLIENT_ID,
        client_secret=CLIENT_SECRET,
        redirect_uri=REDIRECT_URI,
        msal_http_client=session,
        graph_transport=transport,
    )
    session.close()
    transport.close()


@pytest.fixture
def account(fake: FakeGraphServer, config: MicrosoftConfig) -> Account:
    email = f"user{next(_users)}@contoso.example"
    fake.add_user(email, "Calendar", "Birthdays")
    return Account(email, sign_in(fake, config, email))


class GraphProviderSide:
    """`ProviderSide` over the fake server's test-control methods."""

    def __init__(self, fake: FakeGraphServer, email: str) -> None:
        self.fake, self.email = fake, email

    def insert_invite(
        self,
        calendar_id: str,
        title: str,
        start: datetime,
        end: datetime,
        organizer_email: str = "boss@example.com",
        attendee_count: int = 3,
    ) -> str:
        others = [f"peer{i}@example.com" for i in range(attendee_count - 1)]  # + the user
        return self.fake.insert_invite(
            self.email, calendar_id, title, start, end, organizer_email, others
        )

    def insert_own_event(
        self, calendar_id: str, title: str, start: datetime, end: datetime, attendee_count: int = 0
    ) -> str:
        guests = [f"guest{i}@example.com" for i in range(attendee_count)]
        return self.fake.add_event(self.email, calendar_id, title, start, end, attendees=guests)

    def insert_all_day(self, calendar_id: str, title: str, first_day: date, days: int) -> str:
        start = utc_midnight(first_day)
        return self.fake.add_event(
            self.email, calendar_id, title, start, start + timedelta(days=days), is_all_day=True
        )

    def insert_weekly_series(
        self,
        calendar_id: str,
        title: str,
        first_start: datetime,
        duration: timedelta,
        count: int,
        organizer_email: str | None = None,
    ) -> str:
        return self.fake.add_weekly_series(
            self.email, calendar_id, title, first_start, duration, count, organizer=organizer_email
        )

    def delete_event(self, calendar_id: str, event_id: str) -> None:
        self.fake.delete_event(self.email, event_id)

    def cancel_event(self, calendar_id: str, event_id: str) -> None:
        self.fake.cancel_event(self.email, event_id)

    def move_event(
        self, calendar_id: str, event_id: str, new_start: datetime, new_end: datetime
    ) -> None:
        self.fake.update_event(self.email, event_id, start=new_start, end=new_end)

    def expire_cursor(self, calendar_id: str) -> None:
        self.fake.expire_delta_tokens()

    def responses(self, calendar_id: str, event_id: str) -> list[RecordedRsvp]:
        return [
            RecordedRsvp(_ACTIONS[r.response], r.comment)
            for r in self.fake.responses(self.email, event_id)
        ]


class TestMicrosoftConnector(ConnectorContract):
    @pytest.fixture
    def connector(self, config: MicrosoftConfig, account: Account) -> Iterator[CalendarConnector]:
        saved: list[bytes] = []
        connector = MicrosoftConnector(
            config,
            account.grant.token_cache,
            saved.append,
            home_account_id=account.grant.home_account_id,
            clock=lambda: T0,  # the suite's events live in 2031: anchor the sync window there
        )
        yield connector
        connector.close()

    @pytest.fixture
    def calendar_id(self, fake: FakeGraphServer, account: Account) -> str:
        return fake.calendar_id(account.email, "Calendar")

    @pytest.fixture
    def provider_side(self, fake: FakeGraphServer, account: Account) -> ProviderSide:
        return GraphProviderSide(fake, account.email)

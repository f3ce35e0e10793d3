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

from connectors.base import BlockSpec, CalendarConnector, Event, Response, utc_midnight
from connectors.errors import Collision, ConnectorError, RateLimited, TransientError
from connectors.microsoft import (
    MicrosoftConfig,
    MicrosoftConnector,
    MicrosoftGrant,
)
from tests.contract.suite import T0, ConnectorContract, H, ProviderSide, RecordedRsvp, spec
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


# --- batch writes (Graph JSON batching through the connector's httpx client) ----------------


@pytest.fixture
def graph(config: MicrosoftConfig, account: Account) -> Iterator[MicrosoftConnector]:
    connector = MicrosoftConnector(
        config,
        account.grant.token_cache,
        lambda blob: None,
        home_account_id=account.grant.home_account_id,
        clock=lambda: T0,
    )
    yield connector
    connector.close()


def _specs(count: int) -> list[BlockSpec]:
    return [spec(f"w10-{n}", T0 + n * 24 * H) for n in range(count)]


def test_create_blocks_is_two_batch_requests(
    fake: FakeGraphServer, graph: MicrosoftConnector, account: Account
) -> None:
    calendar = fake.calendar_id(account.email, "Calendar")
    graph.list_calendars()  # the token is fresh: nothing below refreshes it
    start = len(fake.requests)
    created = graph.create_blocks(calendar, _specs(5))
    assert all(isinstance(c, Event) for c in created)
    sent = fake.requests[start:]
    assert [(r.method, r.path) for r in sent if not r.batched] == [("POST", "/$batch")] * 2
    parts = [(r.method, r.path.rsplit("/", 1)[-1]) for r in sent if r.batched]
    assert parts == [("GET", "events")] * 5 + [("POST", "events")] * 5
    assert [e.tag for e in created if isinstance(e, Event)] == [s.tag for s in _specs(5)]


@pytest.mark.parametrize(("status", "error"), [(429, RateLimited), (409, Collision)])
def test_a_failed_part_keeps_the_others_and_is_retried(
    fake: FakeGraphServer,
    graph: MicrosoftConnector,
    account: Account,
    status: int,
    error: type[ConnectorError],
) -> None:
    calendar = fake.calendar_id(account.email, "Calendar")
    fake.faults.fail_next(
        1, status=status, path="/events", method="POST", retry_after=9
    )  # the first create
    first = graph.create_blocks(calendar, _specs(3))
    assert isinstance(first[0], error)
    if isinstance(first[0], RateLimited):
        assert first[0].retry_after == 9
    assert all(isinstance(c, Event) for c in first[1:])
    assert len(fake.events(account.email, calendar)) == 2
    again = graph.create_blocks(calendar, _specs(3))
    assert all(isinstance(c, Event) for c in again)
    assert [c.id for c in again[1:]] == [c.id for c in first[1:]]  # found, not duplicated
    assert len(fake.events(account.email, calendar)) == 3


def test_a_failed_lookup_part_skips_only_its_block(
    fake: FakeGraphServer, graph: MicrosoftConnector, account: Account
) -> None:
    calendar = fake.calendar_id(account.email, "Calendar")
    fake.faults.fail_next(1, status=503, path="/events", method="GET")
    created = graph.create_blocks(calendar, _specs(3))
    assert isinstance(created[0], TransientError)
    assert all(isinstance(c, Event) for c in created[1:])
    assert len(fake.events(account.email, calendar)) == 2


def test_a_failed_batch_request_raises_and_writes_nothing(
    fake: FakeGraphServer, graph: MicrosoftConnector, account: Account
) -> None:
    calendar = fake.calendar_id(account.email, "Calendar")
    fake.faults.fail_next(1, status=503, path="/$batch")
    with pytest.raises(TransientError):
        graph.create_blocks(calendar, _specs(2))
    assert fake.events(account.email, calendar) == []


def test_the_fake_batches_like_graph(
    fake: FakeGraphServer, graph: MicrosoftConnector, account: Account
) -> None:
    """dependsOn runs after its dependency and fails with 424 when that failed; more than 20
    requests, unknown dependencies and repeated ids are refused whole; answers come by id."""
    calendar = fake.calendar_id(account.email, "Calendar")
    events = f"/me/calendars/{calendar}/events"
    body = {"subject": "x", "start": {"dateTime": "2031-03-03T09:00:00", "timeZone": "UTC"}}
    body["end"] = {"dateTime": "2031-03-03T10:00:00", "timeZone": "UTC"}
    answer = graph.client.request(
        "POST",
        "/$batch",
        json={
            "requests": [
                {"id": "a", "method": "GET", "url": "/me/events/nope"},
                {"id": "b", "method": "POST", "url": events, "body": body, "dependsOn": ["a"]},
                {"id": "c", "method": "POST", "url": events, "body": body},
                {"id": "d", "method": "GET", "url": "/me/calendars", "dependsOn": ["c"]},
            ]
        },
    )
    statuses = {r["id"]: r["status"] for r in answer["responses"]}
    assert statuses == {"a": 404, "b": 424, "c": 201, "d": 200}
    assert len(fake.events(account.email, calendar)) == 1
    for requests in (
        [{"id": str(n), "method": "GET", "url": "/me/calendars"} for n in range(21)],
        [{"id": "a", "method": "GET", "url": "/me/calendars", "dependsOn": ["z"]}],
        [{"id": "a", "method": "GET", "url": "/me/calendars"}] * 2,
    ):
        with pytest.raises(ConnectorError):
            graph.client.request("POST", "/$batch", json={"requests": requests})

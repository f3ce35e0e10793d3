"""Defense levels on every provider: a flexible block is written free and turns busy at its
threshold exactly once (one provider write; the sweep run twice changes nothing), also when a
DST change lies between the threshold and the block. Memory, fake Google and fake Graph over
HTTP, and a real Radicale CalDAV server."""

from __future__ import annotations

import itertools
import json
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy.engine import Engine

from app import tasks
from app.domain.time import IsoWeek
from connectors.base import CalendarConnector, CalendarInfo, EventType
from connectors.caldav import CalDavConnector, CalDavCredentials
from connectors.google import GoogleConfig, GoogleConnector
from connectors.memory import MemoryConnector, MemoryStore
from connectors.microsoft import MicrosoftConfig, MicrosoftConnector
from connectors.netpolicy import Reach
from tests.fakes.google_server import FakeGoogle
from tests.fakes.graph_server import CLIENT_ID, CLIENT_SECRET, REDIRECT_URI, FakeGraphServer
from tests.servers.caldav import EMAIL, PASSWORD, USER, CalDavServer, new_calendar, radicale
from tests.support.defense import (
    CountingConnector,
    block_rows,
    one_block_plan,
    provider_blocks,
    runtime_on,
)
from tests.support.microsoft import sign_in
from tests.support.world import FakeClock

_users = itertools.count(1)


@pytest.fixture(scope="module")
def google() -> Iterator[FakeGoogle]:
    with FakeGoogle() as fake:
        yield fake


@pytest.fixture(scope="module")
def graph() -> Iterator[tuple[FakeGraphServer, MicrosoftConfig]]:
    with FakeGraphServer() as fake:
        session, transport = fake.routing_session(), fake.routing_transport()
        yield (
            fake,
            MicrosoftConfig(
                client_id=CLIENT_ID,
                client_secret=CLIENT_SECRET,
                redirect_uri=REDIRECT_URI,
                msal_http_client=session,
                graph_transport=transport,
            ),
        )
        session.close()
        transport.close()


@pytest.fixture(scope="module")
def radicale_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CalDavServer]:
    with radicale(Path(tmp_path_factory.mktemp("radicale"))) as running:
        yield running


def _memory(request: pytest.FixtureRequest, clock: FakeClock) -> tuple[CalendarConnector, str]:
    store = MemoryStore()
    store.add_calendar(CalendarInfo(id="primary", name="me", primary=True))
    return MemoryConnector(store), "primary"


def _google(request: pytest.FixtureRequest, clock: FakeClock) -> tuple[CalendarConnector, str]:
    google: FakeGoogle = request.getfixturevalue("google")
    email = f"user-{uuid.uuid4().hex[:8]}@example.com"
    calendar_id = google.add_account(email)  # a Workspace account: focus time is possible
    blob = json.dumps(google.mint_credentials(email)).encode()
    config = GoogleConfig(**google.endpoints(), timeout=5)
    return GoogleConnector(config, blob, lambda b: None), calendar_id


def _graph(request: pytest.FixtureRequest, clock: FakeClock) -> tuple[CalendarConnector, str]:
    fake, config = request.getfixturevalue("graph")
    email = f"user{next(_users)}@contoso.example"
    fake.add_user(email, "Calendar")
    grant = sign_in(fake, config, email)
    connector = MicrosoftConnector(
        config,
        grant.token_cache,
        lambda b: None,
        home_account_id=grant.home_account_id,
        clock=clock,
    )
    request.addfinalizer(connector.close)
    return connector, fake.calendar_id(email, "Calendar")


def _radicale(request: pytest.FixtureRequest, clock: FakeClock) -> tuple[CalendarConnector, str]:
    server: CalDavServer = request.getfixturevalue("radicale_server")
    credentials = CalDavCredentials(
        url=server.principal_url(),
        username=USER,
        password=PASSWORD,
        auth_type="basic",
        addresses=(EMAIL,),
    )
    connector = CalDavConnector(credentials, timeout=10, reach=Reach(loopback=True, private=True))
    return connector, new_calendar(server)


PROVIDERS = {"memory": _memory, "google": _google, "graph": _graph, "radicale": _radicale}


@pytest.fixture(params=sorted(PROVIDERS))
def provider(
    request: pytest.FixtureRequest, clock: FakeClock
) -> tuple[str, CountingConnector, str]:
    connector, calendar_id = PROVIDERS[request.param](request, clock)
    return request.param, CountingConnector(connector), calendar_id


# (zone, the Monday of the block, a booking time in the week before, the threshold in UTC).
# Berlin: summer time ends Sun 26 Oct 2031 03:00; 48 h before Mon 27 Oct 09:00 CET (08:00 UTC)
# is Sat 08:00 UTC = 10:00 CEST, not the wall clock's 09:00.
# Lord Howe: summer time (+30 min) starts Sun 5 Oct 2031 02:00; 48 h before Mon 6 Oct 09:00
# (+11:00, Sun 22:00 UTC) is Fri 3 Oct 22:00 UTC = Sat 08:30 local (+10:30), not 09:00.
DST_CASES = [
    pytest.param(
        "Europe/Berlin",
        IsoWeek(2031, 44),
        datetime(2031, 10, 20, 8, 0, tzinfo=UTC),
        datetime(2031, 10, 25, 8, 0, tzinfo=UTC),
        id="berlin-october",
    ),
    pytest.param(
        "Australia/Lord_Howe",
        IsoWeek(2031, 41),
        datetime(2031, 9, 29, 0, 0, tzinfo=UTC),
        datetime(2031, 10, 3, 22, 0, tzinfo=UTC),
        id="lord-howe-october",
    ),
]


@pytest.mark.parametrize(("zone", "week", "booked_at", "threshold"), DST_CASES)
def test_a_flexible_block_is_free_then_busy_exactly_once(
    db_url: str,
    engine: Engine,
    clock: FakeClock,
    provider: tuple[str, CountingConnector, str],
    zone: str,
    week: IsoWeek,
    booked_at: datetime,
    threshold: datetime,
) -> None:
    name, connector, calendar_id = provider
    clock.now = booked_at
    span = (booked_at, booked_at + timedelta(days=21))
    with runtime_on(db_url, engine, clock, connector) as rt:
        plan_id = one_block_plan(
            rt, calendar_id, zone, defense="flexible", flexible_hours_before=48
        )
        tasks.book_plan(plan_id, str(week))
        [block] = provider_blocks(connector, calendar_id, *span)
        assert block.busy is False, name
        assert block.start == threshold + timedelta(hours=48)
        [row] = block_rows(rt, plan_id)
        assert (row.level, row.busy) == ("flexible", False)
        assert connector.creates[0].focus_time is False  # focus time is never free

        clock.now = threshold - timedelta(minutes=1)
        assert tasks.harden_flexible_blocks() == 0
        tasks.book_plan(plan_id, str(week))  # booking checks too: not yet
        assert [e.busy for e in provider_blocks(connector, calendar_id, *span)] == [False]
        assert connector.updates == []

        clock.now = threshold
        assert tasks.harden_flexible_blocks() == 1
        assert tasks.harden_flexible_blocks() == 0  # twice changes nothing
        tasks.book_plan(plan_id, str(week))  # nor does a booking after it
        [block] = provider_blocks(connector, calendar_id, *span)
        assert block.busy is True
        assert (block.start, block.end) == (threshold + timedelta(hours=48), block.end)
        assert [spec.busy for spec in connector.updates] == [True]  # one write
        [row] = block_rows(rt, plan_id)
        assert row.busy is True


def test_booking_after_the_threshold_writes_the_block_busy_at_once(
    db_url: str, engine: Engine, clock: FakeClock, provider: tuple[str, CountingConnector, str]
) -> None:
    name, connector, calendar_id = provider
    clock.now = datetime(2031, 10, 26, 12, 0, tzinfo=UTC)  # Sunday before the block's Monday
    with runtime_on(db_url, engine, clock, connector) as rt:
        plan_id = one_block_plan(
            rt, calendar_id, "Europe/Berlin", defense="flexible", flexible_hours_before=48
        )
        tasks.book_plan(plan_id, "2031-W44")
        [block] = provider_blocks(connector, calendar_id, clock.now, clock.now + timedelta(days=7))
        assert block.busy is True, name
        assert connector.updates == []
        assert tasks.harden_flexible_blocks() == 0


def test_firm_blocks_are_busy_and_locked_ones_are_focus_time_where_supported(
    db_url: str, engine: Engine, clock: FakeClock, provider: tuple[str, CountingConnector, str]
) -> None:
    name, connector, calendar_id = provider
    clock.now = datetime(2031, 10, 20, 8, 0, tzinfo=UTC)
    with runtime_on(db_url, engine, clock, connector) as rt:
        plan_id = one_block_plan(rt, calendar_id, "Europe/Berlin", defense="locked")
        tasks.book_plan(plan_id, "2031-W44")
        [block] = provider_blocks(connector, calendar_id, clock.now, clock.now + timedelta(days=14))
        assert block.busy is True
        [spec] = connector.creates
        assert spec.focus_time is True and spec.busy is True
        assert spec.auto_decline == "declineOnlyNewConflictingInvitations"
        if name == "google":  # a Workspace primary calendar takes native focus time
            assert block.event_type is EventType.FOCUS_TIME
        [row] = block_rows(rt, plan_id)
        assert (row.level, row.busy) == ("locked", True)

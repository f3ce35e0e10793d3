"""Shared fixtures: databases built by the migrations (SQLite and PostgreSQL), the runtime.

Every test that asks for `db_url` runs once per backend. PostgreSQL is required on CI
(CI=true): unreachable means the test fails. Elsewhere it is skipped with the reason.
The helpers these fixtures use live in tests/support/.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from aiosmtpd.controller import Controller
from sqlalchemy import Engine

from app import runtime as runtime_module
from app.db.migrate import upgrade
from app.db.session import make_engine
from app.runtime import Runtime, build_runtime
from tests.fakes.receivers import Inbox, Receiver
from tests.support.databases import empty_tables, postgres_database
from tests.support.servers import AsgiServer, free_port
from tests.support.settings import make_settings
from tests.support.world import FakeClock, MemoryWorld


@pytest.fixture(
    scope="session", params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]
)
def db_url(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """A migrated database URL, once per backend for the whole session."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path_factory.mktemp('db') / 'growthguard.db'}"
        upgrade(url)
        yield url
    else:
        yield from postgres_database()


@pytest.fixture(scope="session")
def _session_engine(db_url: str) -> Iterator[Engine]:
    engine = make_engine(db_url)
    yield engine
    engine.dispose()


@pytest.fixture
def engine(_session_engine: Engine) -> Iterator[Engine]:
    """The backend's engine; every table is emptied after the test."""
    yield _session_engine
    empty_tables(_session_engine)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def world() -> MemoryWorld:
    return MemoryWorld()


@pytest.fixture
def runtime(db_url: str, engine: Engine, clock: FakeClock, world: MemoryWorld) -> Iterator[Runtime]:
    """A runtime wired to the test database, memory connectors and the fake clock."""
    rt = build_runtime(
        make_settings(db_url), connectors=world.provider(), clock=clock, engine=engine
    )
    runtime_module.install(rt)
    yield rt
    runtime_module.install(None)


@pytest.fixture
def inbox() -> Iterator[tuple[Inbox, int]]:
    """A real SMTP server (aiosmtpd) on loopback, keeping what it receives."""
    handler = Inbox()
    controller = Controller(handler, hostname="127.0.0.1", port=free_port())
    controller.start()
    try:
        yield handler, controller.port
    finally:
        controller.stop()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    """A local HTTP endpoint recording every POST (a webhook receiver)."""
    recorder = Receiver()
    with AsgiServer(recorder.app()) as server:
        recorder.base_url = server.base_url
        yield recorder

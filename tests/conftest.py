"""Shared fixtures: databases built by the migrations (SQLite and PostgreSQL), the runtime.

Every test that asks for `db_url` runs once per backend. PostgreSQL is required on CI
(CI=true): unreachable means the test fails. Elsewhere it is skipped with the reason.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime

import pytest
from aiosmtpd.controller import Controller
from sqlalchemy import Engine, create_engine, inspect, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError

from app import runtime as runtime_module
from app.config import Environment, Settings
from app.db.migrate import upgrade
from app.db.models import Account, Base
from app.db.session import make_engine
from app.runtime import Runtime, build_runtime
from connectors.base import CalendarConnector, CalendarInfo
from connectors.memory import MemoryConnector
from connectors.memory_store import MemoryStore
from tests.fakes.http_server import BackgroundServer
from tests.fakes.receivers import Inbox, Receiver, free_port

POSTGRES_ADMIN_URL = os.environ.get(
    "GG_TEST_POSTGRES_URL", "postgresql+psycopg://root@127.0.0.1:5432/test"
)
ON_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}
TEST_KEY = "p0tAk3Cq3LAd1FQm0x2YF3fNGhW6iSl7n5vQbWmZ0bA="


def _postgres_database() -> Iterator[str]:
    admin = create_engine(POSTGRES_ADMIN_URL, isolation_level="AUTOCOMMIT")
    name = f"gg_test_{secrets.token_hex(4)}"
    try:
        with admin.connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{name}"'))
    except OperationalError as error:
        admin.dispose()
        reason = f"PostgreSQL unreachable at {POSTGRES_ADMIN_URL}: {error.orig}"
        if ON_CI:
            pytest.fail(f"{reason} (required on CI)", pytrace=False)
        pytest.skip(reason)
    url = make_url(POSTGRES_ADMIN_URL).set(database=name).render_as_string(hide_password=False)
    try:
        upgrade(url)
        yield url
    finally:
        with admin.connect() as connection:
            connection.execute(
                text(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                    "WHERE datname = :name AND pid <> pg_backend_pid()"
                ),
                {"name": name},
            )
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
        admin.dispose()


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
        yield from _postgres_database()


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


def empty_tables(engine: Engine) -> None:
    """Delete every row (children first), the scheduler's job table included."""
    tables = set(inspect(engine).get_table_names())
    with engine.begin() as connection:
        for table in reversed(Base.metadata.sorted_tables):
            connection.execute(table.delete())
        if "apscheduler_jobs" in tables:
            connection.execute(text("DELETE FROM apscheduler_jobs"))


@dataclass
class FakeClock:
    """A settable clock: tests move time explicitly."""

    now: datetime = field(default_factory=lambda: datetime(2027, 1, 11, 8, 0, tzinfo=UTC))

    def __call__(self) -> datetime:
        return self.now


@dataclass
class MemoryWorld:
    """The provider side for tests: one MemoryStore per connected account."""

    stores: dict[str, MemoryStore] = field(default_factory=dict)

    def store(self, external_id: str) -> MemoryStore:
        if external_id not in self.stores:
            store = MemoryStore()
            store.add_calendar(CalendarInfo(id="primary", name=external_id, primary=True))
            self.stores[external_id] = store
        return self.stores[external_id]

    def provider(self) -> Callable[[Account], CalendarConnector]:
        def provide(account: Account) -> CalendarConnector:
            return MemoryConnector(self.store(account.external_id), owner_email=account.external_id)

        return provide


def make_settings(db_url: str, **overrides: object) -> Settings:
    """Settings for tests: no .env file, fixed test key."""
    values: dict[str, object] = {
        "env": Environment.TEST,
        "database_url": db_url,
        "encryption_keys": TEST_KEY,
        "scheduler_enabled": False,
    }
    values.update(overrides)
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]


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
    with BackgroundServer(recorder.app()) as server:
        recorder.base_url = server.base_url
        yield recorder

"""Test databases: a throwaway migrated PostgreSQL database, and emptying tables between tests.

PostgreSQL is required on CI (CI=true): unreachable means the test fails. Elsewhere it is
skipped with the reason.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator

import pytest
from sqlalchemy import Engine, create_engine, inspect, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError

from app.db.migrate import upgrade
from app.db.models import Base

POSTGRES_ADMIN_URL = os.environ.get(
    "GG_TEST_POSTGRES_URL", "postgresql+psycopg://root@127.0.0.1:5432/test"
)
ON_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}


def postgres_database() -> Iterator[str]:
    """Create a migrated PostgreSQL database, yield its URL, drop it afterwards."""
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


def empty_tables(engine: Engine) -> None:
    """Delete every row (children first), the scheduler's job table included."""
    tables = set(inspect(engine).get_table_names())
    with engine.begin() as connection:
        for table in reversed(Base.metadata.sorted_tables):
            connection.execute(table.delete())
        if "apscheduler_jobs" in tables:
            connection.execute(text("DELETE FROM apscheduler_jobs"))

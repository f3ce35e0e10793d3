"""Scaled mode against the real services: Redis (broker and coalescing keys) and PostgreSQL.

On CI (CI=true) an unreachable Redis or PostgreSQL fails these tests; elsewhere they are
skipped with the reason. Each test gets its own database, queue name and Redis key prefix,
so parallel runs never see each other's messages.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator

import pytest
import redis

from tests.conftest import ON_CI, _postgres_database

REDIS_URL = os.environ.get("GG_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


@pytest.fixture
def redis_url() -> str:
    """The Redis server, reachable (else skipped; on CI, failed)."""
    client = redis.Redis.from_url(REDIS_URL, socket_timeout=3)
    try:
        client.ping()
    except redis.RedisError as error:
        reason = f"Redis unreachable at {REDIS_URL}: {error}"
        if ON_CI:
            pytest.fail(f"{reason} (required on CI)", pytrace=False)
        pytest.skip(reason)
    finally:
        client.close()
    return REDIS_URL


@pytest.fixture
def queue_name(redis_url: str) -> Iterator[str]:
    """A queue (and Redis key prefix) of this test's own; its keys are deleted afterwards."""
    name = f"ggtest-{secrets.token_hex(4)}"
    yield name
    client = redis.Redis.from_url(redis_url)
    try:
        for key in client.scan_iter(match=f"{name}:*", count=500):
            client.delete(key)
    finally:
        client.close()


@pytest.fixture
def pg_url() -> Iterator[str]:
    """A fresh, migrated PostgreSQL database for this test (dropped afterwards)."""
    yield from _postgres_database()

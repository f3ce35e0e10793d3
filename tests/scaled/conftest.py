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

from tests.support.databases import ON_CI, postgres_database

REDIS_URL = os.environ.get("GG_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
RABBITMQ_URL = os.environ.get("GG_TEST_RABBITMQ_URL", "amqp://guest:guest@127.0.0.1:5672//")


def _unreachable(reason: str) -> None:
    if ON_CI:
        pytest.fail(f"{reason} (required on CI)", pytrace=False)
    pytest.skip(reason)


@pytest.fixture
def redis_url() -> str:
    """The Redis server, reachable (else skipped; on CI, failed)."""
    client = redis.Redis.from_url(REDIS_URL, socket_timeout=3)
    try:
        client.ping()
    except redis.RedisError as error:
        _unreachable(f"Redis unreachable at {REDIS_URL}: {error}")
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
    yield from postgres_database()


@pytest.fixture(params=["redis", "rabbitmq"])
def broker_url(request: pytest.FixtureRequest, redis_url: str, queue_name: str) -> Iterator[str]:
    """The Celery broker: Redis (the default), then RabbitMQ; this test's queue is deleted."""
    if request.param == "redis":
        yield redis_url
        return
    from kombu import Connection

    with Connection(RABBITMQ_URL, connect_timeout=3) as connection:
        try:
            connection.ensure_connection(max_retries=1)
        except Exception as error:  # kombu raises the transport's own errors
            _unreachable(f"RabbitMQ unreachable at {RABBITMQ_URL}: {error}")
    yield RABBITMQ_URL
    with Connection(RABBITMQ_URL, connect_timeout=3) as connection:
        channel = connection.default_channel
        channel.queue_delete(queue_name)
        channel.exchange_delete(queue_name)  # Celery declares one per queue, named alike

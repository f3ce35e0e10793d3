"""The webhook fast path for Microsoft Graph: subscriptions verified from memory, repeats told
by the change's key kept in memory (no receipt row per notification).

Forged, unknown and replayed notifications are answered as the database path answers them;
a known subscription's change costs no SQL; lifecycle events keep the database path.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import event, func, select
from sqlalchemy.engine import Engine

from app import runtime as runtime_module
from app.db.models import Calendar, WebhookReceipt
from app.db.session import transaction
from app.main import create_app
from app.runtime import Runtime, build_runtime
from app.security import hash_token
from app.services.accounts.rows import add_account
from app.services.people.users import create_user
from app.services.sync import watches
from app.services.sync.channel_cache import ChannelCache
from connectors.base import CalendarInfo
from connectors.microsoft import push as graph_push
from connectors.push import PushRequest
from tests.support.settings import make_settings
from tests.support.world import FakeClock, MemoryWorld

NOW = datetime(2027, 1, 11, 8, tzinfo=UTC)


@pytest.fixture
def app_runtime(
    db_url: str, engine: Engine, clock: FakeClock, world: MemoryWorld
) -> Iterator[Runtime]:
    settings = make_settings(
        db_url, microsoft_client_id="graph-client", microsoft_client_secret="graph-secret"
    )
    rt = build_runtime(settings, connectors=world.provider(), clock=clock, engine=engine)
    rt.push_channels = ChannelCache(rt.sessions, flush_seconds=3600)
    runtime_module.install(rt)
    yield rt
    rt.dispatcher.shutdown()
    runtime_module.install(None)


@pytest.fixture
def calendar_id(app_runtime: Runtime) -> int:
    with transaction(app_runtime.sessions) as session:
        user, _ = create_user(session, "me@corp.example", "UTC")
        account = add_account(
            session,
            user,
            "memory",
            "me@corp.example",
            [CalendarInfo(id="primary", name="Me", primary=True)],
        )
        calendar = session.scalars(select(Calendar).where(Calendar.account_id == account.id)).one()
        calendar.watch_id = "sub-1"
        calendar.watch_secret_hash = hash_token("s3cret")
        calendar.watch_expires_at = NOW + timedelta(days=2)
        return calendar.id


@pytest.fixture
def client(app_runtime: Runtime, calendar_id: int) -> Iterator[TestClient]:
    with TestClient(create_app(app_runtime, scheduler=False)) as test_client:
        yield test_client


def change(etag: str, **overrides: Any) -> dict[str, Any]:
    return {
        "subscriptionId": "sub-1",
        "clientState": "s3cret",
        "changeType": "updated",
        "resource": "me/events/AAA",
        "resourceData": {"id": "AAA", "@odata.etag": etag},
        **overrides,
    }


def body(*items: dict[str, Any]) -> dict[str, Any]:
    return {"value": list(items)}


@contextmanager
def statements(engine: Engine) -> Iterator[list[str]]:
    """SQL sent while answering (the syncs the dispatcher runs meanwhile do not count)."""
    seen: list[str] = []

    def record(*args: Any) -> None:
        if not threading.current_thread().name.startswith("gg-task"):
            seen.append(args[2])

    event.listen(engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", record)


def cached(rt: Runtime, *items: dict[str, Any]) -> list[watches.SyncRequest] | None:
    assert rt.push_channels is not None
    raw = json.dumps(body(*items)).encode()
    return watches.verify_cached(
        rt.push_channels, graph_push.parse(PushRequest({}, {}, raw)).notices
    )


def receipts(rt: Runtime) -> int:
    with rt.sessions() as session:
        return session.scalar(select(func.count()).select_from(WebhookReceipt)) or 0


def test_a_known_subscription_is_verified_without_sql_or_receipts(
    client: TestClient, app_runtime: Runtime, calendar_id: int
) -> None:
    assert client.post("/webhooks/microsoft", json=body(change("e1"))).status_code == 202
    with statements(app_runtime.engine) as seen:
        answer = client.post("/webhooks/microsoft", json=body(change("e2"), change("e3")))
    assert answer.status_code == 202
    assert seen == []
    assert receipts(app_runtime) == 0
    assert cached(app_runtime, change("e4")) == [watches.SyncRequest(calendar_id)]


@pytest.mark.parametrize(
    ("overrides", "status"),
    [
        ({"clientState": "guess"}, 403),
        ({"clientState": None}, 403),
        ({"subscriptionId": "sub-unknown"}, 404),
    ],
)
def test_forged_and_unknown_are_rejected_on_the_fast_path_too(
    client: TestClient, app_runtime: Runtime, overrides: dict[str, Any], status: int
) -> None:
    assert client.post("/webhooks/microsoft", json=body(change("e1"))).status_code == 202
    assert app_runtime.push_channels is not None
    assert app_runtime.push_channels.get("sub-1") is not None  # the fast path answers now
    forged = body(change("e2"), change("e2b", **overrides))
    assert client.post("/webhooks/microsoft", json=forged).status_code == status
    # the forged batch took no key: the real notice "e2" still counts
    assert cached(app_runtime, change("e2")) not in (None, [])


def test_a_forged_batch_on_the_database_path_takes_no_key(
    app_runtime: Runtime, calendar_id: int
) -> None:
    channels = ChannelCache(app_runtime.sessions)
    forged = body(change("e1"), change("e1b", clientState="guess"))
    notices = graph_push.parse(PushRequest({}, {}, json.dumps(forged).encode())).notices
    with transaction(app_runtime.sessions) as session, pytest.raises(watches.WebhookRejectedError):
        watches.verify(session, "microsoft", notices, NOW, channels)
    real = graph_push.parse(PushRequest({}, {}, json.dumps(body(change("e1"))).encode())).notices
    with transaction(app_runtime.sessions) as session:
        assert watches.verify(session, "microsoft", real, NOW, channels) == [
            watches.SyncRequest(calendar_id)
        ]


def test_replays_ask_for_nothing_and_new_changes_do(
    client: TestClient, app_runtime: Runtime, calendar_id: int
) -> None:
    # the first reaches the database path (the subscription is not cached yet): still no row
    assert client.post("/webhooks/microsoft", json=body(change("e1"))).status_code == 202
    assert cached(app_runtime, change("e1")) == []  # Graph retried it
    assert cached(app_runtime, change("e2")) == [watches.SyncRequest(calendar_id)]
    assert cached(app_runtime, change("e2")) == []
    # the same etag on another event, or another change type, is another change
    other = change("e2", resource="me/events/BBB", resourceData={"id": "BBB", "@odata.etag": "e2"})
    assert cached(app_runtime, other) == [watches.SyncRequest(calendar_id)]
    assert cached(app_runtime, change("e2", changeType="deleted")) == [
        watches.SyncRequest(calendar_id)
    ]
    assert client.post("/webhooks/microsoft", json=body(change("e1"))).status_code == 202
    assert receipts(app_runtime) == 0


def test_lifecycle_events_keep_the_database_path(
    client: TestClient, app_runtime: Runtime, calendar_id: int
) -> None:
    assert client.post("/webhooks/microsoft", json=body(change("e1"))).status_code == 202
    missed = {"subscriptionId": "sub-1", "clientState": "s3cret", "lifecycleEvent": "missed"}
    assert cached(app_runtime, missed) is None
    assert client.post("/webhooks/microsoft/lifecycle", json=body(missed)).status_code == 202
    assert receipts(app_runtime) == 1


def test_keys_are_kept_for_their_window_and_bounded() -> None:
    ticks = [0.0]
    channels = ChannelCache(None, key_window=100, max_keys=3, clock=lambda: ticks[0])  # type: ignore[arg-type]
    assert channels.first_key("sub-1", "a") is True
    assert channels.first_key("sub-1", "a") is False
    assert channels.first_key("sub-2", "a") is True  # keys are per subscription
    ticks[0] = 50.0
    assert channels.first_key("sub-1", "a") is False
    ticks[0] = 101.0
    assert channels.first_key("sub-1", "a") is True  # past the window: taken as new
    assert channels.first_key("sub-1", "b") is True
    assert channels.first_key("sub-1", "c") is True
    assert channels.first_key("sub-1", "d") is True  # the oldest ("a") made room
    assert channels.first_key("sub-1", "b") is False
    assert channels.first_key("sub-1", "a") is True

"""The webhook fast path: channels verified from memory, repeats told by message number.

Forged, unknown and replayed notifications are answered as the database path answers them;
a known channel's numbered change costs no SQL; changes to a channel are seen at once.
"""

from __future__ import annotations

import itertools
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
from app import tasks
from app.db.models import Calendar, WebhookReceipt
from app.db.session import transaction
from app.main import create_app
from app.runtime import Runtime, build_runtime
from app.security import hash_token
from app.services.accounts.rows import add_account
from app.services.people.users import create_user
from app.services.sync import watches
from app.services.sync.channel_cache import ECHO_WINDOW, SYNC_SPACING, ChannelCache
from connectors.base import CalendarInfo
from connectors.google import push as google_push
from connectors.push import PushRequest
from tests.support.settings import make_settings
from tests.support.world import FakeClock, MemoryWorld

NOW = datetime(2027, 1, 11, 8, tzinfo=UTC)


@pytest.fixture
def app_runtime(
    db_url: str, engine: Engine, clock: FakeClock, world: MemoryWorld
) -> Iterator[Runtime]:
    settings = make_settings(
        db_url,
        google_client_id="test.apps.googleusercontent.com",
        google_client_secret="test-secret",
    )
    rt = build_runtime(settings, connectors=world.provider(), clock=clock, engine=engine)
    # numbers are written when a test says so (test_numbers_are_written_after_answering)
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
        calendar.watch_id, calendar.watch_resource_id = "chan-1", "res-1"
        calendar.watch_secret_hash = hash_token("s3cret")
        calendar.watch_expires_at = NOW + timedelta(days=7)
        return calendar.id


@pytest.fixture
def client(app_runtime: Runtime, calendar_id: int) -> Iterator[TestClient]:
    with TestClient(create_app(app_runtime, scheduler=False)) as test_client:
        yield test_client


def headers(number: int | None, **overrides: str) -> dict[str, str]:
    out = {
        "x-goog-channel-id": "chan-1",
        "x-goog-channel-token": "s3cret",
        "x-goog-resource-id": "res-1",
        "x-goog-resource-state": "exists",
        **overrides,
    }
    if number is not None:
        out["x-goog-message-number"] = str(number)
    return out


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


def stored_number(rt: Runtime, calendar_id: int) -> int | None:
    with rt.sessions() as session:
        return session.get_one(Calendar, calendar_id).watch_message_number


def cached(rt: Runtime, number: int, **overrides: str) -> list[watches.SyncRequest] | None:
    assert rt.push_channels is not None
    notices = google_push.parse(PushRequest(headers(number, **overrides), {}, b"")).notices
    return watches.verify_cached(rt.push_channels, notices)


def test_a_known_channel_is_verified_without_sql(
    client: TestClient, app_runtime: Runtime, calendar_id: int
) -> None:
    assert client.post("/webhooks/google", headers=headers(5)).status_code == 200  # loads it
    with statements(app_runtime.engine) as seen:
        answer = client.post("/webhooks/google", headers=headers(6))
    assert answer.status_code == 200
    assert seen == []
    assert cached(app_runtime, 7) == [watches.SyncRequest(calendar_id)]


@pytest.mark.parametrize(
    ("overrides", "status"),
    [
        ({"x-goog-channel-token": "guess"}, 403),
        ({"x-goog-channel-token": ""}, 403),
        ({"x-goog-channel-id": "chan-unknown"}, 404),
        ({"x-goog-resource-id": "res-other"}, 403),
    ],
)
def test_forged_and_unknown_are_rejected_on_the_fast_path_too(
    client: TestClient, app_runtime: Runtime, overrides: dict[str, str], status: int
) -> None:
    assert client.post("/webhooks/google", headers=headers(1)).status_code == 200
    assert app_runtime.push_channels is not None
    assert app_runtime.push_channels.get("chan-1") is not None  # the fast path answers now
    assert client.post("/webhooks/google", headers=headers(2, **overrides)).status_code == status
    # a forged notice takes no number: the real one with that number still counts
    assert cached(app_runtime, 2) is not None and cached(app_runtime, 2) == []


def test_replays_and_older_numbers_ask_for_nothing(
    client: TestClient, app_runtime: Runtime, calendar_id: int
) -> None:
    assert client.post("/webhooks/google", headers=headers(10)).status_code == 200
    assert cached(app_runtime, 10) == []  # the same number again
    assert cached(app_runtime, 9) == []  # an older one (its change is in the newer sync)
    assert cached(app_runtime, 11) == [watches.SyncRequest(calendar_id)]
    assert client.post("/webhooks/google", headers=headers(11)).status_code == 200
    with app_runtime.sessions() as session:
        assert session.scalar(select(func.count()).select_from(WebhookReceipt)) == 0


def test_numbers_are_written_in_batches_and_survive_a_restart(
    client: TestClient, app_runtime: Runtime, calendar_id: int
) -> None:
    for number in (3, 4, 5):
        client.post("/webhooks/google", headers=headers(number))
    channels = app_runtime.push_channels
    assert channels is not None
    channels.flush()
    assert stored_number(app_runtime, calendar_id) == 5
    channels.first_time("chan-1", 4)  # an old number never lowers what is stored
    channels.flush()
    assert stored_number(app_runtime, calendar_id) == 5

    restarted = ChannelCache(app_runtime.sessions)
    notices = google_push.parse(PushRequest(headers(5), {}, b"")).notices
    assert watches.verify_cached(restarted, notices) is None  # not loaded yet: the database path
    with transaction(app_runtime.sessions) as session:
        assert watches.verify(session, "google", notices, NOW, restarted) == []  # a replay
    assert watches.verify_cached(restarted, notices) == []
    six = google_push.parse(PushRequest(headers(6), {}, b"")).notices
    assert watches.verify_cached(restarted, six) == [watches.SyncRequest(calendar_id)]


def test_numbers_are_written_after_answering(
    client: TestClient, app_runtime: Runtime, calendar_id: int
) -> None:
    app_runtime.push_channels = ChannelCache(app_runtime.sessions, flush_seconds=0)
    client.post("/webhooks/google", headers=headers(41))  # loads the channel
    client.post("/webhooks/google", headers=headers(42))  # taken in memory, written after
    assert stored_number(app_runtime, calendar_id) == 42


def test_a_changed_channel_is_reloaded_at_once(
    client: TestClient, app_runtime: Runtime, calendar_id: int
) -> None:
    assert client.post("/webhooks/google", headers=headers(1)).status_code == 200
    with transaction(app_runtime.sessions) as session:
        calendar = session.get_one(Calendar, calendar_id)
        calendar.watch_id = "chan-2"
        calendar.watch_secret_hash = hash_token("n3w")
    assert client.post("/webhooks/google", headers=headers(2)).status_code == 404
    fresh = headers(3, **{"x-goog-channel-id": "chan-2", "x-goog-channel-token": "n3w"})
    assert client.post("/webhooks/google", headers=fresh).status_code == 200
    stale = headers(4, **{"x-goog-channel-id": "chan-2"})
    assert client.post("/webhooks/google", headers=stale).status_code == 403


def test_a_channel_changed_elsewhere_is_reloaded_after_its_time(
    app_runtime: Runtime, calendar_id: int
) -> None:
    ticks = [0.0]
    channels = ChannelCache(app_runtime.sessions, ttl=60, clock=lambda: ticks[0])
    notices = google_push.parse(PushRequest(headers(1), {}, b"")).notices
    with transaction(app_runtime.sessions) as session:
        watches.verify(session, "google", notices, NOW, channels)
    # another process drops the channel with a plain UPDATE (no ORM event here)
    with app_runtime.engine.begin() as connection:
        connection.execute(Calendar.__table__.update().values(watch_id=None))
    two = google_push.parse(PushRequest(headers(2), {}, b"")).notices
    assert watches.verify_cached(channels, two) == [watches.SyncRequest(calendar_id)]
    ticks[0] = 61.0
    assert watches.verify_cached(channels, two) is None
    with transaction(app_runtime.sessions) as session, pytest.raises(watches.WebhookRejectedError):
        watches.verify(session, "google", two, NOW, channels)


def test_unnumbered_and_lifecycle_notices_take_the_database_path(
    client: TestClient, app_runtime: Runtime
) -> None:
    assert client.post("/webhooks/google", headers=headers(1)).status_code == 200
    assert client.post("/webhooks/google", headers=headers(None)).status_code == 200
    with app_runtime.sessions() as session:
        assert session.scalar(select(func.count()).select_from(WebhookReceipt)) == 1


def test_hints_for_one_calendar_are_spaced() -> None:
    ticks = [100.0]
    channels = ChannelCache(None, clock=lambda: ticks[0])  # type: ignore[arg-type]
    assert channels.sync_delay(1) == 0.0  # the first after a quiet spell: at once
    ticks[0] += 0.05
    first = channels.sync_delay(1)
    assert first == pytest.approx(SYNC_SPACING - 0.05)
    ticks[0] += 0.1
    assert channels.sync_delay(1) == pytest.approx(first - 0.1)  # joins the one already due
    assert channels.sync_delay(2) == 0.0  # another calendar is not held up
    ticks[0] += 10
    assert channels.sync_delay(1) == 0.0


def test_a_storm_of_hints_widens_the_window_and_single_ones_do_not() -> None:
    ticks = [0.0]
    channels = ChannelCache(None, clock=lambda: ticks[0])  # type: ignore[arg-type]
    syncs = []
    for _ in range(400):  # a hint every 10 ms for 4 s
        delay = channels.sync_delay(1)
        syncs.append(round(ticks[0] + delay, 3))
        ticks[0] += 0.01
    starts = sorted(set(syncs))
    gaps = [round(b - a, 3) for a, b in itertools.pairwise(starts)]
    assert gaps[:4] == [0.25, 0.25, 0.5, 1.0]
    assert set(gaps[4:]) == {1.0}
    assert all(s >= t for s, t in zip(syncs, [i * 0.01 for i in range(400)], strict=True))

    # one hint per window, on and on: no storm, so the window stays short
    start = ticks[0] = 1000.0
    assert channels.sync_delay(2) == 0.0
    for k in range(10):
        ticks[0] = start + 0.1 + k * SYNC_SPACING
        assert channels.sync_delay(2) == pytest.approx(SYNC_SPACING - 0.1)


def test_one_notification_per_own_write_is_taken_for_its_echo() -> None:
    ticks = [0.0]
    channels = ChannelCache(None, clock=lambda: ticks[0])  # type: ignore[arg-type]
    assert channels.take_echo(1) is False  # nothing written: a real change
    channels.expect_echo(1)
    channels.expect_echo(1)
    assert channels.take_echo(2) is False  # another calendar
    assert channels.take_echo(1) is True
    assert channels.take_echo(1) is True
    assert channels.take_echo(1) is False  # the third notification is a real change
    channels.expect_echo(1)
    ticks[0] += ECHO_WINDOW + 1
    assert channels.take_echo(1) is False  # an echo that never came is not waited for


def test_a_deferred_echo_sync_is_skipped_when_a_sync_ran_since(
    app_runtime: Runtime, calendar_id: int, clock: FakeClock
) -> None:
    asked = clock()
    with transaction(app_runtime.sessions) as session:
        session.get_one(Calendar, calendar_id).last_synced_at = asked + timedelta(seconds=1)
    assert tasks._synced_since(calendar_id, asked) is True
    assert tasks._synced_since(calendar_id, asked + timedelta(seconds=2)) is False


def test_writing_numbers_does_not_wait_for_a_running_sync(
    client: TestClient, app_runtime: Runtime, calendar_id: int, db_url: str
) -> None:
    """A sync holds its calendar's row while the provider answers; the write-back of message
    numbers gives up at once and writes them next time, instead of holding a web thread."""
    if not db_url.startswith("postgresql"):
        pytest.skip("row locks are PostgreSQL's; SQLite has one writer for the whole file")
    for number in (7, 8):  # 7 loads the channel (stored then), 8 is taken in memory
        client.post("/webhooks/google", headers=headers(number))
    channels = app_runtime.push_channels
    assert channels is not None
    with app_runtime.engine.connect() as sync_connection:  # a sync holding the row
        sync_connection.execute(
            select(Calendar.id).where(Calendar.id == calendar_id).with_for_update()
        )
        assert channels.flush() == 0
        sync_connection.rollback()
    assert stored_number(app_runtime, calendar_id) == 7
    assert channels.flush() == 1  # kept, and written once the row is free
    assert stored_number(app_runtime, calendar_id) == 8

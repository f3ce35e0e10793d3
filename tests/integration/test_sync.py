"""Syncing a calendar into the events cache: full, incremental, expired cursors, removals."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from app.db.models import Calendar
from app.db.session import transaction
from app.runtime import Runtime
from app.services import sync
from app.services.connections import add_account
from app.services.users import create_user
from connectors.base import Event, SelfResponse
from tests.support.world import MemoryWorld

START = datetime(2027, 1, 11, 9, tzinfo=UTC)


def invite(world: MemoryWorld, title: str, hours: int = 0) -> Event:
    store = world.store("me@corp.example")
    event = Event(
        id=store.new_id(),
        calendar_id="primary",
        title=title,
        start=START + timedelta(hours=hours),
        end=START + timedelta(hours=hours + 1),
        organizer_email="boss@corp.example",
        self_response=SelfResponse.NEEDS_ACTION,
        attendee_count=4,
    )
    store.put_event(event)
    return event


def run_sync(runtime: Runtime) -> tuple[sync.SyncResult | None, list[str]]:
    with transaction(runtime.sessions) as session:
        calendar = session.scalars(select(Calendar)).one()
        result = sync.sync_calendar(session, calendar, runtime.connectors, runtime.clock())
        titles = [e.title for e in sync.cached_events(session, calendar)]
    return result, titles


def test_full_then_incremental_then_expired(runtime: Runtime, world: MemoryWorld):
    with transaction(runtime.sessions) as session:
        user, _ = create_user(session, "me@corp.example", "UTC")
        add_account(
            session, user, "memory", "me@corp.example", world.store("me@corp.example").calendars()
        )
    first = invite(world, "Planning")

    result, titles = run_sync(runtime)
    assert result is not None and result.full and titles == ["Planning"]

    second = invite(world, "Retro", hours=2)
    result, titles = run_sync(runtime)
    assert result is not None and not result.full
    assert [e.id for e in result.changed] == [second.id]
    assert titles == ["Planning", "Retro"]

    world.store("me@corp.example").remove_event("primary", first.id)
    result, titles = run_sync(runtime)
    assert result is not None and result.removed_ids == [first.id] and titles == ["Retro"]

    # The provider forgets our cursor while an event changes: a full sync replaces the cache.
    invite(world, "Offsite", hours=4)
    world.store("me@corp.example").expire_cursors("primary")
    result, titles = run_sync(runtime)
    assert result is not None and result.full and titles == ["Retro", "Offsite"]

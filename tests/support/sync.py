"""Invitations in a memory calendar and one sync of it: the sync tests' world."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from app.db.models import Calendar
from app.db.session import transaction
from app.runtime import Runtime
from app.services.sync import events
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


def run_sync(runtime: Runtime) -> tuple[events.SyncResult | None, list[str]]:
    with transaction(runtime.sessions) as session:
        calendar = session.scalars(select(Calendar)).one()
        result = events.sync_calendar(session, calendar, runtime.connectors, runtime.clock())
        titles = [e.title for e in events.cached_events(session, calendar)]
    return result, titles

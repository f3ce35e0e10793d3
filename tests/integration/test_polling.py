"""Without a public https URL there is no push: calendars are polled instead."""

from __future__ import annotations

import time
from datetime import timedelta

from sqlalchemy import Engine, select

from app import tasks
from app.db.models import Calendar
from app.db.session import transaction
from app.runtime import Runtime
from app.scheduler import JobScheduler
from app.services.accounts.rows import add_account
from app.services.people.users import create_user
from app.services.sync.events import cached_events
from connectors.base import Event, SelfResponse
from tests.support.sync import START, invite
from tests.support.world import MemoryWorld


def test_poll_queues_a_sync_of_every_busy_calendar(runtime: Runtime, world: MemoryWorld):
    assert not runtime.settings.push_enabled
    with transaction(runtime.sessions) as session:
        user, _ = create_user(session, "me@corp.example", "UTC")
        add_account(
            session, user, "memory", "me@corp.example", world.store("me@corp.example").calendars()
        )
    invite(world, "Design review")

    assert tasks.poll_calendars() == 1
    assert tasks.renew_watches() == 0  # no push without https

    deadline = time.monotonic() + 5
    titles: list[str] = []
    while time.monotonic() < deadline and not titles:
        with runtime.sessions() as session:
            calendar = session.scalars(select(Calendar)).one()
            titles = [e.title for e in cached_events(session, calendar)]
        time.sleep(0.02)
    assert titles == ["Design review"]


def test_maintenance_jobs_follow_the_push_mode(runtime: Runtime, engine: Engine):
    scheduler = JobScheduler(engine)
    scheduler.start(paused=True)
    try:
        scheduler.schedule_maintenance(poll_seconds=300, push_enabled=False)
        jobs = dict(scheduler.jobs())
        assert "poll-calendars" in jobs and "renew-watches" not in jobs
        poll = scheduler._scheduler.get_job("poll-calendars")
        assert poll.trigger.interval.total_seconds() == 300
        scheduler.schedule_maintenance(poll_seconds=300, push_enabled=True)
        assert "renew-watches" in dict(scheduler.jobs())
        poll = scheduler._scheduler.get_job("poll-calendars")
        assert poll.trigger.interval.total_seconds() == 24 * 3600  # a safety net only
    finally:
        scheduler.shutdown()


def test_with_push_calendars_without_a_live_channel_are_still_polled_often(
    runtime: Runtime, engine: Engine
):
    """CalDAV cannot push: with push on, its calendars must not wait for the daily poll."""
    scheduler = JobScheduler(engine)
    scheduler.start(paused=True)
    try:
        scheduler.schedule_maintenance(poll_seconds=300, push_enabled=True)
        often = scheduler._scheduler.get_job("poll-unwatched-calendars")
        assert often is not None and often.trigger.interval.total_seconds() == 300
        scheduler.schedule_maintenance(poll_seconds=300, push_enabled=False)
        # without push the full poll is frequent already
        assert scheduler._scheduler.get_job("poll-unwatched-calendars") is None
    finally:
        scheduler.shutdown()


def test_the_frequent_poll_reads_only_calendars_without_a_live_channel(
    runtime: Runtime, world: MemoryWorld
):
    with transaction(runtime.sessions) as session:
        user, _ = create_user(session, "me@corp.example", "UTC")
        for external_id in ("watched@corp.example", "caldav@corp.example"):
            add_account(session, user, "memory", external_id, world.store(external_id).calendars())
        watched = session.scalars(select(Calendar).order_by(Calendar.id)).first()
        assert watched is not None
        watched.watch_expires_at = runtime.clock() + timedelta(days=3)
    for external_id in ("watched@corp.example", "caldav@corp.example"):
        store = world.store(external_id)
        store.put_event(
            Event(
                id=store.new_id(),
                calendar_id="primary",
                title=f"Review for {external_id}",
                start=START,
                end=START + timedelta(hours=1),
                organizer_email="boss@corp.example",
                self_response=SelfResponse.NEEDS_ACTION,
                attendee_count=4,
            )
        )

    assert tasks.poll_unwatched_calendars() == 1

    def titles() -> dict[str, list[str]]:
        with runtime.sessions() as session:
            return {
                c.name: [e.title for e in cached_events(session, c)]
                for c in session.scalars(select(Calendar))
            }

    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and not titles()["caldav@corp.example"]:
        time.sleep(0.02)
    assert titles() == {
        "caldav@corp.example": ["Review for caldav@corp.example"],
        "watched@corp.example": [],  # its channel is live: push tells about its changes
    }

    with transaction(runtime.sessions) as session:
        watched = session.scalars(select(Calendar).order_by(Calendar.id)).first()
        assert watched is not None
        watched.watch_expires_at = runtime.clock() - timedelta(minutes=1)  # the channel lapsed
    assert tasks.poll_unwatched_calendars() >= 1
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and not titles()["watched@corp.example"]:
        time.sleep(0.02)
    assert titles()["watched@corp.example"] == ["Review for watched@corp.example"]

"""Without a public https URL there is no push: calendars are polled instead."""

from __future__ import annotations

import time

from sqlalchemy import Engine, select

from app import tasks
from app.db.models import Calendar
from app.db.session import transaction
from app.runtime import Runtime
from app.scheduler import BookingScheduler
from app.services.connections import add_account
from app.services.sync import cached_events
from app.services.users import create_user
from tests.conftest import MemoryWorld
from tests.integration.test_sync import invite


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
    scheduler = BookingScheduler(engine)
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

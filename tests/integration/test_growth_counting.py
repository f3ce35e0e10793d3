"""Other events counted as growth: the tag, rules and marks, once each, in ratio and baseline."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from app import tasks
from app.db.models import Calendar, User
from app.db.session import transaction
from app.domain.growth_rules import GrowthRules
from app.domain.plan import PlanSpec
from app.domain.time import IsoWeek
from app.runtime import Runtime
from app.services.accounts.rows import add_account
from app.services.growth import counting
from app.services.people.users import create_user
from app.services.planning.plans import create_plan, get_plan
from app.services.reports import baseline, ledgers
from connectors.base import Event, SelfResponse
from tests.support.world import FakeClock, MemoryWorld

BERLIN = ZoneInfo("Europe/Berlin")
ME, ALSO = "me@corp.example", "me@home.example"
W02 = IsoWeek(2027, 2)  # Mon 2027-01-11


def at(day: int, hour: int) -> datetime:
    return datetime(2027, 1, day, hour, tzinfo=BERLIN)


def put(world: MemoryWorld, store_id: str, day: int, hour: int, title: str, organizer: str) -> str:
    store = world.store(store_id)
    event_id = store.new_id()
    store.put_event(
        Event(
            id=event_id,
            calendar_id="primary",
            title=title,
            start=at(day, hour),
            end=at(day, hour + 1),
            organizer_email=organizer,
            self_response=SelfResponse.ACCEPTED,
            attendee_count=2,
        )
    )
    return event_id


@pytest.fixture
def week(runtime: Runtime, world: MemoryWorld, clock: FakeClock) -> dict[str, object]:
    """Two connected calendars; the same tagged event is on both; a plan without blocks."""
    clock.now = at(25, 8)
    with transaction(runtime.sessions) as session:
        user, _ = create_user(session, ME, "Europe/Berlin")
        for store_id in (ME, ALSO):
            add_account(session, user, "memory", store_id, world.store(store_id).calendars())
        plan = create_plan(session, user, PlanSpec.model_validate({"goal": "Lead a project"}))
        ids = {"user": user.id, "plan": plan.id}
    for store_id in (ME, ALSO):  # one event, invited on both calendars
        put(world, store_id, 11, 14, "Reading #growth", "mentor@corp.example")
    put(world, ME, 12, 14, "Mentoring session", "lead@corp.example")
    ids["sync"] = put(world, ME, 13, 10, "Team sync", "boss@corp.example")
    ids["talk"] = put(world, ME, 14, 12, "Lunch talk #growth", "hr@corp.example")
    with runtime.sessions() as session:
        calendars = list(session.scalars(select(Calendar).order_by(Calendar.id)))
        ids["calendar"] = calendars[0].id
    for calendar in calendars:
        tasks.sync_calendar(calendar.id)
    return ids


def ledger(runtime: Runtime, ids: dict[str, object]):
    with runtime.sessions() as session:
        user = session.get_one(User, ids["user"])
        plan = get_plan(session, user, int(str(ids["plan"])))
        (row,) = ledgers.weekly_report(session, user, plan, [W02], runtime.clock())
        return row


def baseline_w02(runtime: Runtime, ids: dict[str, object]) -> dict[str, int]:
    with transaction(runtime.sessions) as session:
        user = session.get_one(User, ids["user"])
        data = baseline.compute_baseline(session, user, runtime.connectors, runtime.clock()).data
    return next(w for w in data["weeks"] if w["week"] == str(W02))


def test_the_tag_alone_counts_a_tagged_event_once_although_it_is_on_two_calendars(
    runtime: Runtime, week: dict[str, object]
) -> None:
    row = ledger(runtime, week)
    assert (row.tagged_minutes, row.growth_minutes, row.meeting_minutes) == (120, 120, 120)
    assert baseline_w02(runtime, week)["growth_minutes"] == 120


def test_rules_and_marks_count_each_event_exactly_once_in_ratio_and_baseline(
    runtime: Runtime, week: dict[str, object]
) -> None:
    with transaction(runtime.sessions) as session:
        user = session.get_one(User, week["user"])
        # "Reading #growth" matches the tag *and* the organizer rule: still one hour.
        counting.set_rules(
            session,
            user,
            GrowthRules.of(organizers=["Mentor@corp.example"], title_words=["mentoring"]),
        )
        calendar = int(str(week["calendar"]))
        counting.set_mark(session, user, calendar, str(week["sync"]), True)
        counting.set_mark(session, user, calendar, str(week["talk"]), False)  # tagged, but not
    row = ledger(runtime, week)
    # Reading (tag + organizer, on two calendars) + Mentoring (title word) + Team sync (marked)
    assert (row.tagged_minutes, row.growth_minutes, row.meeting_minutes) == (180, 180, 60)
    assert row.growth_ratio == pytest.approx(180 / 2400)
    baseline = baseline_w02(runtime, week)
    assert (baseline["growth_minutes"], baseline["meeting_minutes"]) == (180, 60)

    with transaction(runtime.sessions) as session:  # back to the rules for the talk
        user = session.get_one(User, week["user"])
        counting.set_mark(session, user, calendar, str(week["talk"]), None)
    assert ledger(runtime, week).growth_minutes == 240

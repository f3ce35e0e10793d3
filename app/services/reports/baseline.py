"""The baseline at connect: the four weeks before GrowthGuard, read live from the calendars."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.db.models import User
from app.db.reports_models import Baseline
from app.domain.ledger import DEFAULT_GROWTH_KEYWORD, EventFact, event_split, last_complete_week
from app.domain.time import resolve_zone
from app.services.accounts.live import ConnectorFor
from app.services.accounts.rows import mark_needs_reauth, user_calendars
from app.services.growth import counting as growth_counting
from app.services.people.users import working_hours_of
from app.services.reports.ledgers import event_fact, week_range
from connectors.errors import ConnectorError, ReauthRequired

BASELINE_WEEKS = 4


def compute_baseline(
    session: Session,
    user: User,
    connectors: ConnectorFor,
    now: datetime,
    keyword: str = DEFAULT_GROWTH_KEYWORD,
) -> Baseline:
    """Split the four complete weeks before ``now`` into meeting, growth and free time; store it.

    Reads the busy sources live: the events cache may not reach four weeks back. A calendar
    that cannot be read is left out and named in ``data["unreadable"]``.
    """
    zone = resolve_zone(user.timezone)
    hours = working_hours_of(user)
    latest = last_complete_week(now, zone)
    weeks = week_range(latest.plus(1 - BASELINE_WEEKS), latest)
    start, end = weeks[0].start(zone), latest.end(zone)
    facts: list[EventFact] = []
    unreadable: list[str] = []
    decide = growth_counting.decider(session, user)
    for account, calendar in user_calendars(session, user):
        if not calendar.is_busy_source:
            continue
        try:
            listed = connectors(account).list_events(calendar.provider_calendar_id, start, end)
        except ReauthRequired as error:
            mark_needs_reauth(session, account, str(error))
            unreadable.append(calendar.name or calendar.provider_calendar_id)
            continue
        except ConnectorError:
            unreadable.append(calendar.name or calendar.provider_calendar_id)
            continue
        facts.extend(
            replace(event_fact(event), growth=decide.event(calendar, event)) for event in listed
        )
    per_week: list[dict[str, Any]] = []
    for week in weeks:
        w_start, w_end = week.start(zone), week.end(zone)
        split = event_split(
            week, zone, hours, (f for f in facts if f.end > w_start and f.start < w_end), keyword
        )
        per_week.append(
            {
                "week": str(week),
                "working_minutes": split.working_minutes,
                "meeting_minutes": split.meeting_minutes,
                "growth_minutes": split.growth_minutes,
                "free_minutes": split.free_minutes,
            }
        )
    fields = ("working_minutes", "meeting_minutes", "growth_minutes", "free_minutes")
    data: dict[str, Any] = {
        "timezone": user.timezone,
        "keyword": decide.rules.keyword,
        "weeks": per_week,
        "total": {name: sum(int(w[name]) for w in per_week) for name in fields},
        "unreadable": unreadable,
    }
    row = session.scalars(select(Baseline).where(Baseline.user_id == user.id)).first()
    if row is None:
        row = Baseline(user_id=user.id, computed_at=now, data=data)
        session.add(row)
    else:
        row.computed_at, row.data = now, data
    session.flush()
    return row


def baseline_of(session: Session, user: User) -> dict[str, Any] | None:
    """The stored baseline as JSON, or None before the first connection."""
    row = session.scalars(select(Baseline).where(Baseline.user_id == user.id)).first()
    if row is None:
        return None
    return {"computed_at": row.computed_at.isoformat(), **row.data}

"""Days off: leave days, the public-holiday region, out-of-office time, and the week targets
they reduce (the pure rules are in app/domain/days_off.py; this module reads and writes)."""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence
from datetime import date, datetime, timedelta
from functools import lru_cache

import holidays as holiday_data
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.db.daysoff_models import LeaveDay
from app.db.models import Account, Calendar, CalendarEvent, User
from app.domain.days_off import (
    Away,
    WeekTarget,
    leave_day_problem,
    week_target,
    working_days,
)
from app.domain.plan import PlanSpec
from app.domain.time import IsoWeek
from app.services.errors import InvalidInputError, NotFoundError
from app.services.planning.plans import plan_working_hours, plan_zone
from connectors.base import Event, EventStatus, EventType, SelfResponse

# One form can add a fortnight's holiday at once, not a decade of rows.
MAX_LEAVE_SPAN_DAYS = 62
NOTE_MAX = 200
# Holiday names are shown in English where the `holidays` package has them.
HOLIDAY_LANGUAGE = "en_US"


@lru_cache(maxsize=1)
def supported_regions() -> dict[str, tuple[str, ...]]:
    """Country code -> its subdivision codes, as the `holidays` package knows them."""
    return {
        country: tuple(subdivisions)
        for country, subdivisions in holiday_data.list_supported_countries().items()
    }


def region_problems(country: str | None, subdivision: str | None) -> list[tuple[str, str]]:
    """Why this region cannot be used, as (field, message) pairs; [] when fine."""
    if not country:
        return [("subdivision", "choose a country first")] if subdivision else []
    regions = supported_regions()
    if country not in regions:
        return [("country", f"{country[:10]!r} is not a supported country code (e.g. DE, US, GB)")]
    if subdivision and subdivision not in regions[country]:
        known = ", ".join(regions[country][:12]) or "none"
        return [
            (
                "subdivision",
                f"{subdivision[:10]!r} is not a subdivision of {country} (known: {known}"
                f"{', …' if len(regions[country]) > 12 else ''})",
            )
        ]
    return []


def set_region(session: Session, user: User, country: str | None, subdivision: str | None) -> None:
    """Choose whose public holidays count as days off; None clears it."""
    country = (country or "").strip().upper() or None
    subdivision = (subdivision or "").strip().upper() or None
    problems = region_problems(country, subdivision)
    if problems:
        raise InvalidInputError(problems)
    user.holiday_country, user.holiday_subdivision = country, subdivision
    session.flush()


@lru_cache(maxsize=64)
def _holidays_of(country: str, subdivision: str | None, year: int) -> tuple[tuple[date, str], ...]:
    try:
        found = holiday_data.country_holidays(
            country, subdiv=subdivision, years=year, language=HOLIDAY_LANGUAGE
        )
    except NotImplementedError:  # a code the installed package no longer knows
        return ()
    return tuple(sorted((day, str(name)) for day, name in found.items()))


def public_holidays(
    country: str | None, subdivision: str | None, first: date, last: date
) -> dict[date, str]:
    """The region's public holidays in [first, last], by local date; {} without a region."""
    if not country:
        return {}
    out: dict[date, str] = {}
    for year in range(first.year, last.year + 1):
        for day, name in _holidays_of(country, subdivision, year):
            if first <= day <= last:
                out[day] = name
    return out


def list_leave(session: Session, user: User) -> list[LeaveDay]:
    """The person's leave days, earliest first."""
    return list(
        session.scalars(select(LeaveDay).where(LeaveDay.user_id == user.id).order_by(LeaveDay.day))
    )


def add_leave(
    session: Session,
    user: User,
    first: date,
    last: date | None,
    note: str,
    today: date,
) -> list[LeaveDay]:
    """Mark ``first`` (through ``last``, inclusive) as leave; days already marked are kept."""
    problems: list[tuple[str, str]] = []
    for name, day in (("day", first), ("until", last)):
        problem = leave_day_problem(day, today) if day is not None else None
        if problem:
            problems.append((name, problem))
    last = last or first
    # With a day out of range the span checks would only repeat it.
    if not problems and last < first:
        problems.append(("until", "must not be before the first day"))
    elif not problems and (last - first).days >= MAX_LEAVE_SPAN_DAYS:
        problems.append(("until", f"add at most {MAX_LEAVE_SPAN_DAYS} days at once"))
    note = note.strip()
    if len(note) > NOTE_MAX:
        problems.append(("note", f"at most {NOTE_MAX} characters"))
    if problems:
        raise InvalidInputError(problems)
    have = {
        row.day: row
        for row in session.scalars(
            select(LeaveDay).where(
                LeaveDay.user_id == user.id, LeaveDay.day >= first, LeaveDay.day <= last
            )
        )
    }
    out: list[LeaveDay] = []
    day = first
    while day <= last:
        row = have.get(day)
        if row is None:
            row = LeaveDay(user_id=user.id, day=day, note=note)
            session.add(row)
        out.append(row)
        day += timedelta(days=1)
    session.flush()
    return out


def remove_leave(session: Session, user: User, day: date) -> None:
    """Unmark one leave day; NotFoundError when it was not marked."""
    row = session.scalars(
        select(LeaveDay).where(LeaveDay.user_id == user.id, LeaveDay.day == day)
    ).first()
    if row is None:
        raise NotFoundError("leave day")
    session.delete(row)
    session.flush()


def leave_dates(session: Session, user: User, first: date, last: date) -> set[date]:
    """Leave days in [first, last]."""
    return set(
        session.scalars(
            select(LeaveDay.day).where(
                LeaveDay.user_id == user.id, LeaveDay.day >= first, LeaveDay.day <= last
            )
        )
    )


def leave_dates_many(
    session: Session, user_ids: Iterable[int], first: date, last: date
) -> dict[int, set[date]]:
    """Leave days in [first, last] of several people at once (batch booking), by user id."""
    out: dict[int, set[date]] = {}
    for user_id, day in session.execute(
        select(LeaveDay.user_id, LeaveDay.day).where(
            LeaveDay.user_id.in_(list(user_ids)), LeaveDay.day >= first, LeaveDay.day <= last
        )
    ):
        out.setdefault(user_id, set()).add(day)
    return out


def is_away(event: Event) -> bool:
    """An out-of-office event the person has not declined or cancelled."""
    return (
        event.out_of_office
        and event.status is not EventStatus.CANCELLED
        and event.self_response is not SelfResponse.DECLINED
    )


def away_of_events(events: Iterable[Event]) -> list[Away]:
    """Out-of-office spans from live provider events."""
    return [Away(e.start, e.end, e.all_day) for e in events if is_away(e)]


def cached_away(session: Session, user: User, start: datetime, end: datetime) -> list[Away]:
    """Out-of-office spans on the person's busy sources overlapping [start, end), from the cache."""
    rows = session.execute(
        select(CalendarEvent.start, CalendarEvent.end, CalendarEvent.all_day)
        .join(Calendar, Calendar.id == CalendarEvent.calendar_id)
        .join(Account, Account.id == Calendar.account_id)
        .where(
            Account.user_id == user.id,
            Calendar.is_busy_source.is_(True),
            CalendarEvent.event_type == EventType.OUT_OF_OFFICE.value,
            CalendarEvent.status != EventStatus.CANCELLED.value,
            (CalendarEvent.self_response.is_(None))
            | (CalendarEvent.self_response != SelfResponse.DECLINED.value),
            CalendarEvent.end > start,
            CalendarEvent.start < end,
        )
    ).all()
    return [Away(s, e, all_day) for s, e, all_day in rows]


def week_targets(
    session: Session,
    user: User,
    spec: PlanSpec,
    weeks: Sequence[IsoWeek],
    away: Sequence[Away] | None = None,
    leave: Collection[date] | None = None,
) -> dict[IsoWeek, WeekTarget]:
    """Each week's target after leave, public holidays and out-of-office time.

    ``away``: out-of-office spans already read (booking reads the calendars live); None reads
    them from the events cache. ``leave``: leave days already read (batch booking), or None.
    """
    if not weeks:
        return {}
    zone = plan_zone(spec, user)
    hours = plan_working_hours(spec, user)
    windows = spec.window_ranges()
    ordered = sorted(set(weeks))
    first, last = ordered[0].monday(), ordered[-1].monday() + timedelta(days=6)
    if leave is None:
        leave = leave_dates(session, user, first, last)
    holidays = public_holidays(user.holiday_country, user.holiday_subdivision, first, last)
    if away is None:
        away = cached_away(session, user, ordered[0].start(zone), ordered[-1].end(zone))
    return {
        week: week_target(
            week,
            spec.weekly_target_minutes,
            working_days(week, spec.days, windows, hours, zone),
            leave,
            holidays,
            away,
        )
        for week in ordered
    }

"""Days off and the weekly target they reduce (issue 17: "my holidays broke my streak").

A *day off* is one of the plan's working days (an allowed day with window time inside working
hours) that the person is away: a leave day they entered, a public holiday of their chosen
region, or a day an out-of-office event covers at least half of. Partial days: an out-of-office
event covering at least half of that day's window time (plan windows inside working hours, in
the plan's zone) takes the day; a shorter one (a dentist's hour) leaves the target alone.

The week's target shrinks pro rata: ``target * (working days - days off) / working days``,
rounded to whole minutes. A week whose working days are all off is *away*: no target, and it
neither breaks nor extends a streak. Pure: dates and instants in, no clock.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from enum import StrEnum
from zoneinfo import ZoneInfo

from app.domain.intervals import Interval, intersect, merge, total_minutes
from app.domain.time import IsoWeek, TimeRange, Weekday, local_interval, weekday_of

# A leave entry this far from today is a typo, not a plan (years 1 and 9999 break week maths).
LEAVE_YEARS_AROUND = 5


class Reason(StrEnum):
    """Why a day is off; when several apply, the first in this order names it."""

    LEAVE = "leave"
    HOLIDAY = "holiday"
    OUT_OF_OFFICE = "out_of_office"


@dataclass(frozen=True, slots=True)
class DayOff:
    """One working day of the plan the person is away, and why (``name``: the holiday's)."""

    day: date
    reason: Reason
    name: str = ""


@dataclass(frozen=True, slots=True)
class Away:
    """An out-of-office span. ``all_day``: UTC midnights encoding floating dates."""

    start: datetime
    end: datetime
    all_day: bool = False

    def dates(self) -> tuple[date, date]:
        """[first, last) floating dates of an all-day span."""
        first = self.start.astimezone(UTC).date()
        return first, max(self.end.astimezone(UTC).date(), first + timedelta(days=1))


@dataclass(frozen=True, slots=True)
class WeekTarget:
    """A week's target after days off: ``minutes`` of ``base_minutes``."""

    week: IsoWeek
    base_minutes: int
    minutes: int
    working_days: int
    days_off: tuple[DayOff, ...] = ()

    @property
    def away(self) -> bool:
        """Every working day of the week is off (no target; the streak skips the week)."""
        return self.working_days > 0 and len(self.days_off) >= self.working_days

    @property
    def reduced(self) -> bool:
        return bool(self.days_off)

    def explanation(self) -> str:
        """Why the target changed, e.g. "2 days of leave: target 4 h → 2.4 h"; "" if it did not."""
        if not self.days_off:
            return ""
        reasons = describe(self.days_off)
        if self.away:
            return f"away all week ({reasons}): no target"
        return f"{reasons}: target {_hours(self.base_minutes)} → {_hours(self.minutes)}"


def _hours(minutes: int) -> str:
    return f"{round(minutes / 60, 1):g} h"


def _days(count: int) -> str:
    return "1 day" if count == 1 else f"{count} days"


def describe(days: Sequence[DayOff]) -> str:
    """ "2 days of leave; public holiday: Christmas Day; 1 day out of office"."""
    parts: list[str] = []
    leave = sum(1 for d in days if d.reason is Reason.LEAVE)
    if leave:
        parts.append(f"{_days(leave)} of leave")
    names = [d.name or "public holiday" for d in days if d.reason is Reason.HOLIDAY]
    if names:
        label = "public holiday" if len(names) == 1 else "public holidays"
        parts.append(f"{label}: {', '.join(dict.fromkeys(names))}")
    away = sum(1 for d in days if d.reason is Reason.OUT_OF_OFFICE)
    if away:
        parts.append(f"{_days(away)} out of office")
    return "; ".join(parts)


def window_of_day(
    day: date,
    windows: Sequence[TimeRange],
    hours: Mapping[Weekday, Sequence[TimeRange]],
    zone: ZoneInfo,
) -> list[Interval]:
    """The day's plan windows inside its working hours, as instants (DST-correct)."""
    wins = (local_interval(day, rng, zone) for rng in windows)
    work = (local_interval(day, rng, zone) for rng in hours.get(weekday_of(day), ()))
    return intersect([w for w in wins if w is not None], [h for h in work if h is not None])


def working_days(
    week: IsoWeek,
    days: Collection[Weekday],
    windows: Sequence[TimeRange],
    hours: Mapping[Weekday, Sequence[TimeRange]],
    zone: ZoneInfo,
) -> dict[date, list[Interval]]:
    """The plan's working days of ``week`` (allowed, with window time) and their window time."""
    out: dict[date, list[Interval]] = {}
    for day in week.days():
        if weekday_of(day) not in days:
            continue
        found = window_of_day(day, windows, hours, zone)
        if total_minutes(found) > 0:
            out[day] = found
    return out


def _mostly_away(day: date, window: list[Interval], away: Iterable[Away]) -> bool:
    timed: list[Interval] = []
    for span in away:
        if span.all_day:
            first, last = span.dates()
            if first <= day < last:
                return True
        elif span.end > span.start:
            timed.append(Interval(span.start, span.end))
    if not timed:
        return False
    covered = total_minutes(intersect(merge(timed), window))
    return covered * 2 >= total_minutes(window)


def days_off(
    working: Mapping[date, list[Interval]],
    leave: Collection[date],
    holidays: Mapping[date, str],
    away: Sequence[Away],
) -> list[DayOff]:
    """The working days that are off, each with its first reason (leave, holiday, away)."""
    out: list[DayOff] = []
    for day in sorted(working):
        if day in leave:
            out.append(DayOff(day, Reason.LEAVE))
        elif day in holidays:
            out.append(DayOff(day, Reason.HOLIDAY, holidays[day]))
        elif _mostly_away(day, working[day], away):
            out.append(DayOff(day, Reason.OUT_OF_OFFICE))
    return out


def week_target(
    week: IsoWeek,
    base_minutes: int,
    working: Mapping[date, list[Interval]],
    leave: Collection[date] = (),
    holidays: Mapping[date, str] | None = None,
    away: Sequence[Away] = (),
) -> WeekTarget:
    """The week's target reduced pro rata by its days off (see the module docstring)."""
    off = days_off(working, leave, holidays or {}, away)
    total = len(working)
    minutes = base_minutes if total == 0 else round(base_minutes * (total - len(off)) / total)
    return WeekTarget(week, base_minutes, minutes, total, tuple(off))


def leave_day_problem(day: date, today: date) -> str | None:
    """Why ``day`` cannot be a leave day (too far from ``today``), or None."""
    if abs(day.year - today.year) > LEAVE_YEARS_AROUND:
        return f"must be within {LEAVE_YEARS_AROUND} years of today"
    return None

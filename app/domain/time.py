"""Calendar vocabulary: zones, ISO weeks, wall-clock ranges and their DST-correct instants."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from datetime import time as dtime
from functools import lru_cache
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from app.domain.intervals import Interval

Weekday = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
WEEKDAYS: tuple[Weekday, ...] = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")

_WEEK_RE = re.compile(r"(\d{4})-W(\d{2})")
_RANGE_RE = re.compile(r"(\d{2}):(\d{2})-(\d{2}):(\d{2})")
_MIDNIGHT = dtime(0, 0)


def resolve_zone(name: str) -> ZoneInfo:
    """The ZoneInfo for an IANA name; ValueError for unknown or malformed names."""
    if not name:
        raise ValueError(f"unknown time zone {name!r}")
    try:
        return ZoneInfo(name)
    # odd keys surface as ValueError (absolute/relative paths, NUL) or OSError (directories)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        raise ValueError(f"unknown time zone {name!r}") from None


def _require_aware(value: datetime, what: str) -> None:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{what} must be a timezone-aware datetime")


def weekday_of(day: date) -> Weekday:
    """The three-letter weekday name of a date."""
    return WEEKDAYS[day.weekday()]


def _weeks_in(year: int) -> int:
    # Dec 28 is always in the last ISO week of its year
    return date(year, 12, 28).isocalendar().week


@dataclass(frozen=True, slots=True, order=True)
class IsoWeek:
    """An ISO 8601 week, e.g. 2027-W03."""

    year: int
    week: int

    def __post_init__(self) -> None:
        if not 1 <= self.year <= 9998:
            raise ValueError(f"ISO week year {self.year} is out of range")
        last = _weeks_in(self.year)
        if not 1 <= self.week <= last:
            raise ValueError(f"{self.year} has ISO weeks 1..{last}, not {self.week}")

    @classmethod
    def parse(cls, text: str) -> IsoWeek:
        """Parse "YYYY-Www" (e.g. "2027-W03"; "2027-w03" too)."""
        match = _WEEK_RE.fullmatch(text.strip().upper())
        if match is None:
            raise ValueError(f"{text!r} is not an ISO week like 2027-W03")
        return cls(int(match.group(1)), int(match.group(2)))

    def __str__(self) -> str:
        return f"{self.year:04d}-W{self.week:02d}"

    def label(self, *, with_year: bool = False) -> str:
        """How a person names it: "Week of 30 Nov" (its Monday), or "Week of 30 Nov 2026"."""
        monday = self.monday()
        text = f"Week of {monday.day} {monday:%b}"
        return f"{text} {monday.year}" if with_year else text

    @classmethod
    def containing(cls, moment: datetime, zone: ZoneInfo) -> IsoWeek:
        """The week of the local date of ``moment`` in ``zone``."""
        _require_aware(moment, "moment")
        return cls.of_date(moment.astimezone(zone).date())

    @classmethod
    def of_date(cls, day: date) -> IsoWeek:
        """The week a local date falls in."""
        iso = day.isocalendar()
        return cls(iso.year, iso.week)

    def monday(self) -> date:
        """The Monday of this week."""
        return date.fromisocalendar(self.year, self.week, 1)

    def days(self) -> list[date]:
        """The seven local dates Monday..Sunday."""
        first = self.monday()
        return [first + timedelta(days=i) for i in range(7)]

    def start(self, zone: ZoneInfo) -> datetime:
        """Local Monday 00:00 (or the first instant of Monday) as an aware datetime in ``zone``."""
        return day_bounds(self.monday(), zone).start.astimezone(zone)

    def end(self, zone: ZoneInfo) -> datetime:
        """The start of the next week in ``zone`` (exclusive end of this one)."""
        return self.next().start(zone)

    def next(self) -> IsoWeek:
        """The following week."""
        return self.plus(1)

    def plus(self, n: int) -> IsoWeek:
        """The week ``n`` weeks later (negative goes back)."""
        return IsoWeek.of_date(self.monday() + timedelta(weeks=n))


@dataclass(frozen=True, slots=True)
class TimeRange:
    """A wall-clock range within a day; ``end == time(0)`` means 24:00 (end of day)."""

    start: dtime
    end: dtime

    def __post_init__(self) -> None:
        for value in (self.start, self.end):
            if value.tzinfo is not None or value.second or value.microsecond:
                raise ValueError("TimeRange bounds must be naive whole minutes")
        if self.end_minute <= self.start_minute:
            raise ValueError(f"time range {self} must end after it starts")

    @property
    def start_minute(self) -> int:
        """Minutes after midnight of the start."""
        return self.start.hour * 60 + self.start.minute

    @property
    def end_minute(self) -> int:
        """Minutes after midnight of the end; 1440 for 24:00."""
        if self.end == _MIDNIGHT:
            return 24 * 60
        return self.end.hour * 60 + self.end.minute

    @property
    def minutes(self) -> int:
        """Nominal wall-clock length (ignores DST)."""
        return self.end_minute - self.start_minute

    @classmethod
    def parse(cls, text: str) -> TimeRange:
        """Parse "HH:MM-HH:MM"; "24:00" is allowed as the end and means end of day."""
        bad = ValueError(f"{text!r} is not a HH:MM-HH:MM range")
        match = _RANGE_RE.fullmatch(text.strip()) if isinstance(text, str) else None
        if match is None:
            raise bad
        h1, m1, h2, m2 = (int(g) for g in match.groups())
        if h1 > 23 or m1 > 59 or m2 > 59 or h2 > 24 or (h2 == 24 and m2 != 0):
            raise bad
        end = _MIDNIGHT if h2 == 24 else dtime(h2, m2)
        if (h2 * 60 + m2) <= (h1 * 60 + m1):
            raise ValueError(f"{text!r} must end after it starts")
        return cls(dtime(h1, m1), end)

    def __str__(self) -> str:
        end = "24:00" if self.end == _MIDNIGHT else self.end.strftime("%H:%M")
        return f"{self.start.strftime('%H:%M')}-{end}"


def _wall(moment: datetime, zone: ZoneInfo) -> datetime:
    return moment.astimezone(zone).replace(tzinfo=None, fold=0)


def _instant(day: date, clock: dtime, zone: ZoneInfo, *, later: bool) -> datetime:
    """The UTC instant at which the wall clock in ``zone`` shows ``clock`` on ``day``.

    Ambiguous wall times pick the first occurrence, or the later one when ``later``; wall
    times inside a spring-forward gap map to the first instant after the gap.
    """
    naive = datetime.combine(day, clock)
    first = naive.replace(tzinfo=zone, fold=0).astimezone(UTC)
    second = naive.replace(tzinfo=zone, fold=1).astimezone(UTC)
    first_ok = _wall(first, zone) == naive
    second_ok = _wall(second, zone) == naive
    if first_ok and second_ok:
        return max(first, second) if later else min(first, second)
    if first_ok:
        return first
    if second_ok:
        return second
    # In a gap the two folds straddle the transition: bisect (in seconds) for the first
    # instant carrying the post-gap offset. Works for any shift size (Lord_Howe's 30 min too).
    lo, hi = min(first, second), max(first, second)
    before = lo.astimezone(zone).utcoffset()
    while hi - lo > timedelta(seconds=1):
        mid = lo + timedelta(seconds=((hi - lo).total_seconds() // 2))
        if mid.astimezone(zone).utcoffset() == before:
            lo = mid
        else:
            hi = mid
    return hi


@lru_cache(maxsize=8192)
def wall_instant(day: date, minute: int, zone: ZoneInfo, later: bool) -> datetime:
    """The UTC instant at which ``zone``'s wall clock shows ``minute`` (0..1440) after ``day``'s
    midnight, resolved like the bounds of ``local_interval`` (1440 is the next midnight).

    Cached: a week's planning for many users in a few zones asks for the same few wall times.
    Wall times that exist exactly once (both folds give one offset) are converted directly;
    only ambiguous or skipped ones take the slower exact path.
    """
    naive = datetime.combine(day, _MIDNIGHT) + timedelta(minutes=minute)
    offset = naive.replace(tzinfo=zone).utcoffset()
    if offset is not None and naive.replace(tzinfo=zone, fold=1).utcoffset() == offset:
        return (naive - offset).replace(tzinfo=UTC)
    return _instant(naive.date(), naive.time(), zone, later=later)


def day_bounds(day: date, zone: ZoneInfo) -> Interval:
    """Local midnight to next local midnight (23, 23.5, 24, 24.5 or 25 hours long)."""
    start = _instant(day, _MIDNIGHT, zone, later=False)
    end = _instant(day + timedelta(days=1), _MIDNIGHT, zone, later=False)
    return Interval(start, end)


def local_interval(day: date, rng: TimeRange, zone: ZoneInfo) -> Interval | None:
    """The absolute interval of wall-clock range ``rng`` on local ``day``; None if empty.

    The start uses the first occurrence of an ambiguous wall time and the end the later one,
    so the interval covers every instant whose wall clock reads inside the range.
    """
    start = _instant(day, rng.start, zone, later=False)
    if rng.end == _MIDNIGHT:
        end = day_bounds(day, zone).end
    else:
        end = _instant(day, rng.end, zone, later=True)
    if end <= start:
        return None
    return Interval(start, end)

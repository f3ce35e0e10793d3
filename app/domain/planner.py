"""The weekly planner: picks growth blocks in free time so the weekly target is met.

Free time is handled on a whole-minute grid (minutes since the Unix epoch): free stretches are
shrunk inward to whole minutes, so every block starts and ends on a whole minute.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from functools import lru_cache
from typing import TYPE_CHECKING, TypeVar
from zoneinfo import ZoneInfo

from app.domain.intervals import Interval
from app.domain.time import (
    IsoWeek,
    TimeRange,
    Weekday,
    resolve_zone,
    wall_instant,
    weekday_of,
)

if TYPE_CHECKING:
    from app.domain.plan import PlanSpec

UTC_ZONE = ZoneInfo("UTC")
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MINUTE = timedelta(minutes=1)
# A January week without DST changes in any zone: nominal day lengths for capacity checks.
_REFERENCE_WEEK = IsoWeek(2001, 3)


@dataclass(frozen=True, slots=True)
class Busy:
    """Busy time from any calendar.

    ``all_day``: start/end are UTC midnights encoding floating dates [start.date(), end.date())
    that block those local dates entirely. ``out_of_office``: blocks every local day it touches.
    """

    start: datetime
    end: datetime
    all_day: bool = False
    out_of_office: bool = False

    def __post_init__(self) -> None:
        for value in (self.start, self.end):
            if value.tzinfo is None or value.utcoffset() is None:
                raise ValueError("Busy start/end must be timezone-aware datetimes")
        if self.end < self.start:
            raise ValueError("Busy end is before its start")

    def blocks_whole_day(self, day: date, bounds: Interval) -> bool:
        """True when this event blocks the whole local ``day`` (whose bounds are given)."""
        if self.all_day:
            first = self.start.astimezone(UTC).date()
            last = max(self.end.astimezone(UTC).date(), first + timedelta(days=1))
            return first <= day < last
        if self.out_of_office:
            if self.start == self.end:
                return bounds.start <= self.start < bounds.end
            return bounds.overlaps(Interval(self.start, self.end))
        return False


@dataclass(frozen=True, slots=True)
class PlannerResult:
    """What the planner decided for one week."""

    new_blocks: list[Interval]
    target_minutes: int
    booked_minutes: int
    shortfall_reason: str | None


# (outside preferred, day already has a block, day index, not on a quarter hour, start, -length)
_Score = tuple[bool, bool, int, bool, int, int]


@dataclass(slots=True)
class _Day:
    day: date
    name: Weekday
    index: int
    segments: list[tuple[int, int]]
    preferred: list[tuple[int, int]]
    slots_left: int
    has_block: bool
    status: str  # why it may offer nothing: past, day_off, blocked, no_hours, no_stretch
    chosen: list[tuple[int, int]] = field(default_factory=list)


def _from_minute(minute: int) -> datetime:
    return _EPOCH + minute * _MINUTE


def _effective_zone(spec: PlanSpec, zone: ZoneInfo) -> ZoneInfo:
    return resolve_zone(spec.timezone) if spec.timezone else zone


def _hours_for(
    spec: PlanSpec, working_hours: Mapping[Weekday, Sequence[TimeRange]]
) -> dict[Weekday, list[TimeRange]]:
    return spec.working_ranges({day: list(ranges) for day, ranges in working_hours.items()})


def _day_capacity(lengths: Sequence[int], blocks: int, lo: int, hi: int) -> int:
    """Most minutes that ``blocks`` blocks of lo..hi minutes can fill in these free stretches."""
    # best[j]: most minutes using exactly j blocks in the stretches seen so far (-1: impossible)
    best = [0] + [-1] * blocks
    for length in lengths:
        most = min(blocks, length // lo)
        if most == 0:
            continue
        nxt = best[:]
        for used, value in enumerate(best):
            if value < 0:
                continue
            for k in range(1, min(most, blocks - used) + 1):
                candidate = value + min(length, k * hi)
                if candidate > nxt[used + k]:
                    nxt[used + k] = candidate
        best = nxt
    return max(best)


def _minutes(moment: datetime) -> tuple[int, int]:
    """(floor, ceil) of ``moment`` in whole minutes since the epoch."""
    delta = moment - _EPOCH
    seconds = delta.days * 86400 + delta.seconds
    low = seconds // 60
    return low, low + (1 if seconds % 60 or delta.microseconds else 0)


_Point = TypeVar("_Point", int, datetime)  # whole minutes, or exact instants


def _union(spans: list[tuple[_Point, _Point]]) -> list[tuple[_Point, _Point]]:
    """Sorted, disjoint union of spans (sorts `spans` in place); touching spans are joined."""
    spans.sort()
    out: list[tuple[_Point, _Point]] = []
    for start, end in spans:
        if out and start <= out[-1][1]:
            if end > out[-1][1]:
                out[-1] = (out[-1][0], end)
        else:
            out.append((start, end))
    return out


def _intersect_exact(
    left: list[tuple[datetime, datetime]], right: list[tuple[datetime, datetime]]
) -> list[tuple[datetime, datetime]]:
    left, right = _union(left), _union(right)
    out = []
    i = j = 0
    while i < len(left) and j < len(right):
        start = max(left[i][0], right[j][0])
        end = min(left[i][1], right[j][1])
        if start < end:
            out.append((start, end))
        if left[i][1] <= right[j][1]:
            i += 1
        else:
            j += 1
    return out


def _pieces(
    day: date, ranges: Sequence[TimeRange], zone: ZoneInfo
) -> list[tuple[datetime, datetime]]:
    """The spans of ``ranges`` on ``day`` as ``local_interval`` gives them; empty ones dropped."""
    out = []
    for rng in ranges:
        start = wall_instant(day, rng.start_minute, zone, False)
        end_minute = rng.end_minute
        end = wall_instant(day, end_minute, zone, end_minute != 1440)
        if end > start:
            out.append((start, end))
    return out


@lru_cache(maxsize=4096)
def _day_frame(
    day: date,
    windows: tuple[TimeRange, ...],
    hours: tuple[TimeRange, ...],
    preferred: tuple[TimeRange, ...],
    zone: ZoneInfo,
) -> tuple[tuple[tuple[datetime, datetime], ...], tuple[tuple[int, int], ...]]:
    """A day's allowed spans (windows within working hours) and preferred stretches (whole
    minutes). They depend on settings most people share, never on their meetings, so a week's
    booking for many people works each out once."""
    allowed = _intersect_exact(_pieces(day, windows, zone), _pieces(day, hours, zone))
    prefs = [(_minutes(a)[1], _minutes(b)[0]) for a, b in _pieces(day, preferred, zone)]
    return tuple(allowed), tuple(prefs)


def _free_segments(
    allowed: Sequence[tuple[datetime, datetime]],
    cuts: list[tuple[int, int]],
    cut_ends: list[int],
    not_before: int | None,
    shortest: int,
) -> list[tuple[int, int]]:
    """Whole-minute stretches of ``allowed`` outside the pre-merged ``cuts``.

    Rounding the allowed spans inward and the cuts outward to whole minutes first gives the
    same stretches of at least one minute as subtracting exactly and rounding afterwards.
    """
    out = []
    for piece_start, piece_end in allowed:
        cursor = _minutes(piece_start)[1]
        end = _minutes(piece_end)[0]
        if not_before is not None and not_before > cursor:
            cursor = not_before
        index = bisect_right(cut_ends, cursor)
        while cursor < end and index < len(cuts):
            cut_start, cut_end = cuts[index]
            if cut_start >= end:
                break
            if cut_start - cursor >= shortest:
                out.append((cursor, cut_start))
            if cut_end > cursor:
                cursor = cut_end
            index += 1
        if end - cursor >= shortest:
            out.append((cursor, end))
    return out


def _build_days(
    spec: PlanSpec,
    week: IsoWeek,
    busy: Sequence[Busy],
    now: datetime | None,
    zone: ZoneInfo,
    hours: Mapping[Weekday, Sequence[TimeRange]],
    kept: Sequence[Interval],
    days_off: Collection[date] = (),
) -> list[_Day]:
    lo = spec.block_minutes.min
    buffer = spec.buffer_minutes
    # One merged list of everything that occupies time (meetings with their buffers, and all
    # kept blocks, since one may run past midnight into the next day), built once per week.
    spans: list[tuple[int, int]] = []
    all_day: list[tuple[date, date]] = []
    away: list[tuple[datetime, datetime]] = []
    for b in busy:
        if b.all_day:
            first = b.start.astimezone(UTC).date()
            all_day.append((first, max(b.end.astimezone(UTC).date(), first + timedelta(days=1))))
        elif b.out_of_office:
            away.append((b.start, b.end))
        elif buffer or b.end != b.start:  # an empty interval occupies nothing
            # _minutes, written out: this runs for every meeting of every person's week
            opens, closes = b.start - _EPOCH, b.end - _EPOCH
            seconds = closes.days * 86400 + closes.seconds
            ceiling = seconds // 60 + (1 if seconds % 60 or closes.microseconds else 0)
            floor = (opens.days * 86400 + opens.seconds) // 60
            spans.append((floor - buffer, ceiling + buffer))
    spans.extend((_minutes(k.start)[0], _minutes(k.end)[1]) for k in kept if not k.empty)
    cuts = _union(spans)
    cut_ends = [end for _, end in cuts]
    not_before = None if now is None else _minutes(now)[1]
    kept_days = [k.start.astimezone(zone).date() for k in kept]
    windows, preferred = tuple(spec.window_ranges()), tuple(spec.preferred_ranges())
    days: list[_Day] = []
    for index, day in enumerate(week.days()):
        name = weekday_of(day)
        if name not in spec.days:
            continue
        kept_today = sum(1 for d in kept_days if d == day)
        allowed, prefs = _day_frame(day, windows, tuple(hours.get(name, ())), preferred, zone)
        status, segments = "no_stretch", []
        if not allowed:
            status = "no_hours"
        elif now is not None and allowed[-1][1] <= now:
            status = "past"
        elif day in days_off:
            status = "day_off"
        elif _blocked(day, zone, all_day, away):
            status = "blocked"
        else:
            segments = _free_segments(allowed, cuts, cut_ends, not_before, lo)
        days.append(
            _Day(
                day=day,
                name=name,
                index=index,
                segments=segments,
                preferred=list(prefs),
                slots_left=max(0, spec.max_blocks_per_day - kept_today),
                has_block=bool(kept_today),
                status=status,
            )
        )
    return days


def _blocked(
    day: date,
    zone: ZoneInfo,
    all_day: Sequence[tuple[date, date]],
    away: Sequence[tuple[datetime, datetime]],
) -> bool:
    """True when an all-day or out-of-office event blocks the whole local ``day``."""
    if any(first <= day < last for first, last in all_day):
        return True
    if not away:
        return False
    start, end = wall_instant(day, 0, zone, False), wall_instant(day, 1440, zone, False)
    for a, b in away:
        if a == b:
            if start <= a < end:
                return True
        elif max(start, a) < min(end, b):
            return True
    return False


def _local_offset(minute: int, zone: ZoneInfo) -> int:
    offset = _from_minute(minute).astimezone(zone).utcoffset() or timedelta(0)
    return offset // _MINUTE


def _candidates(
    day: _Day, wanted: int, lo: int, zone: ZoneInfo
) -> list[tuple[_Score, int, int, int]]:
    """Scored placements (score, segment index, start, length) on one day."""
    out = []
    for seg_index, (a, b) in enumerate(day.segments):
        span = b - a
        if span < lo:
            continue
        first = min(wanted, span)
        # shorter lengths leave room for j more minimum-length blocks in the same stretch;
        # without them a left-aligned block could make the target unreachable
        lengths = {first} | {
            min(first, span - j * lo) for j in range(1, day.slots_left) if span - j * lo >= lo
        }
        offset = _local_offset(a, zone)
        for length in lengths:
            last = b - length
            starts = {a, last, *range(a + (-(a + offset)) % 15, last + 1, 15)}
            starts.update(p for p, _ in day.preferred if a <= p <= last)
            for start in starts:
                inside = any(p <= start and start + length <= q for p, q in day.preferred)
                score = (
                    not inside,
                    day.has_block,
                    day.index,
                    (start + offset) % 15 != 0,
                    start,
                    -length,
                )
                out.append((score, seg_index, start, length))
    return out


def _choose(days: list[_Day], remaining: int, lo: int, hi: int, zone: ZoneInfo) -> None:
    """Greedy with exact look-ahead: never accept a block that lowers what stays reachable."""

    def capacity(d: _Day, segments: list[tuple[int, int]], slots: int) -> int:
        return _day_capacity([b - a for a, b in segments], slots, lo, hi)

    caps = {d.index: capacity(d, d.segments, d.slots_left) for d in days}
    total = sum(caps.values())
    while remaining > 0 and total > 0:
        goal = min(remaining, total)
        wanted = min(hi, max(remaining, lo))
        options: list[tuple[_Score, _Day, int, int, int]] = []
        for d in days:
            if d.slots_left > 0:
                options.extend(
                    (score, d, s, st, ln) for score, s, st, ln in _candidates(d, wanted, lo, zone)
                )
        options.sort(key=lambda item: item[0])
        for _, d, seg_index, start, length in options:
            a, b = d.segments[seg_index]
            pieces = [(a, start), (start + length, b)]
            segments = [
                *d.segments[:seg_index],
                *(p for p in pieces if p[1] - p[0] >= lo),
                *d.segments[seg_index + 1 :],
            ]
            cap = capacity(d, segments, d.slots_left - 1)
            if length + total - caps[d.index] + cap >= goal:
                break
        else:  # pragma: no cover - the look-ahead guarantees a feasible option exists
            return
        d.segments = segments
        d.slots_left -= 1
        d.has_block = True
        d.chosen.append((start, length))
        total += cap - caps[d.index]
        caps[d.index] = cap
        remaining -= length


def _join(names: list[str]) -> str:
    return ", ".join(names)


def _explain(
    days: list[_Day], booked: int, target: int, consumed: int, week: IsoWeek, spec: PlanSpec
) -> str:
    lo = spec.block_minutes.min
    per_day = spec.max_blocks_per_day
    blocks = "1 block" if per_day == 1 else f"{per_day} blocks"
    phrases = {
        "past": ("is already past", "are already past"),
        "day_off": ("is a day off", "are days off"),
        "blocked": (
            "is blocked by an all-day or out-of-office event",
            "are blocked by all-day or out-of-office events",
        ),
        "no_hours": (
            "has no working hours inside your windows",
            "have no working hours inside your windows",
        ),
        "full": (
            f"already has the daily maximum of {blocks}",
            f"already have the daily maximum of {blocks}",
        ),
        "no_stretch": (
            f"has no free stretch of {lo} min inside your windows and working hours",
            f"have no free stretch of {lo} min inside your windows and working hours",
        ),
    }
    groups: dict[str, list[str]] = {}
    for d in days:
        status = "full" if d.slots_left == 0 and d.status == "no_stretch" else d.status
        groups.setdefault(status, []).append(d.name)
    parts = [
        f"{_join(names)} {phrases[status][0 if len(names) == 1 else 1]}"
        for status, names in groups.items()
    ]
    deleted = (
        f" ({consumed} more min were deleted this week and are not re-booked)" if consumed else ""
    )
    return f"Only {booked} of {target} minutes fit in {week}{deleted}: {'; '.join(parts)}."


def plan_week(
    spec: PlanSpec,
    week: IsoWeek,
    busy: Sequence[Busy],
    now: datetime,
    *,
    zone: ZoneInfo,
    working_hours: Mapping[Weekday, Sequence[TimeRange]],
    kept: Sequence[Interval] = (),
    consumed_minutes: int = 0,
    days_off: Collection[date] = (),
    target_minutes: int | None = None,
) -> PlannerResult:
    """Choose new growth blocks for ``week``.

    ``zone`` and ``working_hours`` are the user's, used when the plan names none. ``kept`` are
    blocks still in the calendar (they count, occupy time and use up the per-day maximum);
    ``consumed_minutes`` are minutes of blocks deleted this week (they count, occupy nothing).
    ``days_off`` (leave, public holidays, mostly out of office; app/domain/days_off.py) offer
    no time, and ``target_minutes`` is the week's target they reduced (the plan's otherwise).
    """
    if now.tzinfo is None or now.utcoffset() is None:
        raise ValueError("now must be a timezone-aware datetime")
    if consumed_minutes < 0:
        raise ValueError("consumed_minutes must not be negative")
    zone = _effective_zone(spec, zone)
    hours = _hours_for(spec, working_hours)
    lo, hi = spec.block_minutes.min, spec.block_minutes.max
    target = spec.weekly_target_minutes if target_minutes is None else target_minutes
    kept_minutes = round(sum(k.minutes for k in kept))
    days = _build_days(spec, week, busy, now, zone, hours, kept, days_off)
    _choose(days, target - kept_minutes - consumed_minutes, lo, hi, zone)
    chosen = sorted(block for d in days for block in d.chosen)
    booked = kept_minutes + sum(length for _, length in chosen)
    reason = None
    if booked + consumed_minutes < target:
        reason = _explain(days, booked, target, consumed_minutes, week, spec)
    return PlannerResult(
        new_blocks=[Interval(_from_minute(s), _from_minute(s + ln)) for s, ln in chosen],
        target_minutes=target,
        booked_minutes=booked,
        shortfall_reason=reason,
    )


def empty_week_capacity(
    spec: PlanSpec,
    working_hours: Mapping[Weekday, Sequence[TimeRange]],
    zone: ZoneInfo = UTC_ZONE,
) -> int:
    """Most minutes the plan could book in a week without meetings (nominal, DST-free week)."""
    lo, hi = spec.block_minutes.min, spec.block_minutes.max
    zone = _effective_zone(spec, zone)
    days = _build_days(spec, _REFERENCE_WEEK, (), None, zone, _hours_for(spec, working_hours), ())
    return sum(_day_capacity([b - a for a, b in d.segments], d.slots_left, lo, hi) for d in days)

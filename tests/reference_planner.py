"""The planner as it was before issue 15 (kept as the reference for an equivalence test).

The weekly planner: picks growth blocks in free time so the weekly target is met.

Free time is handled on a whole-minute grid (minutes since the Unix epoch): free stretches are
shrunk inward to whole minutes, so every block starts and ends on a whole minute.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from app.domain.intervals import Interval, intersect, subtract
from app.domain.planner import Busy, PlannerResult
from app.domain.time import (
    IsoWeek,
    TimeRange,
    Weekday,
    day_bounds,
    local_interval,
    resolve_zone,
    weekday_of,
)

if TYPE_CHECKING:
    from app.domain.plan import PlanSpec

UTC_ZONE = ZoneInfo("UTC")
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MINUTE = timedelta(minutes=1)
# A January week without DST changes in any zone: nominal day lengths for capacity checks.
_REFERENCE_WEEK = IsoWeek(2001, 3)


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
    status: str  # why it may offer nothing: past, blocked, no_hours, no_stretch
    chosen: list[tuple[int, int]] = field(default_factory=list)


def _ceil_minute(moment: datetime) -> int:
    return -((_EPOCH - moment) // _MINUTE)


def _floor_minute(moment: datetime) -> int:
    return (moment - _EPOCH) // _MINUTE


def _from_minute(minute: int) -> datetime:
    return _EPOCH + minute * _MINUTE


def _effective_zone(spec: PlanSpec, zone: ZoneInfo) -> ZoneInfo:
    return resolve_zone(spec.timezone) if spec.timezone else zone


def _hours_for(
    spec: PlanSpec, working_hours: Mapping[Weekday, Sequence[TimeRange]]
) -> dict[Weekday, list[TimeRange]]:
    return spec.working_ranges({day: list(ranges) for day, ranges in working_hours.items()})


def _absolute(day: date, ranges: Sequence[TimeRange], zone: ZoneInfo) -> list[Interval]:
    found = (local_interval(day, rng, zone) for rng in ranges)
    return [piece for piece in found if piece is not None]


def _to_segments(pieces: Sequence[Interval], shortest: int) -> list[tuple[int, int]]:
    out = []
    for piece in pieces:
        start, end = _ceil_minute(piece.start), _floor_minute(piece.end)
        if end - start >= shortest:
            out.append((start, end))
    return out


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


def _build_days(
    spec: PlanSpec,
    week: IsoWeek,
    busy: Sequence[Busy],
    now: datetime | None,
    zone: ZoneInfo,
    hours: Mapping[Weekday, Sequence[TimeRange]],
    kept: Sequence[Interval],
) -> list[_Day]:
    lo = spec.block_minutes.min
    buffer = timedelta(minutes=spec.buffer_minutes)
    timed = [
        Interval(b.start - buffer, b.end + buffer)
        for b in busy
        if not (b.all_day or b.out_of_office)
    ]
    windows, preferred = spec.window_ranges(), spec.preferred_ranges()
    days: list[_Day] = []
    for index, day in enumerate(week.days()):
        name = weekday_of(day)
        if name not in spec.days:
            continue
        bounds = day_bounds(day, zone)
        kept_today = [k for k in kept if k.start.astimezone(zone).date() == day]
        allowed = intersect(
            _absolute(day, windows, zone), _absolute(day, hours.get(name, []), zone)
        )
        status, segments = "no_stretch", []
        if not allowed:
            status = "no_hours"
        elif now is not None and allowed[-1].end <= now:
            status = "past"
        elif any(b.blocks_whole_day(day, bounds) for b in busy):
            status = "blocked"
        else:
            # all kept blocks, not just today's: one may run past midnight into this day
            taken = [*timed, *kept]
            if now is not None and now > allowed[0].start:
                taken.append(Interval(allowed[0].start, now))
            segments = _to_segments(subtract(allowed, taken), lo)
        prefs = [
            (_ceil_minute(p.start), _floor_minute(p.end)) for p in _absolute(day, preferred, zone)
        ]
        days.append(
            _Day(
                day=day,
                name=name,
                index=index,
                segments=segments,
                preferred=prefs,
                slots_left=max(0, spec.max_blocks_per_day - len(kept_today)),
                has_block=bool(kept_today),
                status=status,
            )
        )
    return days


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
) -> PlannerResult:
    """Choose new growth blocks for ``week``.

    ``zone`` and ``working_hours`` are the user's, used when the plan names none. ``kept`` are
    blocks still in the calendar (they count, occupy time and use up the per-day maximum);
    ``consumed_minutes`` are minutes of blocks deleted this week (they count, occupy nothing).
    """
    if now.tzinfo is None or now.utcoffset() is None:
        raise ValueError("now must be a timezone-aware datetime")
    if consumed_minutes < 0:
        raise ValueError("consumed_minutes must not be negative")
    zone = _effective_zone(spec, zone)
    hours = _hours_for(spec, working_hours)
    lo, hi = spec.block_minutes.min, spec.block_minutes.max
    target = spec.weekly_target_minutes
    kept_minutes = round(sum(k.minutes for k in kept))
    days = _build_days(spec, week, busy, now, zone, hours, kept)
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

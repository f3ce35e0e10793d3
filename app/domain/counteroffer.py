"""Counter-offers for a decline: a few free slots of the meeting's length in working hours."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, date, datetime, timedelta
from datetime import time as dtime
from zoneinfo import ZoneInfo

from app.domain.intervals import Interval, merge
from app.domain.time import TimeRange, Weekday, local_interval, weekday_of

_DAY_MINUTES = 24 * 60


def _require_aware(value: datetime, what: str) -> None:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{what} must be a timezone-aware datetime")


def _wall_instant(day: date, minute: int, zone: ZoneInfo) -> datetime | None:
    """The instant the wall clock in ``zone`` reads ``minute`` on ``day``; None in a DST gap.

    Ambiguous wall times (the repeated hour) take their first occurrence.
    """
    naive = datetime.combine(day, dtime(minute // 60, minute % 60))
    instant = naive.replace(tzinfo=zone, fold=0).astimezone(UTC)
    # a wall time skipped by a spring-forward does not round-trip
    if instant.astimezone(zone).replace(tzinfo=None) != naive:
        return None
    return instant


def _day_candidates(
    day: date,
    windows: list[Interval],
    duration: timedelta,
    earliest: datetime,
    busy: list[Interval],
    zone: ZoneInfo,
    step_minutes: int,
) -> list[Interval]:
    out: list[Interval] = []
    # the grid is in local wall-clock time so offers read 10:00, 10:30 even across DST
    for minute in range(0, _DAY_MINUTES, step_minutes):
        start = _wall_instant(day, minute, zone)
        if start is None or start < earliest:
            continue
        slot = Interval(start, start + duration)
        if not any(window.contains(slot) for window in windows):
            continue
        if any(slot.overlaps(b) for b in busy):
            continue
        out.append(slot)
    return out


def alternatives(
    duration: timedelta,
    busy: Sequence[Interval],
    working_hours: Mapping[Weekday, Sequence[TimeRange]],
    zone: ZoneInfo,
    now: datetime,
    *,
    not_before: datetime,
    horizon_days: int = 7,
    count: int = 3,
    step_minutes: int = 30,
) -> list[Interval]:
    """Up to ``count`` free slots of ``duration`` inside working hours, in time order.

    ``busy`` must hold everything the slots may not overlap (meetings and growth blocks).
    Slots start on the ``step_minutes`` wall-clock grid of ``zone``, no earlier than
    ``max(now, not_before)``, on the ``horizon_days`` local dates starting with that
    instant's date. The first free slot of each day is taken first, so offers spread over
    different days; only then are further slots (not overlapping those) filled in.
    """
    _require_aware(now, "now")
    _require_aware(not_before, "not_before")
    if duration <= timedelta(0):
        raise ValueError("duration must be positive")
    if not 1 <= step_minutes <= _DAY_MINUTES:
        raise ValueError("step_minutes must be between 1 and 1440")
    if count <= 0 or horizon_days <= 0:
        return []
    earliest = max(now, not_before)
    first_day = earliest.astimezone(zone).date()
    blocked = merge(busy)
    per_day: list[list[Interval]] = []
    for offset in range(horizon_days):
        day = first_day + timedelta(days=offset)
        ranges = working_hours.get(weekday_of(day), ())
        pieces = (local_interval(day, rng, zone) for rng in ranges)
        # merged, so a slot may span two adjoining ranges such as 09:00-12:00 and 12:00-17:00
        windows = merge(piece for piece in pieces if piece is not None)
        if windows:
            per_day.append(
                _day_candidates(day, windows, duration, earliest, blocked, zone, step_minutes)
            )
    chosen = [slots[0] for slots in per_day if slots][:count]
    rest = sorted((s for slots in per_day for s in slots[1:]), key=lambda s: s.start)
    for slot in rest:
        if len(chosen) >= count:
            break
        if not any(slot.overlaps(c) for c in chosen):
            chosen.append(slot)
    return sorted(chosen, key=lambda s: s.start)

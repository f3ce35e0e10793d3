"""Defense levels: when a flexible block turns busy, and what each level means for a block.

Pure: the caller passes `now`, the plan, the week's busy time and the blocks.

- flexible: written free (transparent) until its threshold, then busy. The threshold is
  `flexible_hours_before` elapsed hours before the block starts (absolute time, so a DST change
  in between neither adds nor removes an hour), or earlier when the week's free time left in
  the plan's windows falls to what its still-free blocks need.
- firm: busy from the start.
- locked: busy, and the policy's `flag` becomes `decline` (see `decide`); native focus time
  with provider auto-decline where the calendar supports it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from app.domain.intervals import Interval, clip, intersect, merge, subtract, total_minutes
from app.domain.plan import DefenseLevel, PlanSpec
from app.domain.time import IsoWeek, TimeRange, Weekday, local_interval, weekday_of

__all__ = [
    "FIRM",
    "FLEXIBLE",
    "LOCKED",
    "BlockDefense",
    "blocks_to_harden",
    "busy_at_booking",
    "conflict_level",
    "free_minutes_left",
    "threshold",
]

FLEXIBLE: DefenseLevel = "flexible"
FIRM: DefenseLevel = "firm"
LOCKED: DefenseLevel = "locked"


@dataclass(frozen=True)
class BlockDefense:
    """One block as defense sees it: its key, time, level and whether it is shown busy."""

    key: str
    start: datetime
    end: datetime
    level: str
    busy: bool


def threshold(spec: PlanSpec, start: datetime) -> datetime:
    """When a flexible block starting at `start` turns busy by time alone (in UTC: aware
    arithmetic in a zone would step the wall clock and be an hour off across DST)."""
    return start.astimezone(UTC) - timedelta(hours=spec.flexible_hours_before)


def busy_at_booking(spec: PlanSpec, start: datetime, now: datetime) -> bool:
    """Whether a new block of this plan is written busy (flexible: only past its threshold)."""
    if spec.defense != FLEXIBLE:
        return True
    return now >= threshold(spec, start)


def conflict_level(level: str, busy: bool) -> str:
    """The level a conflict records: a flexible block turned busy defends like a firm one."""
    if level == FLEXIBLE and busy:
        return FIRM
    return level


def free_minutes_left(
    spec: PlanSpec,
    week: IsoWeek,
    zone: ZoneInfo,
    working_hours: dict[Weekday, list[TimeRange]],
    busy: Iterable[Interval],
    now: datetime,
) -> float:
    """Minutes of the plan's windows (within working hours, on allowed days) left in `week`
    after `now` that no busy time covers; free blocks of the plan count as free."""
    allowed: list[Interval] = []
    for day in week.days():
        name = weekday_of(day)
        if name not in spec.days:
            continue
        windows = [local_interval(day, r, zone) for r in spec.window_ranges()]
        hours = [local_interval(day, r, zone) for r in working_hours.get(name, [])]
        allowed += intersect([w for w in windows if w], [h for h in hours if h])
    week_end = week.end(zone)
    rest = clip(merge(allowed), Interval(now, max(now, week_end)))
    return total_minutes(subtract(rest, merge(busy)))


def blocks_to_harden(
    spec: PlanSpec,
    blocks: Iterable[BlockDefense],
    now: datetime,
    free_minutes: float | None = None,
) -> list[str]:
    """Keys of the free flexible blocks that must turn busy now.

    By time: the block's threshold has come (and it has not ended). By squeeze (only when
    `free_minutes` is given, i.e. the caller read the week's busy time): the free time left is
    no more than the still-free future blocks need, so all of them turn busy.
    """
    waiting = [b for b in blocks if b.level == FLEXIBLE and not b.busy and b.end > now]
    due = {b.key for b in waiting if now >= threshold(spec, b.start)}
    if free_minutes is not None and waiting:
        needed = sum(
            (b.end.astimezone(UTC) - max(b.start, now).astimezone(UTC)).total_seconds() / 60
            for b in waiting
        )
        if free_minutes <= needed:
            due = {b.key for b in waiting}
    return sorted(due)

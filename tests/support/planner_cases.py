"""Generated planner cases: zones (DST and fixed), weeks and the cases built from them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from hypothesis import strategies as st

from app.domain.intervals import Interval
from app.domain.plan import PlanSpec
from app.domain.planner import Busy
from app.domain.time import WEEKDAYS, IsoWeek, TimeRange, Weekday

SLOT = 30  # minutes; every generated input lies on this grid in local wall-clock time

SLOTS_PER_DAY = 24 * 60 // SLOT

DST_ZONES = ["Australia/Lord_Howe", "Asia/Kolkata", "America/St_Johns", "America/New_York"]

# weeks with DST changes in some of the zones above, plus a quiet January week
DST_WEEKS = [IsoWeek(2027, 3), IsoWeek(2027, 10), IsoWeek(2027, 13), IsoWeek(2027, 39)]

FIXED_ZONES = ["UTC", "Asia/Kolkata", "America/St_Johns", "Australia/Lord_Howe"]


def clock(slot: int) -> str:
    minutes = slot * SLOT
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


@st.composite
def ranges(draw: st.DrawFn, lo: int = 0, hi: int = SLOTS_PER_DAY) -> str:
    start = draw(st.integers(lo, hi - 1))
    end = draw(st.integers(start + 1, min(hi, start + 24)))
    return f"{clock(start)}-{clock(end)}"


@dataclass(frozen=True)
class Case:
    spec: PlanSpec
    zone: ZoneInfo
    week: IsoWeek
    hours: dict[Weekday, list[TimeRange]]
    busy: list[Busy]
    kept: list[Interval]
    now: datetime
    consumed: int


@st.composite
def cases(draw: st.DrawFn, zones: list[str], weeks: list[IsoWeek], *, tight: bool = False) -> Case:
    """Random plans and calendars; ``tight`` makes few, short, contested days (where a
    careless greedy choice loses the target) more likely."""
    zone = ZoneInfo(draw(st.sampled_from(zones)))
    week = draw(st.sampled_from(weeks))
    lo = draw(st.sampled_from([30, 60, 90, 120]))
    hi = lo + draw(st.sampled_from([0, 30, 60, 150]))
    days = draw(
        st.lists(st.sampled_from(WEEKDAYS), min_size=1, max_size=2 if tight else 7, unique=True)
    )
    if tight:
        first = draw(st.integers(12, 30))
        windows = [f"{clock(first)}-{clock(first + draw(st.integers(2, 12)))}"]
        preferred = draw(st.lists(ranges(first, first + 12), min_size=1, max_size=2))
    else:
        windows = draw(st.lists(ranges(), min_size=1, max_size=2))
        preferred = draw(st.lists(ranges(), max_size=2))
    spec = PlanSpec.model_validate(
        {
            "goal": "g",
            "weekly_target_minutes": draw(st.integers(1, 24)) * SLOT,
            "block_minutes": {"min": lo, "max": hi},
            "max_blocks_per_day": draw(st.integers(2 if tight else 1, 3)),
            "days": days,
            "windows": windows,
            "preferred_windows": preferred,
            "buffer_minutes": draw(st.sampled_from([0, 30])),
        }
    )
    hours: dict[Weekday, list[TimeRange]] = {
        day: [TimeRange.parse(text) for text in draw(st.lists(ranges(), max_size=2))]
        for day in WEEKDAYS
    }
    if tight:
        hours = {day: [TimeRange.parse("00:00-24:00")] for day in WEEKDAYS}
    week_days = week.days()
    busy: list[Busy] = []
    for _ in range(draw(st.integers(0, 6))):
        day = week_days[draw(st.integers(0, 6))]
        kind = draw(st.sampled_from(["timed", "timed", "timed", "all_day", "ooo"]))
        if kind == "all_day":
            midnight = datetime.combine(day, datetime.min.time(), tzinfo=UTC)
            length = timedelta(days=draw(st.integers(1, 2)))
            busy.append(Busy(midnight, midnight + length, all_day=True))
            continue
        start = local_slot(day, draw(st.integers(0, SLOTS_PER_DAY - 1)), zone)
        end = start + timedelta(minutes=SLOT * draw(st.integers(1, 8)))
        busy.append(Busy(start, end, out_of_office=kind == "ooo"))
    kept: list[Interval] = []
    for _ in range(draw(st.integers(0, 2))):
        day = week_days[draw(st.integers(0, 6))]
        start = local_slot(day, draw(st.integers(0, SLOTS_PER_DAY - 4)), zone)
        kept.append(Interval(start, start + timedelta(minutes=SLOT * draw(st.integers(1, 4)))))
    now_slot = draw(st.integers(-SLOTS_PER_DAY, 7 * SLOTS_PER_DAY))
    now = week.start(zone) + timedelta(minutes=SLOT * now_slot)
    consumed = draw(st.sampled_from([0, 0, 0, 30, 120]))
    return Case(spec, zone, week, hours, busy, kept, now, consumed)


def local_slot(day: date, slot: int, zone: ZoneInfo) -> datetime:
    # wall-clock slot; non-existent wall times resolve however zoneinfo does, which is fine
    # for generating inputs
    naive = datetime.combine(day, datetime.min.time()) + timedelta(minutes=SLOT * slot)
    return naive.replace(tzinfo=zone).astimezone(UTC)

"""Counter-offer slots: right length, in working hours, free, after now, spread over days."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, date, datetime, timedelta
from datetime import time as dtime
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from app.domain.counteroffer import alternatives
from app.domain.intervals import Interval, merge
from app.domain.time import WEEKDAYS, TimeRange, Weekday, day_bounds, local_interval, weekday_of

BERLIN = ZoneInfo("Europe/Berlin")
NEW_YORK = ZoneInfo("America/New_York")
LORD_HOWE = ZoneInfo("Australia/Lord_Howe")
HOUR = timedelta(hours=1)
OFFICE: dict[Weekday, list[TimeRange]] = {
    day: [TimeRange(dtime(9), dtime(17))] for day in WEEKDAYS[:5]
}


def at(zone: ZoneInfo, year: int, month: int, day: int, hour: int, minute: int) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=zone)


def local(slots: list[Interval], zone: ZoneInfo) -> list[str]:
    return [s.start.astimezone(zone).strftime("%a %H:%M") for s in slots]


def test_one_slot_per_day_first() -> None:
    now = at(BERLIN, 2027, 1, 18, 9, 0)  # Monday
    busy = [Interval(now, at(BERLIN, 2027, 1, 18, 12, 0))]
    slots = alternatives(HOUR, busy, OFFICE, BERLIN, now, not_before=now)
    assert local(slots, BERLIN) == ["Mon 12:00", "Tue 09:00", "Wed 09:00"]
    assert all(s.minutes == 60 for s in slots)


def test_start_is_rounded_up_to_the_local_step() -> None:
    now = at(BERLIN, 2027, 1, 18, 9, 7)
    slots = alternatives(HOUR, [], OFFICE, BERLIN, now, not_before=now, count=1)
    assert local(slots, BERLIN) == ["Mon 09:30"]
    slots = alternatives(HOUR, [], OFFICE, BERLIN, now, not_before=now, count=1, step_minutes=15)
    assert local(slots, BERLIN) == ["Mon 09:15"]


def test_not_before_later_than_now_wins() -> None:
    now = at(BERLIN, 2027, 1, 18, 9, 0)
    later = at(BERLIN, 2027, 1, 20, 15, 40)
    slots = alternatives(HOUR, [], OFFICE, BERLIN, now, not_before=later)
    assert local(slots, BERLIN) == ["Wed 16:00", "Thu 09:00", "Fri 09:00"]


def test_fills_from_the_same_day_without_overlaps() -> None:
    now = at(BERLIN, 2027, 1, 18, 9, 0)
    busy = [Interval(at(BERLIN, 2027, 1, 18, 10, 0), at(BERLIN, 2027, 1, 18, 10, 30))]
    slots = alternatives(HOUR, busy, OFFICE, BERLIN, now, not_before=now, horizon_days=1)
    assert local(slots, BERLIN) == ["Mon 09:00", "Mon 10:30", "Mon 11:30"]


def test_weekend_and_end_of_day_are_skipped() -> None:
    now = at(BERLIN, 2027, 1, 22, 16, 30)  # Friday afternoon
    slots = alternatives(HOUR, [], OFFICE, BERLIN, now, not_before=now, horizon_days=5)
    assert local(slots, BERLIN) == ["Mon 09:00", "Mon 10:00", "Tue 09:00"]


def test_adjoining_working_ranges_form_one_window() -> None:
    hours: dict[Weekday, list[TimeRange]] = {
        "mon": [TimeRange(dtime(9), dtime(12)), TimeRange(dtime(12), dtime(13))]
    }
    now = at(BERLIN, 2027, 1, 18, 10, 0)
    slots = alternatives(3 * HOUR, [], hours, BERLIN, now, not_before=now, count=1)
    assert local(slots, BERLIN) == ["Mon 10:00"]


def test_nothing_fits() -> None:
    now = at(BERLIN, 2027, 1, 18, 9, 0)
    assert alternatives(HOUR, [], {}, BERLIN, now, not_before=now) == []
    assert alternatives(9 * HOUR, [], OFFICE, BERLIN, now, not_before=now) == []
    assert alternatives(HOUR, [], OFFICE, BERLIN, now, not_before=now, count=0) == []


def test_bad_input() -> None:
    now = at(BERLIN, 2027, 1, 18, 9, 0)
    with pytest.raises(ValueError, match="positive"):
        alternatives(timedelta(0), [], OFFICE, BERLIN, now, not_before=now)
    with pytest.raises(ValueError, match="timezone-aware"):
        alternatives(HOUR, [], OFFICE, BERLIN, now.replace(tzinfo=None), not_before=now)
    with pytest.raises(ValueError, match="step_minutes"):
        alternatives(HOUR, [], OFFICE, BERLIN, now, not_before=now, step_minutes=0)


def test_new_york_spring_forward_keeps_local_times() -> None:
    every_day = {day: [TimeRange(dtime(8), dtime(10))] for day in WEEKDAYS}
    now = at(NEW_YORK, 2027, 3, 12, 12, 0)  # Friday; clocks go forward on Sunday the 14th
    slots = alternatives(HOUR, [], every_day, NEW_YORK, now, not_before=now)
    assert [s.start for s in slots] == [
        datetime(2027, 3, 13, 13, 0, tzinfo=UTC),  # 08:00 EST
        datetime(2027, 3, 14, 12, 0, tzinfo=UTC),  # 08:00 EDT
        datetime(2027, 3, 15, 12, 0, tzinfo=UTC),
    ]
    assert local(slots, NEW_YORK) == ["Sat 08:00", "Sun 08:00", "Mon 08:00"]


def test_lord_howe_half_hour_gap_is_skipped() -> None:
    # 3 Oct 2027: Lord Howe's clocks jump from 02:00 to 02:30
    night: dict[Weekday, list[TimeRange]] = {"sun": [TimeRange(dtime(1), dtime(4))]}
    now = at(LORD_HOWE, 2027, 10, 2, 20, 0)
    slots = alternatives(timedelta(minutes=30), [], night, LORD_HOWE, now, not_before=now, count=6)
    assert local(slots, LORD_HOWE) == [
        "Sun 01:00",
        "Sun 01:30",
        "Sun 02:30",
        "Sun 03:00",
        "Sun 03:30",
    ]
    assert all(s.minutes == 30 for s in slots)


def test_lord_howe_repeated_half_hour_is_offered_once() -> None:
    # 4 Apr 2027: Lord Howe's clocks fall back from 02:00 to 01:30
    night: dict[Weekday, list[TimeRange]] = {"sun": [TimeRange(dtime(1), dtime(3))]}
    now = at(LORD_HOWE, 2027, 4, 3, 20, 0)
    slots = alternatives(timedelta(minutes=30), [], night, LORD_HOWE, now, not_before=now, count=8)
    assert local(slots, LORD_HOWE) == ["Sun 01:00", "Sun 01:30", "Sun 02:00", "Sun 02:30"]
    window = local_interval(date(2027, 4, 4), night["sun"][0], LORD_HOWE)
    assert window is not None
    assert all(window.contains(s) for s in slots)


# ---- properties ------------------------------------------------------------------------------

ZONES = ["UTC", "America/New_York", "Australia/Lord_Howe", "Asia/Kolkata", "Europe/Berlin"]
# weeks around DST changes in the zones above, and a quiet one
DAYS = [
    date(2027, 1, 18),
    date(2027, 3, 12),
    date(2027, 3, 26),
    date(2027, 4, 2),
    date(2027, 10, 1),
]


def clock(slot: int) -> dtime:
    return dtime(slot // 2, 30 * (slot % 2)) if slot < 48 else dtime(0)


@st.composite
def working_hours(draw: st.DrawFn) -> dict[Weekday, list[TimeRange]]:
    hours: dict[Weekday, list[TimeRange]] = {}
    for day in draw(st.lists(st.sampled_from(WEEKDAYS), max_size=7, unique=True)):
        start = draw(st.integers(0, 46))
        end = draw(st.integers(start + 1, min(48, start + 20)))
        hours[day] = [TimeRange(clock(start), clock(end))]
    return hours


def windows(
    day: date, hours: Mapping[Weekday, Sequence[TimeRange]], zone: ZoneInfo
) -> list[Interval]:
    pieces = (local_interval(day, rng, zone) for rng in hours.get(weekday_of(day), ()))
    return merge(p for p in pieces if p is not None)


@settings(max_examples=300, deadline=None)
@given(
    zone_name=st.sampled_from(ZONES),
    first=st.sampled_from(DAYS),
    now_minutes=st.integers(0, 3 * 24 * 60),
    delay_minutes=st.integers(-600, 600),
    duration_minutes=st.sampled_from([15, 30, 45, 60, 90, 120]),
    step=st.sampled_from([15, 30, 60]),
    count=st.integers(1, 4),
    horizon=st.integers(1, 7),
    hours=working_hours(),
    busy_spec=st.lists(st.tuples(st.integers(0, 8 * 24 * 60), st.integers(0, 300)), max_size=8),
)
def test_alternatives_properties(
    zone_name: str,
    first: date,
    now_minutes: int,
    delay_minutes: int,
    duration_minutes: int,
    step: int,
    count: int,
    horizon: int,
    hours: dict[Weekday, list[TimeRange]],
    busy_spec: list[tuple[int, int]],
) -> None:
    zone = ZoneInfo(zone_name)
    origin = day_bounds(first, zone).start
    now = origin + timedelta(minutes=now_minutes)
    not_before = now + timedelta(minutes=delay_minutes)
    busy = [
        Interval(origin + timedelta(minutes=s), origin + timedelta(minutes=s + n))
        for s, n in busy_spec
    ]
    duration = timedelta(minutes=duration_minutes)

    def run(start: datetime, days: int, limit: int) -> list[Interval]:
        return alternatives(
            duration, busy, hours, zone, now,
            not_before=start, horizon_days=days, count=limit, step_minutes=step,
        )  # fmt: skip

    slots = run(not_before, horizon, count)
    assert slots == run(not_before, horizon, count)
    earliest = max(now, not_before)
    first_day = earliest.astimezone(zone).date()
    assert len(slots) <= count
    assert slots == sorted(slots, key=lambda s: s.start)
    for index, slot in enumerate(slots):
        wall = slot.start.astimezone(zone)
        assert slot.end - slot.start == duration
        assert slot.start >= earliest
        assert (wall.hour * 60 + wall.minute) % step == 0
        assert wall.second == 0
        assert wall.microsecond == 0
        assert 0 <= (wall.date() - first_day).days < horizon
        assert any(w.contains(slot) for w in windows(wall.date(), hours, zone))
        assert not any(slot.overlaps(b) for b in busy)
        assert not any(slot.overlaps(other) for other in slots[index + 1 :])
    days_used = [s.start.astimezone(zone).date() for s in slots]
    if len(set(days_used)) < len(days_used):
        # a day got a second slot, so every day with any free slot already has one
        for offset in range(horizon):
            day = first_day + timedelta(days=offset)
            start = max(earliest, day_bounds(day, zone).start)
            if run(start, 1, 1):
                assert day in days_used

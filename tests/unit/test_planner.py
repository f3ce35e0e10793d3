"""The weekly planner: explicit cases, DST weeks, odd offsets."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from app.domain.intervals import Interval
from app.domain.plan import DEFAULT_WORKING_HOURS, PlanSpec
from app.domain.planner import Busy, PlannerResult, empty_week_capacity, plan_week
from app.domain.time import IsoWeek, TimeRange, Weekday

BERLIN = ZoneInfo("Europe/Berlin")
WEEK = IsoWeek(2027, 3)  # Mon 2027-01-18 .. Sun 2027-01-24
BEFORE = datetime(2027, 1, 10, 18, tzinfo=BERLIN)


def local(day: int, hour: int, minute: int = 0, zone: ZoneInfo = BERLIN) -> datetime:
    """Wall-clock time on the given January 2027 day."""
    return datetime(2027, 1, day, hour, minute, tzinfo=zone)


def walls(result: PlannerResult, zone: ZoneInfo = BERLIN) -> list[str]:
    return [
        f"{b.start.astimezone(zone):%a %H:%M}-{b.end.astimezone(zone):%H:%M}"
        for b in result.new_blocks
    ]


def run(spec: PlanSpec | None = None, busy: list[Busy] | None = None, **kw: Any) -> PlannerResult:
    kw.setdefault("now", BEFORE)
    kw.setdefault("zone", BERLIN)
    kw.setdefault("working_hours", DEFAULT_WORKING_HOURS)
    return plan_week(spec or PlanSpec(goal="g"), kw.pop("week", WEEK), busy or [], **kw)


def test_default_plan_in_empty_week() -> None:
    result = run()
    assert walls(result) == ["Mon 09:00-11:00", "Tue 09:00-11:00"]
    assert result.booked_minutes == result.target_minutes == 240
    assert result.shortfall_reason is None
    assert all(b.minutes == 120 for b in result.new_blocks)


def test_meeting_shifts_block_past_its_buffer() -> None:
    meeting = Busy(local(18, 9, 0), local(18, 9, 30))
    result = run(busy=[meeting])
    # 09:30 + 10 min buffer = 09:40; 09:45 is the first quarter hour and still preferred
    assert walls(result) == ["Mon 09:45-11:45", "Tue 09:00-11:00"]


def test_block_ends_before_the_buffer_of_a_later_meeting() -> None:
    meeting = Busy(local(18, 10, 0), local(18, 16, 0))
    result = run(busy=[meeting])
    # 08:00-09:50 is only 110 min; 16:10-17:00 is too short -> Monday is unusable
    assert walls(result) == ["Tue 09:00-11:00", "Wed 09:00-11:00"]


def test_odd_second_meeting_end_still_gives_valid_blocks() -> None:
    meeting = Busy(local(18, 8, 0), local(18, 9, 0) + timedelta(seconds=17))
    result = run(busy=[meeting])
    first = result.new_blocks[0]
    assert first.start >= meeting.end + timedelta(minutes=10)
    assert first.start.second == 0
    assert first.minutes == 120


def test_all_day_event_blocks_its_local_day() -> None:
    # floating dates Mon..Tue (end exclusive) as UTC midnights
    holiday = Busy(
        datetime(2027, 1, 18, tzinfo=UTC), datetime(2027, 1, 20, tzinfo=UTC), all_day=True
    )
    result = run(busy=[holiday])
    assert walls(result) == ["Wed 09:00-11:00", "Thu 09:00-11:00"]


def test_all_day_dates_are_local_even_far_from_utc() -> None:
    tokyo = ZoneInfo("Asia/Tokyo")
    holiday = Busy(
        datetime(2027, 1, 18, tzinfo=UTC), datetime(2027, 1, 19, tzinfo=UTC), all_day=True
    )
    result = run(busy=[holiday], zone=tokyo, now=datetime(2027, 1, 10, tzinfo=tokyo))
    assert walls(result, tokyo) == ["Tue 09:00-11:00", "Wed 09:00-11:00"]


def test_out_of_office_blocks_every_day_it_touches() -> None:
    ooo = Busy(local(18, 16, 0), local(19, 8, 0), out_of_office=True)
    result = run(busy=[ooo])
    assert walls(result) == ["Wed 09:00-11:00", "Thu 09:00-11:00"]


def test_now_mid_week_skips_the_past() -> None:
    now = local(20, 9, 7)  # Wednesday 09:07
    result = run(now=now)
    assert all(b.start >= now for b in result.new_blocks)
    # Wed 09:15-11:15 is still inside the preferred window
    assert walls(result) == ["Wed 09:15-11:15", "Thu 09:00-11:00"]


def test_now_after_the_week_books_nothing() -> None:
    result = run(now=local(25, 0, 0))
    assert result.new_blocks == []
    assert result.booked_minutes == 0
    assert result.shortfall_reason == (
        "Only 0 of 240 minutes fit in 2027-W03: mon, tue, wed, thu, fri are already past."
    )


def test_kept_and_consumed_reduce_what_is_booked() -> None:
    kept = Interval(local(19, 13, 0), local(19, 15, 0))
    result = run(kept=[kept])
    # Tuesday already has its block (max 1 per day), so the second goes to Monday
    assert walls(result) == ["Mon 09:00-11:00"]
    assert result.booked_minutes == 240
    result = run(kept=[kept], consumed_minutes=120)
    assert result.new_blocks == []
    assert result.booked_minutes == 120
    assert result.shortfall_reason is None
    result = run(consumed_minutes=120)
    assert walls(result) == ["Mon 09:00-11:00"]
    assert result.shortfall_reason is None


def test_kept_blocks_occupy_time() -> None:
    spec = PlanSpec(goal="g", max_blocks_per_day=2, weekly_target_minutes=360)
    kept = Interval(local(18, 9, 0), local(18, 11, 0))
    result = run(spec, kept=[kept])
    assert all(not b.overlaps(kept) for b in result.new_blocks)
    assert result.booked_minutes == 360


def test_shortfall_reason_when_the_week_is_full() -> None:
    busy = [
        Busy(local(18, 0), local(18, 23)),
        Busy(local(19, 8), local(19, 16)),
        Busy(datetime(2027, 1, 20, tzinfo=UTC), datetime(2027, 1, 21, tzinfo=UTC), all_day=True),
        Busy(local(21, 10), local(21, 11, 30), out_of_office=True),
    ]
    result = run(busy=busy, now=local(19, 0, 0))
    assert walls(result) == ["Fri 09:00-11:00"]
    assert result.booked_minutes == 120
    assert result.shortfall_reason == (
        "Only 120 of 240 minutes fit in 2027-W03: mon is already past; "
        "tue has no free stretch of 120 min inside your windows and working hours; "
        "wed, thu are blocked by all-day or out-of-office events; "
        "fri already has the daily maximum of 1 block."
    )


def test_deterministic() -> None:
    busy = [Busy(local(d, h), local(d, h, 45)) for d in range(18, 23) for h in (9, 13)]
    spec = PlanSpec(goal="g", weekly_target_minutes=600, block_minutes={"min": 60, "max": 150})
    assert run(spec, busy) == run(spec, busy)


def test_preferred_placement_must_not_split_the_only_segment() -> None:
    # Only Monday, one 09:00-13:00 stretch (240 min); preferred window 10:00-12:00.
    # Booking 10:00-12:00 first would leave 09:00-10:00 and 12:00-13:00 (60 min each): target
    # 240 would then be unreachable. The planner must book 09:00-11:00 + 11:00-13:00.
    spec = PlanSpec(
        goal="g",
        days=["mon"],
        max_blocks_per_day=2,
        windows=["09:00-13:00"],
        preferred_windows=["10:00-12:00"],
    )
    result = run(spec)
    assert result.booked_minutes == 240
    assert result.shortfall_reason is None
    assert walls(result) == ["Mon 09:00-11:00", "Mon 11:00-13:00"]


def test_variable_lengths_split_a_short_segment() -> None:
    # One 150-min stretch, two blocks of 60..120 min: 120 + 30 would fail, 90 + 60 works.
    spec = PlanSpec(
        goal="g",
        days=["mon"],
        max_blocks_per_day=2,
        weekly_target_minutes=150,
        block_minutes={"min": 60, "max": 120},
        windows=["09:00-11:30"],
    )
    result = run(spec)
    assert result.booked_minutes == 150
    assert sorted(b.minutes for b in result.new_blocks) == [60, 90]


def test_short_remainder_books_a_shorter_block() -> None:
    spec = PlanSpec(goal="g", weekly_target_minutes=200, block_minutes={"min": 60, "max": 120})
    result = run(spec)
    assert walls(result) == ["Mon 09:00-11:00", "Tue 09:00-10:20"]


def test_rejects_naive_now() -> None:
    with pytest.raises(ValueError, match="aware"):
        run(now=datetime(2027, 1, 1))  # noqa: DTZ001
    with pytest.raises(ValueError, match="aware"):
        Busy(datetime(2027, 1, 1), datetime(2027, 1, 2))  # noqa: DTZ001


def test_plan_timezone_overrides_user_zone() -> None:
    spec = PlanSpec(goal="g", timezone="Asia/Kolkata")
    result = run(spec, zone=ZoneInfo("America/New_York"))
    assert walls(result, ZoneInfo("Asia/Kolkata")) == ["Mon 09:00-11:00", "Tue 09:00-11:00"]


def test_empty_week_capacity() -> None:
    assert empty_week_capacity(PlanSpec(goal="g"), DEFAULT_WORKING_HOURS) == 600
    spec = PlanSpec(goal="g", max_blocks_per_day=8, block_minutes={"min": 60, "max": 90})
    assert empty_week_capacity(spec, DEFAULT_WORKING_HOURS) == 5 * 480


# --- DST weeks and odd offsets --------------------------------------------------------------


def first_monday(week: IsoWeek) -> date:
    return week.days()[0]


@pytest.mark.parametrize(
    ("zone_name", "week"),
    [
        ("America/New_York", IsoWeek(2027, 10)),
        ("America/New_York", IsoWeek(2027, 44)),
        ("Europe/London", IsoWeek(2027, 12)),
        ("Europe/London", IsoWeek(2027, 43)),
        ("Asia/Kolkata", IsoWeek(2027, 10)),
        ("America/St_Johns", IsoWeek(2027, 10)),
        ("America/St_Johns", IsoWeek(2027, 11)),
    ],
)
def test_default_plan_in_dst_and_odd_offset_weeks(zone_name: str, week: IsoWeek) -> None:
    zone = ZoneInfo(zone_name)
    now = week.start(zone) - timedelta(days=1)
    spec = PlanSpec(goal="g", days=["mon", "tue", "wed", "thu", "fri", "sat", "sun"])
    hours: dict[Weekday, list[TimeRange]] = {d: [TimeRange.parse("09:00-17:00")] for d in spec.days}
    result = plan_week(spec, week, [], now, zone=zone, working_hours=hours)
    assert result.booked_minutes == 240
    for block, day in zip(result.new_blocks, week.days()[:2], strict=True):
        assert block.start.astimezone(zone).replace(tzinfo=None) == datetime.combine(day, time(9))
        assert block.end.astimezone(zone).replace(tzinfo=None) == datetime.combine(day, time(11))
        assert block.minutes == 120


def night_plan(days: list[Weekday]) -> tuple[PlanSpec, dict[Weekday, list[TimeRange]]]:
    spec = PlanSpec(
        goal="g",
        days=days,
        windows=["00:00-03:00"],
        preferred_windows=["00:00-03:00"],
        weekly_target_minutes=120,
    )
    return spec, {d: [TimeRange.parse("00:00-03:00")] for d in days}


def test_lord_howe_fall_back_gives_a_longer_night() -> None:
    # 2027-04-04 (Sunday): 02:00 +11 -> 01:30 +10:30, so 00:00-03:00 lasts 210 min
    zone = ZoneInfo("Australia/Lord_Howe")
    spec, hours = night_plan(["sun"])
    spec = spec.model_copy(
        update={"block_minutes": spec.block_minutes.model_copy(update={"min": 210, "max": 210})}
    )
    week = IsoWeek.of_date(date(2027, 4, 4))
    now = week.start(zone) - timedelta(days=1)
    result = plan_week(spec, week, [], now, zone=zone, working_hours=hours)
    [block] = result.new_blocks
    assert block.minutes == 210
    assert f"{block.start.astimezone(zone):%Y-%m-%d %H:%M %z}" == "2027-04-04 00:00 +1100"
    assert f"{block.end.astimezone(zone):%H:%M %z}" == "03:00 +1030"


def test_lord_howe_spring_forward_gives_a_shorter_night() -> None:
    # 2027-10-03 (Sunday): 02:00 +10:30 -> 02:30 +11, so 00:00-03:00 lasts only 150 min
    zone = ZoneInfo("Australia/Lord_Howe")
    spec, hours = night_plan(["sun"])
    week = IsoWeek.of_date(date(2027, 10, 3))
    now = week.start(zone) - timedelta(days=1)
    result = plan_week(spec, week, [], now, zone=zone, working_hours=hours)
    [block] = result.new_blocks
    assert block.minutes == 120
    assert f"{block.start.astimezone(zone):%H:%M %z}" == "00:00 +1030"
    assert f"{block.end.astimezone(zone):%H:%M %z}" == "02:30 +1100"  # 120 real minutes
    spec = spec.model_copy(
        update={"block_minutes": spec.block_minutes.model_copy(update={"min": 160, "max": 160})}
    )
    result = plan_week(spec, week, [], now, zone=zone, working_hours=hours)
    assert result.new_blocks == []
    assert result.shortfall_reason is not None
    assert "sun has no free stretch of 160 min" in result.shortfall_reason


def test_plan_week_accepts_any_zone_for_now() -> None:
    now_utc = BEFORE.astimezone(UTC)
    assert run(now=now_utc) == run()

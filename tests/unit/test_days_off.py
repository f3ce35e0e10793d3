"""Days off (issue 17 item 4): pro-rata targets, partial days, away weeks and the streak,
odd zones and DST weeks, and the planner skipping days off."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from app.domain.days_off import (
    Away,
    DayOff,
    Reason,
    WeekTarget,
    describe,
    leave_day_problem,
    week_target,
    working_days,
)
from app.domain.ledger import (
    BlockFact,
    WeekInput,
    streak,
    summarize,
    week_ledger,
    weekly_message,
)
from app.domain.plan import DEFAULT_WORKING_HOURS, PlanSpec
from app.domain.planner import plan_week
from app.domain.time import WEEKDAYS, IsoWeek, TimeRange

BERLIN = ZoneInfo("Europe/Berlin")
KOLKATA = ZoneInfo("Asia/Kolkata")
LORD_HOWE = ZoneInfo("Australia/Lord_Howe")
WEEK = IsoWeek(2027, 2)  # Mon 2027-01-11 .. Sun 2027-01-17
NINE_TO_FIVE = [TimeRange(time(9), time(17))]
WEEKDAYS_5 = WEEKDAYS[:5]
EVERY_DAY = dict.fromkeys(WEEKDAYS, NINE_TO_FIVE)


def target(
    week: IsoWeek = WEEK,
    zone: ZoneInfo = BERLIN,
    days: tuple[str, ...] = WEEKDAYS_5,
    **kw: object,
) -> WeekTarget:
    working = working_days(week, days, NINE_TO_FIVE, EVERY_DAY, zone)  # type: ignore[arg-type]
    return week_target(week, 240, working, **kw)  # type: ignore[arg-type]


def test_a_week_with_two_days_of_leave_has_three_fifths_of_the_target() -> None:
    reduced = target(leave={date(2027, 1, 11), date(2027, 1, 12)})
    assert (reduced.minutes, reduced.working_days, reduced.away) == (144, 5, False)
    assert [d.reason for d in reduced.days_off] == [Reason.LEAVE, Reason.LEAVE]
    assert reduced.explanation() == "2 days of leave: target 4 h → 2.4 h"


def test_leave_on_a_day_outside_the_plan_changes_nothing() -> None:
    reduced = target(leave={date(2027, 1, 16)})  # a Saturday; the plan books Mon..Fri
    assert (reduced.minutes, reduced.days_off, reduced.explanation()) == (240, (), "")


def test_a_public_holiday_is_named() -> None:
    reduced = target(
        IsoWeek(2026, 52), holidays={date(2026, 12, 25): "Christmas Day"}
    )  # Friday 25 Dec
    assert reduced.minutes == 192
    assert reduced.explanation() == "public holiday: Christmas Day: target 4 h → 3.2 h"


def test_leave_wins_over_a_holiday_on_the_same_day() -> None:
    day = date(2027, 1, 11)
    reduced = target(leave={day}, holidays={day: "Some Day"})
    assert reduced.days_off == (DayOff(day, Reason.LEAVE),)


def test_an_out_of_office_counts_when_it_covers_at_least_half_the_window() -> None:
    half = Away(
        datetime(2027, 1, 11, 9, tzinfo=BERLIN), datetime(2027, 1, 11, 13, tzinfo=BERLIN)
    )  # 4 of 8 hours
    short = Away(
        datetime(2027, 1, 12, 9, tzinfo=BERLIN), datetime(2027, 1, 12, 12, 59, tzinfo=BERLIN)
    )
    reduced = target(away=[half, short])
    assert [d.day for d in reduced.days_off] == [date(2027, 1, 11)]
    assert reduced.explanation() == "1 day out of office: target 4 h → 3.2 h"


def test_an_all_day_out_of_office_takes_its_floating_dates() -> None:
    all_day = Away(
        datetime(2027, 1, 13, tzinfo=UTC), datetime(2027, 1, 15, tzinfo=UTC), all_day=True
    )
    reduced = target(zone=KOLKATA, away=[all_day])
    assert [d.day for d in reduced.days_off] == [date(2027, 1, 13), date(2027, 1, 14)]


def test_a_week_fully_away_has_no_target() -> None:
    reduced = target(
        leave={date(2027, 1, 11) + timedelta(days=n) for n in range(3)},
        away=[
            Away(datetime(2027, 1, 14, 0, tzinfo=BERLIN), datetime(2027, 1, 16, 0, tzinfo=BERLIN))
        ],
    )
    assert (reduced.minutes, reduced.away) == (0, True)
    assert (
        reduced.explanation() == "away all week (3 days of leave; 2 days out of office): no target"
    )


def test_kolkata_out_of_office_is_read_in_local_time() -> None:
    # 09:00-17:00 in Kolkata is 03:30-11:30 UTC: an OOO 03:30-07:30 UTC is half the window.
    monday = Away(
        datetime(2027, 1, 11, 3, 30, tzinfo=UTC), datetime(2027, 1, 11, 7, 30, tzinfo=UTC)
    )
    # the same hours in UTC on Tuesday start at 09:00 local + 5:30 = 14:30 local: 2.5 h only
    tuesday = Away(datetime(2027, 1, 12, 9, tzinfo=UTC), datetime(2027, 1, 12, 13, tzinfo=UTC))
    reduced = target(zone=KOLKATA, away=[monday, tuesday])
    assert [d.day for d in reduced.days_off] == [date(2027, 1, 11)]


def test_lord_howe_dst_week() -> None:
    # Lord Howe moves its clocks by 30 minutes on Sunday 4 Oct 2026 (02:00 -> 02:30).
    week = IsoWeek(2026, 40)
    working = working_days(week, WEEKDAYS, NINE_TO_FIVE, EVERY_DAY, LORD_HOWE)
    assert all(
        sum(i.minutes for i in spans) == 480 for spans in working.values()
    )  # window time is wall time, the shift happens at night
    sunday = date(2026, 10, 4)
    start = datetime(2026, 10, 4, 9, tzinfo=LORD_HOWE)
    half = Away(start, start + timedelta(hours=4))
    reduced = week_target(week, 280, working, leave={date(2026, 9, 28)}, away=[half])
    assert [d.day for d in reduced.days_off] == [date(2026, 9, 28), sunday]
    assert reduced.minutes == 200  # 280 * 5 / 7


def test_berlin_dst_week_half_day_is_measured_in_real_minutes() -> None:
    # 28 Mar 2027 is the spring-forward Sunday; the OOO is given in UTC across the change.
    week = IsoWeek(2027, 12)
    working = working_days(week, WEEKDAYS, NINE_TO_FIVE, EVERY_DAY, BERLIN)
    # 09:00-13:00 CEST on the Sunday is 07:00-11:00 UTC: exactly half of the window.
    away = Away(datetime(2027, 3, 28, 7, tzinfo=UTC), datetime(2027, 3, 28, 11, tzinfo=UTC))
    assert [d.day for d in week_target(week, 280, working, away=[away]).days_off] == [
        date(2027, 3, 28)
    ]
    early = Away(datetime(2027, 3, 28, 6, tzinfo=UTC), datetime(2027, 3, 28, 9, 59, tzinfo=UTC))
    assert week_target(week, 280, working, away=[early]).days_off == ()


def test_describe_joins_reasons() -> None:
    days = [
        DayOff(date(2026, 12, 24), Reason.LEAVE),
        DayOff(date(2026, 12, 25), Reason.HOLIDAY, "Christmas Day"),
        DayOff(date(2026, 12, 28), Reason.HOLIDAY, "Boxing Day (observed)"),
    ]
    assert describe(days) == (
        "1 day of leave; public holidays: Christmas Day, Boxing Day (observed)"
    )


def test_leave_far_from_today_is_refused() -> None:
    assert leave_day_problem(date(2027, 1, 1), date(2026, 11, 29)) is None
    assert leave_day_problem(date(1999, 1, 1), date(2026, 11, 29)) is not None


# --- the ledger and the streak -----------------------------------------------------------


def _row(week: IsoWeek, kept: int, reduced: WeekTarget | None = None):  # type: ignore[no-untyped-def]
    monday = datetime.combine(week.monday(), time(9), tzinfo=BERLIN)
    blocks = tuple(
        BlockFact(monday + timedelta(days=n), monday + timedelta(days=n, hours=2))
        for n in range(kept)
    )
    data = WeekInput(week=week, target_minutes=240, blocks=blocks, reduced=reduced)
    return week_ledger(data, BERLIN, DEFAULT_WORKING_HOURS, datetime(2028, 1, 1, tzinfo=UTC))


def test_the_ledger_uses_the_reduced_target() -> None:
    reduced = target(leave={date(2027, 1, 11), date(2027, 1, 12)})
    row = _row(WEEK, 1, reduced)  # 120 kept of 144
    assert (row.target_minutes, row.base_target_minutes, row.on_target) == (144, 240, False)
    assert row.target_note == "2 days of leave: target 4 h → 2.4 h"
    assert _row(WEEK, 2, reduced).on_target
    assert "(2 days of leave: target 4 h → 2.4 h)" in weekly_message(row, 0)


def test_an_away_week_neither_breaks_nor_extends_the_streak() -> None:
    w1, w2, w3 = WEEK, WEEK.plus(1), WEEK.plus(2)
    away = target(w2, leave={w2.monday() + timedelta(days=n) for n in range(5)})
    rows = [_row(w1, 2), _row(w2, 0, away), _row(w3, 2)]
    assert rows[1].away and not rows[1].on_target
    assert summarize(rows, w3, 240, None).streak_weeks == 2
    # without the leave the empty week breaks the run
    assert summarize([_row(w1, 2), _row(w2, 0), _row(w3, 2)], w3, 240, None).streak_weeks == 1
    # the away week being the latest: the run before it stands, not one longer
    assert summarize(rows[:2], w2, 240, None).streak_weeks == 1
    assert "away" in weekly_message(rows[1], 1)


def test_streak_skips_none_and_stops_at_gaps() -> None:
    w = IsoWeek(2027, 5)
    assert streak({w: True, w.plus(-1): None, w.plus(-2): True}, w) == 2
    assert streak({w: None, w.plus(-1): None}, w) == 0
    assert streak({w: True, w.plus(-2): True}, w) == 1


# --- booking: the planner ---------------------------------------------------------------------


def test_the_planner_books_no_block_on_days_off_and_books_the_reduced_target() -> None:
    spec = PlanSpec.model_validate({"goal": "g", "block_minutes": 60, "weekly_target_minutes": 300})
    now = datetime(2027, 1, 10, 12, tzinfo=BERLIN)
    off = {date(2027, 1, 11), date(2027, 1, 12)}
    result = plan_week(
        spec,
        WEEK,
        [],
        now,
        zone=KOLKATA,
        working_hours=DEFAULT_WORKING_HOURS,
        days_off=off,
        target_minutes=180,
    )
    days = {b.start.astimezone(KOLKATA).date() for b in result.new_blocks}
    assert days == {date(2027, 1, 13), date(2027, 1, 14), date(2027, 1, 15)}
    assert (result.target_minutes, result.booked_minutes, result.shortfall_reason) == (
        180,
        180,
        None,
    )


def test_the_planner_says_a_day_off_is_why_a_target_falls_short() -> None:
    spec = PlanSpec.model_validate({"goal": "g", "days": ["mon"], "weekly_target_minutes": 120})
    result = plan_week(
        spec,
        WEEK,
        [],
        datetime(2027, 1, 10, tzinfo=BERLIN),
        zone=BERLIN,
        working_hours=DEFAULT_WORKING_HOURS,
        days_off={date(2027, 1, 11)},
    )
    assert result.new_blocks == []
    assert result.shortfall_reason is not None and "mon is a day off" in result.shortfall_reason


@pytest.mark.parametrize("zone", [BERLIN, KOLKATA, LORD_HOWE])
def test_no_days_off_keeps_the_plans_target(zone: ZoneInfo) -> None:
    assert target(zone=zone).minutes == 240 and not target(zone=zone).reduced


@settings(max_examples=60, deadline=None)
@given(
    base=st.integers(min_value=15, max_value=3000),
    off=st.sets(st.integers(min_value=0, max_value=6)),
    more=st.integers(min_value=0, max_value=6),
)
def test_the_reduced_target_shrinks_with_each_day_off(base: int, off: set[int], more: int) -> None:
    working = working_days(WEEK, WEEKDAYS, NINE_TO_FIVE, EVERY_DAY, BERLIN)
    monday = WEEK.monday()
    leave = {monday + timedelta(days=n) for n in off}
    fewer = week_target(WEEK, base, working, leave)
    more_leave = week_target(WEEK, base, working, leave | {monday + timedelta(days=more)})
    assert 0 <= more_leave.minutes <= fewer.minutes <= base
    assert fewer.away == (len(off) == 7) and (fewer.minutes == 0) == fewer.away
    assert abs(fewer.minutes - base * (7 - len(off)) / 7) <= 0.5


def test_st_johns_dst_week_out_of_office_given_in_utc() -> None:
    # St John's springs forward on Sunday 14 Mar 2027 (-03:30 -> -02:30).
    zone = ZoneInfo("America/St_Johns")
    week = IsoWeek(2027, 10)
    working = working_days(week, WEEKDAYS, NINE_TO_FIVE, EVERY_DAY, zone)
    assert sum(i.minutes for i in working[date(2027, 3, 14)]) == 480
    # 09:00-13:00 NDT on the Sunday is 11:30-15:30 UTC: half the window, a day off;
    # the same UTC hours on the Saturday (NST) are 08:00-12:00 local: only 3 h of the window.
    sunday = Away(
        datetime(2027, 3, 14, 11, 30, tzinfo=UTC), datetime(2027, 3, 14, 15, 30, tzinfo=UTC)
    )
    saturday = Away(
        datetime(2027, 3, 13, 11, 30, tzinfo=UTC), datetime(2027, 3, 13, 15, 30, tzinfo=UTC)
    )
    reduced = week_target(week, 280, working, away=[sunday, saturday])
    assert [d.day for d in reduced.days_off] == [date(2027, 3, 14)]
    assert reduced.minutes == 240

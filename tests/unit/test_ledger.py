"""The growth ledger: tables, DST-correct working minutes, streaks, projections, messages."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from app.domain.ledger import (
    BlockFact,
    EventFact,
    WeekInput,
    WeekLedger,
    event_split,
    hours_text,
    last_complete_week,
    previous_quarter,
    projection_hours,
    quarter_bounds,
    quarter_of,
    quarterly_message,
    streak,
    summarize,
    target_projection_hours,
    week_ledger,
    weekly_message,
    working_intervals,
)
from app.domain.plan import DEFAULT_WORKING_HOURS
from app.domain.time import IsoWeek, TimeRange
from app.html.charts import growth_chart

BERLIN = ZoneInfo("Europe/Berlin")
NEW_YORK = ZoneInfo("America/New_York")
WEEK = IsoWeek(2027, 2)  # Mon 2027-01-11
AFTER = datetime(2027, 2, 1, tzinfo=UTC)
WHOLE_DAY = TimeRange(time(0), time(0))


def at(day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2027, 1, day, hour, minute, tzinfo=BERLIN)


def block(day: int, hour: int, **kw: bool) -> BlockFact:
    return BlockFact(at(day, hour), at(day, hour + 2), **kw)


def event(day: int, start: int, end: int, title: str = "Sync", **kw: object) -> EventFact:
    return EventFact(title, at(day, start), at(day, end), **kw)  # type: ignore[arg-type]


def ledger(**kw: object) -> WeekLedger:
    data = WeekInput(week=WEEK, target_minutes=240, **kw)  # type: ignore[arg-type]
    return week_ledger(data, BERLIN, DEFAULT_WORKING_HOURS, AFTER)


# --- working minutes ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("week", "hours", "minutes"),
    [
        (WEEK, DEFAULT_WORKING_HOURS, 5 * 8 * 60),
        # US spring forward: Sun 2027-03-14 has 23 hours, fall back Sun 2027-11-07 has 25.
        (IsoWeek(2027, 10), {"sun": [WHOLE_DAY]}, 23 * 60),
        (IsoWeek(2027, 44), {"sun": [WHOLE_DAY]}, 25 * 60),
        # 01:00-04:00 on the spring-forward night is only two real hours (02:00-03:00 is skipped)
        (IsoWeek(2027, 10), {"sun": [TimeRange(time(1), time(4))]}, 120),
        (IsoWeek(2027, 44), {"sun": [TimeRange(time(1), time(4))]}, 240),
        # the weekdays of a DST week are unaffected
        (IsoWeek(2027, 10), DEFAULT_WORKING_HOURS, 2400),
    ],
)
def test_working_minutes_follow_dst(week: IsoWeek, hours: dict, minutes: int) -> None:
    total = sum(i.minutes for i in working_intervals(week, NEW_YORK, hours))
    assert total == minutes


def test_overlapping_working_ranges_count_once() -> None:
    hours = {"mon": [TimeRange(time(9), time(12)), TimeRange(time(11), time(13))]}
    assert sum(i.minutes for i in working_intervals(WEEK, BERLIN, hours)) == 240  # type: ignore[arg-type]


# --- one week ----------------------------------------------------------------------------------


def test_a_week_with_kept_moved_lost_blocks_meetings_and_tagged_time() -> None:
    row = ledger(
        blocks=(block(11, 9), block(12, 9, moved=True), block(13, 9, lost=True)),
        events=(
            event(14, 10, 12),
            event(14, 11, 13),  # overlaps the previous meeting: counted once
            event(15, 14, 15, title="Reading #Growth"),  # tagged, any case
            event(15, 18, 20),  # outside working hours
            event(11, 10, 11),  # inside a kept block: meeting time wins
            event(15, 9, 10, declined=True),
            event(15, 10, 11, busy=False),
            event(15, 11, 12, is_block=True),
            event(15, 12, 13, event_type="outOfOffice"),
        ),
        decisions=("decline", "move_block", "decline", "flag"),
    )
    assert (row.booked_minutes, row.kept_minutes, row.moved_minutes, row.lost_minutes) == (
        360,
        240,
        120,
        120,
    )
    assert row.working_minutes == 2400
    assert row.meeting_minutes == 180 + 60
    assert row.tagged_minutes == 60
    assert row.growth_minutes == 240 - 60 + 60
    assert row.growth_ratio == pytest.approx(240 / 2400)
    assert row.meeting_ratio == pytest.approx(240 / 2400)
    assert row.on_target and row.complete
    assert row.conflicts == {
        "decline": 2,
        "decline_after": 0,
        "move_block": 1,
        "flag": 1,
        "allow": 0,
    }


def test_an_empty_week_and_a_week_in_progress() -> None:
    row = week_ledger(WeekInput(WEEK, 240), BERLIN, DEFAULT_WORKING_HOURS, at(13, 12))
    assert not row.complete and not row.on_target
    assert (row.booked_minutes, row.growth_ratio, row.meeting_ratio) == (0, 0.0, 0.0)
    no_hours = week_ledger(WeekInput(WEEK, 240, (block(11, 9),)), BERLIN, {}, AFTER)
    assert no_hours.working_minutes == 0 and no_hours.growth_ratio == 0.0


def test_baseline_split_from_events() -> None:
    split = event_split(
        WEEK,
        BERLIN,
        DEFAULT_WORKING_HOURS,
        [
            event(11, 9, 11, is_block=True),
            event(12, 9, 10, title="#growth course"),
            event(13, 9, 12),
            event(13, 11, 13),
        ],
    )
    assert (split.working_minutes, split.meeting_minutes, split.growth_minutes) == (2400, 240, 180)
    assert split.free_minutes == 2400 - 240 - 180


_DAY = st.integers(min_value=11, max_value=15)
_SPAN = st.tuples(_DAY, st.integers(min_value=9, max_value=16), st.integers(1, 8))


def _within_hours(spans: list[tuple[int, int, int]]) -> list[tuple[datetime, datetime]]:
    return [(at(d, h), min(at(d, h) + timedelta(hours=n), at(d, 17))) for d, h, n in spans]


@settings(max_examples=150, deadline=None)
@given(
    blocks=st.lists(st.tuples(_SPAN, st.booleans()), max_size=6),
    meetings=st.lists(_SPAN, max_size=12),
    tagged=st.lists(_SPAN, max_size=4),
)
def test_ratios_stay_between_zero_and_one(
    blocks: list[tuple[tuple[int, int, int], bool]],
    meetings: list[tuple[int, int, int]],
    tagged: list[tuple[int, int, int]],
) -> None:
    facts = tuple(
        BlockFact(s, e, lost=lost)
        for (s, e), lost in zip(
            _within_hours([b for b, _ in blocks]), [x for _, x in blocks], strict=True
        )
    )
    events = tuple(EventFact("Sync", s, e) for s, e in _within_hours(meetings)) + tuple(
        EventFact("#growth", s, e) for s, e in _within_hours(tagged)
    )
    row = ledger(blocks=facts, events=events)
    assert 0.0 <= row.growth_ratio <= 1.0
    assert 0.0 <= row.meeting_ratio <= 1.0
    assert row.growth_ratio + row.meeting_ratio <= 1.0 + 1e-9
    assert row.growth_minutes + row.meeting_minutes <= row.working_minutes
    assert row.kept_minutes + row.lost_minutes == row.booked_minutes


# --- across weeks ------------------------------------------------------------------------------


def _row(week: IsoWeek, kept: int, *, growth: int | None = None, complete: bool = True):
    return WeekLedger(
        week=str(week),
        complete=complete,
        target_minutes=240,
        booked_minutes=kept,
        kept_minutes=kept,
        moved_minutes=0,
        lost_minutes=0,
        tagged_minutes=0,
        working_minutes=2400,
        growth_minutes=kept if growth is None else growth,
        meeting_minutes=0,
        growth_ratio=kept / 2400,
        meeting_ratio=0.0,
        on_target=kept >= 240,
    )


@pytest.mark.parametrize(
    ("flags", "expected"),
    [
        ([], 0),
        ([True], 1),
        ([True, True, True], 3),
        ([True, False, True, True], 2),
        ([True, True, False], 0),  # the latest week missed: the streak is broken
    ],
)
def test_streak(flags: list[bool], expected: int) -> None:
    latest = IsoWeek(2027, 10)
    weeks = {latest.plus(i - len(flags) + 1): flag for i, flag in enumerate(flags)}
    assert streak(weeks, latest) == expected


def test_streak_crosses_the_year_and_stops_at_gaps() -> None:
    weeks = {IsoWeek(2026, 52): True, IsoWeek(2026, 53): True, IsoWeek(2027, 1): True}
    assert streak(weeks, IsoWeek(2027, 1)) == 3
    assert streak({IsoWeek(2027, 1): True, IsoWeek(2026, 52): True}, IsoWeek(2027, 1)) == 1


def test_projection_arithmetic() -> None:
    assert projection_hours(40.0, 10) == 208.0
    assert projection_hours(0.0, 0) is None
    assert target_projection_hours(240) == 208.0  # "two 2-hour blocks a week is ~200 h a year"
    assert target_projection_hours(90) == 78.0


def test_summary_from_rows() -> None:
    latest = IsoWeek(2027, 4)
    rows = [
        _row(IsoWeek(2026, 52), 240),
        _row(IsoWeek(2027, 1), 240),
        _row(IsoWeek(2027, 2), 120),
        _row(IsoWeek(2027, 3), 240, growth=300),
        _row(IsoWeek(2027, 4), 240),
        _row(IsoWeek(2027, 5), 240, complete=False),  # in progress: ignored
    ]
    result = summarize(rows, latest, 240, since=IsoWeek(2026, 52))
    assert result.streak_weeks == 2
    assert result.elapsed_weeks == 4
    assert result.ytd_hours == 15.0  # (240 + 120 + 300 + 240) / 60
    assert result.projection_hours == 195.0  # 15 / 4 * 52
    assert result.target_projection_hours == 208.0
    # a plan started mid-year is projected from its own weeks
    late = summarize(rows, latest, 240, since=IsoWeek(2027, 3))
    assert (late.elapsed_weeks, late.ytd_hours, late.projection_hours) == (2, 9.0, 234.0)


def test_last_complete_week_uses_the_local_date() -> None:
    # Sunday 23:30 in Berlin is still week 2 there, so week 1 is the last complete one.
    assert last_complete_week(at(17, 23, 30), BERLIN) == IsoWeek(2027, 1)
    assert last_complete_week(at(18, 0, 30), BERLIN) == IsoWeek(2027, 2)


# --- words -------------------------------------------------------------------------------------


def test_weekly_message() -> None:
    assert weekly_message(_row(WEEK, 240), 3) == (
        "You kept 4 h of 4 h growth time last week (100 %). Streak: 3 weeks."
    )
    assert weekly_message(_row(WEEK, 90), 0) == (
        "You kept 1.5 h of 4 h growth time last week (38 %). Streak: 0 weeks."
    )
    assert weekly_message(_row(WEEK, 240), 1).endswith("Streak: 1 week.")
    assert hours_text(0) == "0 h"


def test_quarters() -> None:
    assert quarter_of(date(2027, 1, 3)) == (2027, 1)
    assert quarter_of(date(2027, 12, 31)) == (2027, 4)
    assert previous_quarter(2027, 1) == (2026, 4)
    assert previous_quarter(2027, 3) == (2027, 2)
    first, following = quarter_bounds(2026, 4)
    assert (str(first), str(following)) == ("2026-10-01", "2027-01-01")
    text = quarterly_message(2026, 4, 2880, ["Lead a project"])
    assert text.startswith("Q4 2026 is over: you kept 48 h of growth time toward “Lead a project”.")
    assert "revisit your goal" in text


def test_chart_escapes_text_and_labels_each_week() -> None:
    svg = growth_chart([_row(WEEK, 240), _row(WEEK.next(), 120)], title="<b>Mine & yours</b>")
    assert '<svg xmlns="http://www.w3.org/2000/svg" role="img"' in svg
    assert '<title id="growth-title">&lt;b&gt;Mine &amp; yours&lt;/b&gt;</title>' in svg
    assert "<desc" in svg and "<script" not in svg
    assert svg.count('<g class="week"') == 2
    assert ">11 Jan<" in svg and ">18 Jan<" in svg and ">5 % growth<" in svg  # 2027-W02, W03
    assert growth_chart([]).count('<g class="week"') == 0

"""The fast planner decides exactly what the old one (tests/reference_planner.py) decided."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from hypothesis import given, settings
from hypothesis import strategies as st

from app.domain.intervals import Interval
from app.domain.plan import PlanSpec
from app.domain.planner import Busy, empty_week_capacity, plan_week
from app.domain.time import WEEKDAYS, IsoWeek, TimeRange
from tests import reference_planner
from tests.support.planner_cases import DST_WEEKS, DST_ZONES, FIXED_ZONES, Case, cases

# zones whose history has offsets in seconds (LMT) or odd transitions, and weeks around them
ODD_ZONES = ["Europe/Amsterdam", "Africa/Monrovia", "Pacific/Apia", "Europe/Dublin"]
ODD_WEEKS = [IsoWeek(1937, 20), IsoWeek(1970, 1), IsoWeek(2011, 52), IsoWeek(2027, 13)]


def both(case: Case) -> tuple[object, object]:
    args = (case.spec, case.week, case.busy, case.now)
    kwargs = {
        "zone": case.zone,
        "working_hours": case.hours,
        "kept": case.kept,
        "consumed_minutes": case.consumed,
    }
    return plan_week(*args, **kwargs), reference_planner.plan_week(*args, **kwargs)  # type: ignore[arg-type]


@settings(max_examples=300, deadline=None)
@given(
    st.one_of(
        cases([*DST_ZONES, "UTC"], DST_WEEKS),
        cases(FIXED_ZONES, DST_WEEKS, tight=True),
    )
)
def test_same_result_as_the_reference(case: Case) -> None:
    fast, old = both(case)
    assert fast == old


@st.composite
def ragged(draw: st.DrawFn) -> Case:
    """Cases whose instants are off the minute grid (seconds, microseconds), zero-length events
    and events in other zones, in zones with second-level offsets or skipped days."""
    case = draw(cases(ODD_ZONES, ODD_WEEKS))
    jitter = st.integers(-90_000_000, 90_000_000).map(lambda us: timedelta(microseconds=us))
    busy = []
    for b in case.busy:
        if b.all_day:
            busy.append(b)
            continue
        start = b.start + draw(jitter)
        end = start if draw(st.booleans()) and draw(st.booleans()) else b.end + draw(jitter)
        end = max(start, end)
        shown = ZoneInfo(draw(st.sampled_from(["UTC", "Asia/Tokyo", case.zone.key])))
        busy.append(
            Busy(start.astimezone(shown), end.astimezone(shown), b.all_day, b.out_of_office)
        )
    kept = [Interval(k.start + draw(jitter), k.end + draw(jitter)) for k in case.kept]
    kept = [k for k in kept if k.end >= k.start]
    now = case.now + draw(jitter)
    return Case(case.spec, case.zone, case.week, case.hours, busy, kept, now, case.consumed)


@settings(max_examples=300, deadline=None)
@given(ragged())
def test_same_result_off_the_minute_grid(case: Case) -> None:
    fast, old = both(case)
    assert fast == old


@settings(max_examples=100, deadline=None)
@given(
    st.sampled_from([*DST_ZONES, *ODD_ZONES, "UTC"]),
    st.lists(st.sampled_from(WEEKDAYS), min_size=1, unique=True),
    st.sampled_from(["00:00-24:00", "08:00-18:00", "23:30-24:00"]),
)
def test_same_empty_week_capacity(zone: str, days: list[str], window: str) -> None:
    spec = PlanSpec.model_validate({"goal": "g", "days": days, "windows": [window]})
    hours = {day: [TimeRange.parse("07:00-19:00")] for day in WEEKDAYS}
    tz = ZoneInfo(zone)
    assert empty_week_capacity(spec, hours, tz) == reference_planner.empty_week_capacity(
        spec, hours, tz
    )


def test_an_empty_busy_event_off_the_minute_occupies_nothing() -> None:
    # a zero-length meeting at 10:00:30 must not cut a minute out of free time
    spec = PlanSpec.model_validate(
        {"goal": "g", "days": ["mon"], "windows": ["10:00-12:00"], "buffer_minutes": 0}
    )
    week = IsoWeek(2027, 3)
    moment = datetime(2027, 1, 18, 10, 0, 30, tzinfo=UTC)
    busy = [Busy(moment, moment)]
    now = datetime(2027, 1, 1, tzinfo=UTC)
    hours = {day: [TimeRange.parse("00:00-24:00")] for day in WEEKDAYS}
    zone = ZoneInfo("UTC")
    fast = plan_week(spec, week, busy, now, zone=zone, working_hours=hours)
    old = reference_planner.plan_week(spec, week, busy, now, zone=zone, working_hours=hours)
    assert fast == old
    assert fast.new_blocks == [
        Interval(datetime(2027, 1, 18, 10, tzinfo=UTC), datetime(2027, 1, 18, 12, tzinfo=UTC))
    ]


def test_a_block_may_start_at_the_first_whole_minute_after_now() -> None:
    # now is 10:00:30: a 120-minute block fits only from 10:01 to 12:01
    spec = PlanSpec.model_validate(
        {"goal": "g", "days": ["mon"], "windows": ["10:00-12:01"], "buffer_minutes": 0}
    )
    week = IsoWeek(2027, 3)
    now = datetime(2027, 1, 18, 10, 0, 30, tzinfo=UTC)
    hours = {day: [TimeRange.parse("00:00-24:00")] for day in WEEKDAYS}
    zone = ZoneInfo("UTC")
    fast = plan_week(spec, week, [], now, zone=zone, working_hours=hours)
    assert fast == reference_planner.plan_week(spec, week, [], now, zone=zone, working_hours=hours)
    start = datetime(2027, 1, 18, 10, 1, tzinfo=UTC)
    assert fast.new_blocks == [Interval(start, start + timedelta(minutes=120))]

"""ISO weeks, wall-clock ranges and DST-correct local intervals."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from app.domain.time import (
    WEEKDAYS,
    IsoWeek,
    TimeRange,
    day_bounds,
    local_interval,
    resolve_zone,
    weekday_of,
)


def test_resolve_zone() -> None:
    assert resolve_zone("Europe/Berlin") == ZoneInfo("Europe/Berlin")
    for bad in ("", "Mars/Olympus", "America", "../etc/passwd", "/etc/localtime", "UTC "):
        with pytest.raises(ValueError, match="unknown time zone"):
            resolve_zone(bad)


def test_weekdays() -> None:
    assert WEEKDAYS == ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
    assert weekday_of(date(2027, 1, 18)) == "mon"


@pytest.mark.parametrize("text", ["2027-W03", "2026-W53", "2027-W52", "2020-W53", "2027-W01"])
def test_isoweek_round_trip(text: str) -> None:
    assert str(IsoWeek.parse(text)) == text


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("2027-W53", "2027 has ISO weeks 1..52"),
        ("2027-W00", "1..52, not 0"),
        ("2027-3", "not an ISO week"),
        ("2027W03", "not an ISO week"),
        ("", "not an ISO week"),
    ],
)
def test_isoweek_errors(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        IsoWeek.parse(text)


def test_isoweek_navigation() -> None:
    w53 = IsoWeek(2026, 53)
    assert w53.next() == IsoWeek(2027, 1)
    assert w53.plus(-52) == IsoWeek(2026, 1)
    assert w53.plus(0) == w53
    assert IsoWeek(2027, 52).next() == IsoWeek(2028, 1)
    assert IsoWeek(2027, 3).plus(-3) == IsoWeek(2026, 53)
    assert IsoWeek(2027, 1) < IsoWeek(2027, 2) < IsoWeek(2028, 1)
    days = IsoWeek(2027, 1).days()
    assert days[0] == date(2027, 1, 4)
    assert days[-1] == date(2027, 1, 10)
    assert [weekday_of(d) for d in days] == list(WEEKDAYS)


def test_isoweek_containing_year_boundary() -> None:
    berlin = ZoneInfo("Europe/Berlin")
    # 2027-01-01 is a Friday in ISO week 2026-W53
    assert IsoWeek.containing(datetime(2027, 1, 1, 12, tzinfo=berlin), berlin) == IsoWeek(2026, 53)
    # 23:30 UTC on Sunday 2027-01-03 is already Monday in Berlin
    moment = datetime(2027, 1, 3, 23, 30, tzinfo=UTC)
    assert IsoWeek.containing(moment, berlin) == IsoWeek(2027, 1)
    assert IsoWeek.containing(moment, ZoneInfo("UTC")) == IsoWeek(2026, 53)


def test_isoweek_containing_across_the_date_line() -> None:
    # Kiritimati is UTC+14, Pago Pago UTC-11: the same instant is on different local dates
    moment = datetime(2027, 1, 3, 12, 0, tzinfo=UTC)  # Sunday noon UTC
    assert IsoWeek.containing(moment, ZoneInfo("Pacific/Kiritimati")) == IsoWeek(2027, 1)
    assert IsoWeek.containing(moment, ZoneInfo("Pacific/Pago_Pago")) == IsoWeek(2026, 53)


def test_isoweek_containing_rejects_naive() -> None:
    with pytest.raises(ValueError, match="aware"):
        IsoWeek.containing(datetime(2027, 1, 1), ZoneInfo("UTC"))  # noqa: DTZ001


def test_isoweek_start_end() -> None:
    ny = ZoneInfo("America/New_York")
    week = IsoWeek(2027, 10)  # contains Sunday 2027-03-14 (spring forward)
    start, end = week.start(ny), week.end(ny)
    assert wall(start, ny) == "2027-03-08 00:00 -0500"
    assert wall(end, ny) == "2027-03-15 00:00 -0400"
    # same-zone datetimes subtract by wall clock in Python; compare real elapsed time
    assert end.astimezone(UTC) - start.astimezone(UTC) == timedelta(days=7, hours=-1)


def test_timerange_parse() -> None:
    rng = TimeRange.parse("09:00-17:00")
    assert rng == TimeRange(time(9), time(17))
    assert str(rng) == "09:00-17:00"
    assert rng.minutes == 480
    late = TimeRange.parse("22:00-24:00")
    assert str(late) == "22:00-24:00"
    assert late.end_minute == 1440


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("25:00-26:00", "'25:00-26:00' is not a HH:MM-HH:MM range"),
        ("9-17", "'9-17' is not a HH:MM-HH:MM range"),
        ("09:00-24:30", "is not a HH:MM-HH:MM range"),
        ("09:60-10:00", "is not a HH:MM-HH:MM range"),
        ("17:00-09:00", "must end after it starts"),
        ("09:00-09:00", "must end after it starts"),
    ],
)
def test_timerange_errors(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        TimeRange.parse(text)


def wall(moment: datetime, zone: ZoneInfo) -> str:
    return moment.astimezone(zone).strftime("%Y-%m-%d %H:%M %z")


# (zone, date, hours in the day) checked against zoneinfo transitions for 2027
DAYS = [
    ("America/New_York", date(2027, 3, 14), 23),
    ("America/New_York", date(2027, 11, 7), 25),
    ("Europe/London", date(2027, 3, 28), 23),
    ("Europe/London", date(2027, 10, 31), 25),
    ("Australia/Lord_Howe", date(2027, 4, 4), 24.5),
    ("Australia/Lord_Howe", date(2027, 10, 3), 23.5),
    ("Asia/Kolkata", date(2027, 3, 14), 24),
    ("America/St_Johns", date(2027, 3, 14), 23),
    ("America/St_Johns", date(2027, 3, 15), 24),
]


@pytest.mark.parametrize(("zone_name", "day", "hours"), DAYS)
def test_day_bounds(zone_name: str, day: date, hours: float) -> None:
    zone = ZoneInfo(zone_name)
    bounds = day_bounds(day, zone)
    assert bounds.minutes == hours * 60
    assert bounds.start.astimezone(zone).replace(tzinfo=None) == datetime.combine(day, time())
    next_day = datetime.combine(day + timedelta(days=1), time())
    assert bounds.end.astimezone(zone).replace(tzinfo=None) == next_day


@pytest.mark.parametrize(
    ("zone_name", "day", "text", "start", "end", "minutes"),
    [
        # spring forward: 02:00-03:00 does not exist
        ("America/New_York", date(2027, 3, 14), "00:00-03:00", "00:00 -0500", "03:00 -0400", 120),
        ("America/New_York", date(2027, 3, 14), "02:15-02:45", None, None, 0),
        ("America/New_York", date(2027, 3, 14), "02:30-04:00", "03:00 -0400", "04:00 -0400", 60),
        # fall back: 01:00-02:00 happens twice; start first, end last occurrence
        ("America/New_York", date(2027, 11, 7), "00:00-03:00", "00:00 -0400", "03:00 -0500", 240),
        ("America/New_York", date(2027, 11, 7), "01:30-02:30", "01:30 -0400", "02:30 -0500", 120),
        ("America/New_York", date(2027, 11, 7), "09:00-11:00", "09:00 -0500", "11:00 -0500", 120),
        ("Europe/London", date(2027, 3, 28), "00:30-02:30", "00:30 +0000", "02:30 +0100", 60),
        ("Europe/London", date(2027, 10, 31), "00:30-02:30", "00:30 +0100", "02:30 +0000", 180),
        # Lord Howe: 30-minute shifts
        ("Australia/Lord_Howe", date(2027, 4, 4), "00:00-03:00", "00:00 +1100", "03:00 +1030", 210),
        ("Australia/Lord_Howe", date(2027, 4, 4), "01:45-02:15", "01:45 +1100", "02:15 +1030", 60),
        (
            "Australia/Lord_Howe",
            date(2027, 10, 3),
            "00:00-03:00",
            "00:00 +1030",
            "03:00 +1100",
            150,
        ),
        ("Australia/Lord_Howe", date(2027, 10, 3), "02:10-02:20", None, None, 0),
        ("Australia/Lord_Howe", date(2027, 10, 3), "02:15-04:00", "02:30 +1100", "04:00 +1100", 90),
        ("Asia/Kolkata", date(2027, 3, 14), "09:00-11:00", "09:00 +0530", "11:00 +0530", 120),
        ("America/St_Johns", date(2027, 3, 14), "01:00-04:00", "01:00 -0330", "04:00 -0230", 120),
        ("America/St_Johns", date(2027, 3, 14), "22:00-24:00", "22:00 -0230", "00:00 -0230", 120),
    ],
)
def test_local_interval_dst(
    zone_name: str,
    day: date,
    text: str,
    start: str | None,
    end: str | None,
    minutes: int,
) -> None:
    zone = ZoneInfo(zone_name)
    got = local_interval(day, TimeRange.parse(text), zone)
    if start is None:
        assert got is None
        return
    assert got is not None
    assert wall(got.start, zone).endswith(start)
    assert wall(got.end, zone).endswith(end or "")
    assert got.minutes == minutes


def test_local_interval_end_of_day_is_next_midnight() -> None:
    zone = ZoneInfo("Europe/Berlin")
    got = local_interval(date(2027, 1, 18), TimeRange.parse("22:00-24:00"), zone)
    assert got is not None
    assert wall(got.end, zone) == "2027-01-19 00:00 +0100"

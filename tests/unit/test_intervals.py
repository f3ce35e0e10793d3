"""Interval arithmetic: table tests and hypothesis properties."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from app.domain.intervals import Interval, clip, intersect, merge, subtract, total_minutes

ZONES = [ZoneInfo(z) for z in ("UTC", "Europe/Berlin", "America/New_York", "Australia/Lord_Howe")]
BASE = datetime(2027, 3, 1, tzinfo=UTC)


def at(minutes: int) -> datetime:
    return BASE + timedelta(minutes=minutes)


def iv(a: int, b: int) -> Interval:
    return Interval(at(a), at(b))


def test_rejects_naive_and_reversed() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        Interval(datetime(2027, 1, 1), at(0))  # noqa: DTZ001
    with pytest.raises(ValueError, match="before start"):
        iv(10, 5)


def test_minutes_overlaps_contains() -> None:
    assert iv(0, 90).minutes == 90
    assert iv(0, 10).overlaps(iv(5, 15))
    assert not iv(0, 10).overlaps(iv(10, 20))  # touching is not overlap
    assert iv(0, 10).contains(iv(0, 10))
    assert iv(0, 10).contains(iv(2, 3))
    assert not iv(0, 10).contains(iv(5, 11))


def test_mixed_zones_compare_as_instants() -> None:
    berlin = at(0).astimezone(ZoneInfo("Europe/Berlin"))
    new_york = at(60).astimezone(ZoneInfo("America/New_York"))
    assert Interval(berlin, new_york).minutes == 60
    assert Interval(berlin, new_york) == iv(0, 60)


def test_minutes_across_fall_back_in_one_zone() -> None:
    # same tzinfo on both ends: Python would subtract wall clocks; Interval must not
    ny = ZoneInfo("America/New_York")
    start = datetime(2027, 11, 7, 1, 30, tzinfo=ny)  # EDT, first 01:30
    end = datetime(2027, 11, 7, 1, 15, fold=1, tzinfo=ny)  # EST, second 01:15
    assert Interval(start, end).minutes == 45


@pytest.mark.parametrize(
    ("given_", "expected"),
    [
        ([], []),
        ([(0, 10)], [(0, 10)]),
        ([(10, 20), (0, 10)], [(0, 20)]),
        ([(0, 10), (5, 7), (20, 30), (25, 40)], [(0, 10), (20, 40)]),
        ([(0, 0), (5, 5)], []),
    ],
)
def test_merge_table(given_: list[tuple[int, int]], expected: list[tuple[int, int]]) -> None:
    assert merge(iv(a, b) for a, b in given_) == [iv(a, b) for a, b in expected]


@pytest.mark.parametrize(
    ("base", "remove", "expected"),
    [
        ([(0, 100)], [], [(0, 100)]),
        ([(0, 100)], [(10, 20), (50, 60)], [(0, 10), (20, 50), (60, 100)]),
        ([(0, 100)], [(-10, 10), (90, 120)], [(10, 90)]),
        ([(0, 100)], [(0, 100)], []),
        ([(0, 10), (20, 30)], [(5, 25)], [(0, 5), (25, 30)]),
    ],
)
def test_subtract_table(
    base: list[tuple[int, int]], remove: list[tuple[int, int]], expected: list[tuple[int, int]]
) -> None:
    got = subtract([iv(a, b) for a, b in base], [iv(a, b) for a, b in remove])
    assert got == [iv(a, b) for a, b in expected]


def test_intersect_clip_total() -> None:
    a = [iv(0, 10), iv(20, 30)]
    b = [iv(5, 25)]
    assert intersect(a, b) == [iv(5, 10), iv(20, 25)]
    assert clip(a, iv(8, 22)) == [iv(8, 10), iv(20, 22)]
    assert total_minutes([iv(0, 10), iv(5, 15)]) == 15


@st.composite
def intervals(draw: st.DrawFn) -> Interval:
    start = draw(st.integers(0, 3000))
    length = draw(st.integers(0, 400))
    zone_a, zone_b = draw(st.sampled_from(ZONES)), draw(st.sampled_from(ZONES))
    return Interval(at(start).astimezone(zone_a), at(start + length).astimezone(zone_b))


def covered(pieces: list[Interval], minute: int) -> bool:
    point = at(minute)
    return any(p.start <= point < p.end for p in pieces)


PROBES = range(-5, 3410, 7)
lists = st.lists(intervals(), max_size=8)


def assert_sorted_disjoint(pieces: list[Interval]) -> None:
    for piece in pieces:
        assert piece.start < piece.end
    for left, right in itertools.pairwise(pieces):
        assert left.end <= right.start


@settings(max_examples=150, deadline=None)
@given(lists)
def test_merge_properties(items: list[Interval]) -> None:
    merged = merge(items)
    assert_sorted_disjoint(merged)
    for left, right in itertools.pairwise(merged):
        assert left.end < right.start  # touching pieces are joined
    for minute in PROBES:
        assert covered(merged, minute) == covered(items, minute)
    assert total_minutes(items) == sum(p.minutes for p in merged)


@settings(max_examples=150, deadline=None)
@given(lists, lists)
def test_subtract_properties(base: list[Interval], remove: list[Interval]) -> None:
    result = subtract(base, remove)
    assert_sorted_disjoint(result)
    for piece in result:
        assert not any(piece.overlaps(r) for r in remove)
        assert any(b.contains(piece) for b in merge(base))
    for minute in PROBES:
        assert covered(result, minute) == (covered(base, minute) and not covered(remove, minute))


@settings(max_examples=150, deadline=None)
@given(lists, lists)
def test_intersect_properties(a: list[Interval], b: list[Interval]) -> None:
    assert intersect(a, b) == intersect(b, a)
    result = intersect(a, b)
    assert_sorted_disjoint(result)
    for minute in PROBES:
        assert covered(result, minute) == (covered(a, minute) and covered(b, minute))


def test_empty_interval_overlaps_nothing() -> None:
    assert not iv(0, 10).overlaps(iv(5, 5))
    assert not iv(5, 5).overlaps(iv(0, 10))

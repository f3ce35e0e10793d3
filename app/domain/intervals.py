"""Half-open time intervals on absolute instants, and set operations over lists of them."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime


def _require_aware(value: datetime, what: str) -> None:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{what} must be a timezone-aware datetime, got naive {value.isoformat()}")


@dataclass(frozen=True, slots=True)
class Interval:
    """A half-open interval [start, end) between two aware instants.

    Bounds are stored in UTC: Python compares and subtracts datetimes that share a tzinfo by
    wall clock (ignoring fold), which is wrong across DST changes.
    """

    start: datetime
    end: datetime

    def __post_init__(self) -> None:
        _require_aware(self.start, "Interval.start")
        _require_aware(self.end, "Interval.end")
        object.__setattr__(self, "start", self.start.astimezone(UTC))
        object.__setattr__(self, "end", self.end.astimezone(UTC))
        if self.end < self.start:
            raise ValueError(f"Interval end {self.end.isoformat()} is before start {self.start}")

    @property
    def minutes(self) -> float:
        """Length in real (elapsed) minutes."""
        return (self.end - self.start).total_seconds() / 60

    @property
    def empty(self) -> bool:
        """True when the interval has zero length."""
        return self.end == self.start

    def overlaps(self, other: Interval) -> bool:
        """True when the two share a non-empty stretch; touching ends do not overlap."""
        # written as max/min so an empty interval never overlaps anything
        return max(self.start, other.start) < min(self.end, other.end)

    def contains(self, other: Interval) -> bool:
        """True when ``other`` lies entirely inside this interval."""
        return self.start <= other.start and other.end <= self.end


def merge(intervals: Iterable[Interval]) -> list[Interval]:
    """Sorted, disjoint union; touching or overlapping inputs are joined, empty ones dropped."""
    items = sorted((i for i in intervals if not i.empty), key=lambda i: (i.start, i.end))
    out: list[Interval] = []
    for item in items:
        if out and item.start <= out[-1].end:
            if item.end > out[-1].end:
                out[-1] = Interval(out[-1].start, item.end)
        else:
            out.append(item)
    return out


def subtract(base: Iterable[Interval], remove: Iterable[Interval]) -> list[Interval]:
    """Parts of ``base`` not covered by ``remove``; sorted, disjoint, no empty pieces."""
    cuts = merge(remove)
    out: list[Interval] = []
    for piece in merge(base):
        cursor = piece.start
        for cut in cuts:
            if cut.end <= cursor:
                continue
            if cut.start >= piece.end:
                break
            if cut.start > cursor:
                out.append(Interval(cursor, cut.start))
            cursor = max(cursor, cut.end)
            if cursor >= piece.end:
                break
        if cursor < piece.end:
            out.append(Interval(cursor, piece.end))
    return out


def intersect(a: Iterable[Interval], b: Iterable[Interval]) -> list[Interval]:
    """Instants covered by both ``a`` and ``b``; sorted, disjoint, no empty pieces."""
    left, right = merge(a), merge(b)
    out: list[Interval] = []
    i = j = 0
    while i < len(left) and j < len(right):
        start = max(left[i].start, right[j].start)
        end = min(left[i].end, right[j].end)
        if start < end:
            out.append(Interval(start, end))
        # advance whichever finishes first; the other may still overlap the next one
        if left[i].end <= right[j].end:
            i += 1
        else:
            j += 1
    return out


def clip(intervals: Iterable[Interval], window: Interval) -> list[Interval]:
    """The parts of ``intervals`` inside ``window``; sorted, disjoint."""
    return intersect(intervals, [window])


def total_minutes(intervals: Iterable[Interval]) -> float:
    """Minutes covered by the union of ``intervals`` (overlaps counted once)."""
    return sum(i.minutes for i in merge(intervals))

"""Planner throughput against its floor: user-weeks per second vs a plain sort-merge-subtract.

For each busy-event count (10, 50, 200, 1000 by default) it builds seeded, realistic weeks
(Europe/Berlin, Mon-Fri 09:00-17:00, meetings of 15-90 minutes on the quarter hour, some
all-day and out-of-office events) and times ``plan_week`` with the default plan against the
floor: the same busy intervals sorted, merged and subtracted from each day's working hours,
with no planning at all. Prints one JSON object on stdout. Not a test: asserts nothing.

    .venv/bin/python bench/planner.py [--events 10,50,200,1000] [--weeks 200] [--repeat 5]
"""

# sys.path must include the repo root before app is imported.
# ruff: noqa: E402
from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import argparse
import json
import platform
import random
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from app.domain.plan import PlanSpec
from app.domain.planner import Busy, plan_week
from app.domain.time import WEEKDAYS, IsoWeek, TimeRange, Weekday, local_interval

try:  # the cache of wall-clock conversions (older checkouts have none)
    from app.domain.time import wall_instant
except ImportError:  # pragma: no cover - only when run against an older checkout
    wall_instant = None  # type: ignore[assignment]

NAME = "planner"
ZONE = ZoneInfo("Europe/Berlin")
WEEK = IsoWeek(2027, 11)
HOURS: dict[Weekday, list[TimeRange]] = {
    day: [TimeRange.parse("09:00-17:00")] for day in WEEKDAYS[:5]
}


def make_week(rng: random.Random, count: int) -> list[Busy]:
    """``count`` busy events in the week: mostly timed meetings in working hours."""
    busy: list[Busy] = []
    days = WEEK.days()
    for _ in range(count):
        day = days[rng.randrange(5)]
        roll = rng.random()
        if roll < 0.01:
            midnight = datetime.combine(day, datetime.min.time(), tzinfo=UTC)
            busy.append(Busy(midnight, midnight + timedelta(days=1), all_day=True))
            continue
        minute = 8 * 60 + 15 * rng.randrange(4 * 10)
        local = datetime.combine(day, datetime.min.time(), tzinfo=ZONE) + timedelta(minutes=minute)
        start = local.astimezone(UTC)
        end = start + timedelta(minutes=15 * rng.randint(1, 6))
        busy.append(Busy(start, end, out_of_office=roll < 0.02))
    return busy


def floor(busy: Sequence[Busy], work: Sequence[tuple[datetime, datetime]]) -> int:
    """Sort, merge and subtract the busy intervals from the working hours: the floor."""
    spans = sorted((b.start, b.end) for b in busy)
    merged: list[list[datetime]] = []
    for start, end in spans:
        if merged and start <= merged[-1][1]:
            if end > merged[-1][1]:
                merged[-1][1] = end
        else:
            merged.append([start, end])
    free = 0
    i = 0
    for lo, hi in work:
        cursor = lo
        while i < len(merged) and merged[i][1] <= cursor:
            i += 1
        j = i
        while j < len(merged) and merged[j][0] < hi:
            if merged[j][0] > cursor:
                free += 1
            cursor = max(cursor, merged[j][1])
            j += 1
        if cursor < hi:
            free += 1
    return free


def timed(fn: Callable[[], object], repeat: int) -> float:
    """Best of ``repeat`` wall-clock runs of ``fn``, in seconds."""
    best = float("inf")
    for _ in range(repeat):
        started = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - started)
    return best


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and print its JSON."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", default="10,50,200,1000")
    parser.add_argument("--weeks", type=int, default=200, help="user-weeks per timed run")
    parser.add_argument("--repeat", type=int, default=5, help="timed runs; the best counts")
    parser.add_argument("--seed", type=int, default=15)
    parser.add_argument(
        "--cold", action="store_true", help="clear the wall-clock cache before every week"
    )
    args = parser.parse_args(argv)
    spec = PlanSpec(goal="bench")
    now = WEEK.start(ZONE) - timedelta(days=3)
    work = []
    for day in WEEK.days()[:5]:
        piece = local_interval(day, HOURS["mon"][0], ZONE)
        assert piece is not None
        work.append((piece.start, piece.end))
    results = []
    for count in (int(text) for text in args.events.split(",")):
        rng = random.Random(args.seed * 100_003 + count)
        weeks = [make_week(rng, count) for _ in range(args.weeks)]
        print(f"{count} events ...", file=sys.stderr)

        def run_planner(weeks: list[list[Busy]] = weeks) -> None:
            for busy in weeks:
                if args.cold and wall_instant is not None:
                    wall_instant.cache_clear()
                plan_week(spec, WEEK, busy, now, zone=ZONE, working_hours=HOURS)

        def run_floor(weeks: list[list[Busy]] = weeks) -> None:
            for busy in weeks:
                floor(busy, work)

        planner_s = timed(run_planner, args.repeat)
        floor_s = timed(run_floor, args.repeat)
        results.append(
            {
                "busy_events": count,
                "planner_user_weeks_per_s": round(args.weeks / planner_s, 1),
                "planner_us_per_week": round(planner_s / args.weeks * 1e6, 1),
                "floor_user_weeks_per_s": round(args.weeks / floor_s, 1),
                "floor_us_per_week": round(floor_s / args.weeks * 1e6, 1),
                "ratio_to_floor": round(planner_s / floor_s, 2),
            }
        )
    report = {
        "name": NAME,
        "weeks_per_run": args.weeks,
        "repeat": args.repeat,
        "seed": args.seed,
        "cold": args.cold,
        "results": results,
        "machine": {
            "python": platform.python_version(),
            "implementation": platform.python_implementation(),
            "platform": platform.platform(),
        },
    }
    print(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

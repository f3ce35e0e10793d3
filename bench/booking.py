"""Booking throughput: users per second for one week's booking, on SQLite and PostgreSQL.

Creates ``--users`` people (Europe/Berlin), each with a memory calendar holding ``--meetings``
meetings in the week and the default plan, in a fresh database per backend (a temporary SQLite
file; a new PostgreSQL database on 127.0.0.1, dropped afterwards). Then it books that week
for everyone in one thread, two ways, each on a fresh copy of the data:

- ``per_plan``: ``tasks.book_plan`` once per plan, the job the API and a single plan's
  weekly run use (one session and its own queries per plan);
- ``batch``: ``booking_batch.book_plans`` over all plans, ``--chunk`` plans per transaction,
  with the database reads of a chunk done together.

Prints one JSON object on stdout. Not a test: asserts nothing.

    .venv/bin/python bench/booking.py [--users 1000] [--meetings 12] [--databases sqlite,postgresql]
"""

# sys.path must include the repo root before app and tests are imported.
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
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import func, select

from app import runtime as runtime_module
from app import tasks
from app.db.migrate import upgrade
from app.db.models import Block, Plan
from app.db.session import make_engine, transaction
from app.domain.plan import PlanSpec
from app.domain.time import IsoWeek
from app.runtime import build_runtime
from app.services.accounts.rows import add_account
from app.services.people.users import create_user
from app.services.planning.plans import create_plan
from connectors.base import Event, SelfResponse
from tests.support.databases import postgres_database
from tests.support.settings import make_settings
from tests.support.world import FakeClock, MemoryWorld

NAME = "booking"
ZONE = ZoneInfo("Europe/Berlin")
WEEK = IsoWeek(2027, 2)
NOW = datetime(2027, 1, 8, 8, 0, tzinfo=UTC)  # the Friday before


@contextmanager
def database(kind: str) -> Iterator[str]:
    """A fresh, migrated database URL of ``kind``; removed afterwards."""
    if kind == "sqlite":
        with tempfile.TemporaryDirectory() as folder:
            url = f"sqlite:///{folder}/bench.db"
            upgrade(url)
            yield url
        return
    # The tests' throwaway PostgreSQL database: created, migrated, dropped afterwards.
    with contextmanager(postgres_database)() as url:
        yield url


def populate(url: str, users: int, meetings: int, seed: int) -> tuple[MemoryWorld, list[int]]:
    """People with a memory calendar of meetings and the default plan; the plan ids."""
    world = MemoryWorld()
    rng = random.Random(seed)
    engine = make_engine(url)
    sessions = build_runtime(make_settings(url), engine=engine).sessions
    plan_ids = []
    days = WEEK.days()[:5]
    with transaction(sessions) as session:
        for n in range(users):
            email = f"person{n}@corp.example"
            user, _ = create_user(session, email, "Europe/Berlin", with_token=False)
            store = world.store(email)
            for _ in range(meetings):
                day = days[rng.randrange(5)]
                local = datetime.combine(day, datetime.min.time(), tzinfo=ZONE)
                start = local + timedelta(minutes=8 * 60 + 15 * rng.randrange(36))
                store.put_event(
                    Event(
                        id=store.new_id(),
                        calendar_id="primary",
                        title="Sync",
                        start=start,
                        end=start + timedelta(minutes=15 * rng.randint(1, 4)),
                        organizer_email="boss@corp.example",
                        self_response=SelfResponse.ACCEPTED,
                        attendee_count=3,
                    )
                )
            add_account(session, user, "memory", email, store.calendars())
            plan_ids.append(create_plan(session, user, PlanSpec(goal="Lead a project")).id)
    engine.dispose()
    return world, plan_ids


def measure(
    url: str, users: int, meetings: int, seed: int, way: str, chunk: int
) -> dict[str, object]:
    """Book the week for everyone one ``way``; users/s and what was booked."""
    world, plan_ids = populate(url, users, meetings, seed)
    engine = make_engine(url)
    rt = build_runtime(
        make_settings(url), connectors=world.provider(), clock=FakeClock(NOW), engine=engine
    )
    runtime_module.install(rt)
    run: Callable[[], object]
    if way == "per_plan":

        def run() -> object:
            return [tasks.book_plan(plan_id, str(WEEK), NOW) for plan_id in plan_ids]
    else:
        from app.services.booking import batch as booking_batch

        def run() -> object:
            return booking_batch.book_plans(
                rt.sessions, plan_ids, WEEK, NOW, rt.connectors, chunk=chunk
            )

    try:
        started = time.perf_counter()
        run()
        elapsed = time.perf_counter() - started
        with rt.sessions() as session:
            blocks = session.scalar(select(func.count()).select_from(Block)) or 0
            plans = session.scalar(select(func.count()).select_from(Plan)) or 0
    finally:
        runtime_module.install(None)
        engine.dispose()
    return {
        "way": way,
        "seconds": round(elapsed, 3),
        "users_per_s": round(users / elapsed, 1),
        "ms_per_user": round(elapsed / users * 1000, 3),
        "plans": plans,
        "blocks_booked": blocks,
    }


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and print its JSON."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--users", type=int, default=1000)
    parser.add_argument("--meetings", type=int, default=12)
    parser.add_argument("--databases", default="sqlite,postgresql")
    parser.add_argument("--ways", default="per_plan,batch")
    parser.add_argument("--chunk", type=int, default=100, help="plans per batch transaction")
    parser.add_argument("--seed", type=int, default=15)
    args = parser.parse_args(argv)
    results = []
    for kind in args.databases.split(","):
        for way in args.ways.split(","):
            print(f"{kind} {way} ...", file=sys.stderr)
            with database(kind) as url:
                figures = measure(url, args.users, args.meetings, args.seed, way, args.chunk)
            results.append({"database": kind, **figures})
    report = {
        "name": NAME,
        "users": args.users,
        "meetings_per_user": args.meetings,
        "week": str(WEEK),
        "chunk": args.chunk,
        "connector": "memory",
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

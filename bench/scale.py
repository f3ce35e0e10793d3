"""Scaled mode throughput: one week's booking for N users through Celery workers on Redis and
PostgreSQL, with 1 and with 2 worker processes. Prints one JSON object.

    .venv/bin/python bench/scale.py --users 1000

Each phase gets a fresh PostgreSQL database seeded with N users, each with a connected
in-memory calendar (a store per account, inside the worker process; `--latency-ms` adds a
sleep per provider call to model a real provider's round trip) and a default plan. The
workers (`serve --role worker` code: `app.roles.run_worker`, one thread each unless
`--concurrency`) are started and ready before the clock starts; the clock stops when every
booking run is done. Peak RSS is each worker process's VmHWM from /proc.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import secrets
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

KEY = "p0tAk3Cq3LAd1FQm0x2YF3fNGhW6iSl7n5vQbWmZ0bA="
MB = 1 << 20


def _settings(config: dict[str, Any]) -> Any:
    from app.config import Environment, Settings

    return Settings(
        _env_file=None,  # type: ignore[call-arg]
        env=Environment.TEST,
        database_url=config["db_url"],
        encryption_keys=config["key"],
        broker_url=config["redis_url"],
        redis_url=config["redis_url"],
        task_queue=config["queue"],
        log_format="json",
        log_level="INFO",  # each run's line carries its duration
    )


# --- the worker side ------------------------------------------------------------------------


def worker(config_path: str) -> None:
    from app.db.models import Account
    from app.roles import run_worker, setup_logging
    from connectors.base import CalendarInfo
    from connectors.memory import MemoryConnector
    from connectors.memory_store import MemoryStore

    config = json.loads(Path(config_path).read_text(encoding="utf-8"))
    latency = config["latency_ms"] / 1000
    stores: dict[str, MemoryStore] = {}
    lock = threading.Lock()

    def store(external_id: str) -> MemoryStore:
        with lock:
            if external_id not in stores:
                found = MemoryStore()
                found.add_calendar(CalendarInfo(id="primary", name=external_id, primary=True))
                stores[external_id] = found
            return stores[external_id]

    class SlowConnector(MemoryConnector):
        def __getattribute__(self, name: str) -> Any:
            attribute = super().__getattribute__(name)
            if latency and callable(attribute) and not name.startswith("_"):

                def slow(*args: Any, **kwargs: Any) -> Any:
                    time.sleep(latency)  # a provider round trip
                    return attribute(*args, **kwargs)

                return slow
            return attribute

    def provide(account: Account) -> MemoryConnector:
        return SlowConnector(store(account.external_id), owner_email=account.external_id)

    settings = _settings(config)
    setup_logging(settings)
    run_worker(settings, connectors=provide, concurrency=config["concurrency"])


# --- the driver -----------------------------------------------------------------------------


def _create_database(admin_url: str) -> str:
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    from app.db.migrate import upgrade

    name = f"gg_bench_{secrets.token_hex(4)}"
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    url = make_url(admin_url).set(database=name).render_as_string(hide_password=False)
    upgrade(url)
    return url


def _drop_database(admin_url: str, url: str) -> None:
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    name = make_url(url).database
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(
            text(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE datname = :name AND pid <> pg_backend_pid()"
            ),
            {"name": name},
        )
        connection.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
    admin.dispose()


def _seed(url: str, users: int) -> list[int]:
    from app.db.session import make_engine, make_session_factory, transaction
    from app.domain.plan import PlanSpec
    from app.services.accounts.rows import add_account
    from app.services.people.users import create_user
    from app.services.planning.plans import create_plan
    from connectors.base import CalendarInfo

    engine = make_engine(url)
    plan_ids = []
    with transaction(make_session_factory(engine)) as session:
        for index in range(users):
            email = f"user{index}@bench.example"
            user, _ = create_user(session, email, "UTC")
            add_account(
                session,
                user,
                "memory",
                email,
                [CalendarInfo(id="primary", name=email, primary=True, can_write=True, owned=True)],
            )
            plan_ids.append(create_plan(session, user, PlanSpec(goal="Grow")).id)
    engine.dispose()
    return plan_ids


def _cpu_seconds(pid: int) -> float:
    """User + system CPU time the process used so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _peak_rss_mb(pid: int) -> float:
    text = Path(f"/proc/{pid}/status").read_text()
    match = re.search(r"^VmHWM:\s+(\d+) kB", text, re.MULTILINE)
    return round(int(match.group(1)) * 1024 / MB, 1) if match else 0.0


def phase(args: argparse.Namespace, workers: int) -> dict[str, Any]:
    """Book one week for every user with `workers` worker processes."""
    from sqlalchemy import func, select

    from app import runtime as runtime_module
    from app import tasks
    from app.db.models import Block, BookingJob, BookingJobState
    from app.domain.time import IsoWeek
    from app.roles import scaled_runtime

    url = _create_database(args.postgres)
    folder = Path(tempfile.mkdtemp(prefix="gg-bench-scale-"))
    queue = f"ggbench-{secrets.token_hex(4)}"
    processes: list[subprocess.Popen[bytes]] = []
    rt = None
    try:
        plan_ids = _seed(url, args.users)
        config = {
            "db_url": url,
            "key": KEY,
            "redis_url": args.redis,
            "queue": queue,
            "latency_ms": args.latency_ms,
            "concurrency": args.concurrency,
        }
        config_path = folder / "config.json"
        config_path.write_text(json.dumps(config), encoding="utf-8")
        rt = scaled_runtime(_settings(config))
        runtime_module.install(rt)
        week = str(IsoWeek.containing(datetime.now(UTC) + timedelta(days=7), UTC))
        # Everything is queued before the workers start, so the figure is the workers' alone:
        # from the first run's start to the last run's end, from their own log lines.
        for plan_id in plan_ids:
            tasks.request_booking(plan_id, [week])
        env = {k: v for k, v in os.environ.items() if not k.startswith("GG_")}
        for index in range(workers):
            log = (folder / f"worker{index}.log").open("wb")
            processes.append(
                subprocess.Popen(
                    [sys.executable, __file__, "--worker", str(config_path)],
                    cwd=ROOT,
                    env=env,
                    stdout=subprocess.DEVNULL,
                    stderr=log,
                )
            )
        done = 0
        while done < len(plan_ids):
            time.sleep(0.2)
            with rt.sessions() as session:
                done = (
                    session.scalar(
                        select(func.count())
                        .select_from(BookingJob)
                        .where(BookingJob.state == BookingJobState.DONE)
                    )
                    or 0
                )
            for process in processes:
                if process.poll() is not None:
                    raise SystemExit(f"a worker died; see {folder}")
        time.sleep(0.5)  # the last log lines
        first, last, runs = _span(folder)
        seconds = last - first
        with rt.sessions() as session:
            blocks = session.scalar(select(func.count()).select_from(Block)) or 0
        return {
            "workers": workers,
            "users": len(plan_ids),
            "week": week,
            "seconds": round(seconds, 2),
            "task_runs_logged": runs,
            "bookings_per_second": round(len(plan_ids) / seconds, 1),
            "blocks": blocks,
            "peak_rss_mb": [_peak_rss_mb(p.pid) for p in processes],
            # Load-independent: CPU per booking (start-up included), across the workers.
            "worker_cpu_ms_per_booking": round(
                1000 * sum(_cpu_seconds(p.pid) for p in processes) / len(plan_ids), 1
            ),
            "load_average_1m": round(os.getloadavg()[0], 2),
        }
    finally:
        for process in processes:
            process.send_signal(signal.SIGTERM)
        for process in processes:
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
        if rt is not None:
            runtime_module.install(None)
            rt.dispatcher.shutdown()
            rt.engine.dispose()
        _drop_database(args.postgres, url)
        _clear_queue(args.redis, queue)


def _span(folder: Path) -> tuple[float, float, int]:
    """(first run's start, last run's end, runs) over every worker's JSON log."""
    starts, ends = [], []
    for path in folder.glob("worker*.log"):
        for line in path.read_text(errors="replace").splitlines():
            if not line.startswith("{"):
                continue
            record = json.loads(line)
            if "outcome" in record:
                end = datetime.fromisoformat(record["time"]).timestamp()
                starts.append(end - record["seconds"])
                ends.append(end)
    if not starts:
        raise SystemExit(f"no task runs logged; see {folder}")
    return min(starts), max(ends), len(ends)


def _clear_queue(redis_url: str, queue: str) -> None:
    import redis

    client = redis.Redis.from_url(redis_url)
    for key in client.scan_iter(match=f"{queue}:*", count=500):
        client.delete(key)
    client.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--users", type=int, default=1000)
    parser.add_argument("--latency-ms", type=float, default=0.0)
    parser.add_argument("--concurrency", type=int, default=1, help="threads per worker")
    parser.add_argument(
        "--postgres", default="postgresql+psycopg://root@127.0.0.1:5432/test", help="admin URL"
    )
    parser.add_argument("--redis", default="redis://127.0.0.1:6379/0")
    parser.add_argument("--rounds", type=int, default=1, help="1-then-2-worker rounds")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        worker(args.worker)
        return
    # Rounds alternate 1 and 2 workers, so load from elsewhere hits both; medians reported.
    rounds = [[phase(args, 1), phase(args, 2)] for _ in range(args.rounds)]
    one = statistics.median(r[0]["bookings_per_second"] for r in rounds)
    two = statistics.median(r[1]["bookings_per_second"] for r in rounds)
    print(
        json.dumps(
            {
                "users": args.users,
                "latency_ms": args.latency_ms,
                "threads_per_worker": args.concurrency,
                "cpus": os.cpu_count(),
                "rounds": rounds,
                "median_bookings_per_second": {"1_worker": one, "2_workers": two},
                "throughput_ratio_2_vs_1": round(two / one, 2),
                "max_peak_rss_mb": max(max(phase["peak_rss_mb"]) for r in rounds for phase in r),
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()

"""Two `serve --role scheduler` processes: one leads; kill it, the other leads, and the
week's booking is started exactly once (issue 14)."""

from __future__ import annotations

import sys
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from sqlalchemy import func, select, text, update

from app.db.models import BookingJob, Plan, WeeklyClaim
from app.db.session import make_engine, make_session_factory, transaction
from app.domain.plan import PlanSpec
from app.leader import LeaderElection
from app.services.people.users import create_user
from app.services.planning.plans import create_plan
from tests.scaled.harness import Process, processes, wait_for
from tests.support.servers import free_port
from tests.support.settings import TEST_KEY

pytestmark = pytest.mark.postgres

LEADERS = text(
    "SELECT a.application_name FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid "
    "WHERE l.locktype = 'advisory' AND l.granted AND a.datname = current_database() "
    "AND a.application_name LIKE 'growthguard-scheduler-%'"
)


def _leader_gauge(port: int) -> float:
    """gg_scheduler_leader as the process's metrics listener serves it."""
    text = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text
    (line,) = [x for x in text.splitlines() if x.startswith("gg_scheduler_leader ")]
    return float(line.split()[1])


def _scheduler(log: Path, pg_url: str, redis_url: str, queue: str, port: int) -> Process:
    env = {
        "GG_METRICS_PORT": str(port),
        "GG_ENV": "test",
        "GG_DATABASE_URL": pg_url,
        "GG_ENCRYPTION_KEYS": TEST_KEY,
        "GG_BROKER_URL": redis_url,
        "GG_REDIS_URL": redis_url,
        "GG_TASK_QUEUE": queue,
        "GG_LEADER_CHECK_SECONDS": "0.5",
        "GG_LOG_FORMAT": "json",
    }
    argv = [sys.executable, "-m", "app.cli", "serve", "--role", "scheduler"]
    return Process(argv, log, env)


def test_one_leader_and_a_bounded_takeover_without_a_lost_or_doubled_week(
    tmp_path: Path, pg_url: str, redis_url: str, queue_name: str
) -> None:
    engine = make_engine(pg_url)
    sessions = make_session_factory(engine)
    now = datetime.now(UTC)
    due = now - timedelta(hours=1)  # this week's weekly slot has passed, unclaimed
    days = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
    book_at = {"day": days[due.weekday()], "time": due.strftime("%H:%M")}
    with transaction(sessions) as session:
        user, _ = create_user(session, "lead@corp.example", "UTC")
        plan = create_plan(session, user, PlanSpec(goal="Lead", book_at=book_at))
        session.flush()
        plan_id = plan.id
        session.execute(
            update(Plan).where(Plan.id == plan_id).values(created_at=now - timedelta(days=8))
        )

    def leaders() -> list[str]:
        with engine.connect() as connection:
            return list(connection.execute(LEADERS).scalars())

    def counts() -> tuple[int, int]:
        with sessions() as session:
            claims = session.scalar(select(func.count()).select_from(WeeklyClaim))
            runs = session.scalar(
                select(func.count()).select_from(BookingJob).where(BookingJob.plan_id == plan_id)
            )
            return int(claims or 0), int(runs or 0)

    try:
        with processes() as running:
            ports = [free_port(), free_port()]
            a = _scheduler(tmp_path / "a.log", pg_url, redis_url, queue_name, ports[0])
            b = _scheduler(tmp_path / "b.log", pg_url, redis_url, queue_name, ports[1])
            running += [a, b]
            by_name = {f"growthguard-scheduler-{p.pid}": p for p in (a, b)}
            port_of = {a.pid: ports[0], b.pid: ports[1]}
            for process in (a, b):  # metrics listeners up, campaigns begun
                wait_for("both candidates", lambda p=process: p.logged("standing for"), running)
            wait_for("a leader", lambda: len(leaders()) == 1, running)
            leader = by_name[leaders()[0]]
            standby = b if leader is a else a
            wait_for("the leader's catch-up", lambda: leader.logged("scheduler leading"), running)
            assert counts() == (1, 1)  # the missed weekly run, claimed once
            assert not standby.logged("elected scheduler leader")
            assert len(leaders()) == 1
            assert _leader_gauge(port_of[leader.pid]) == 1
            assert _leader_gauge(port_of[standby.pid]) == 0

            leader.kill()
            wait_for(
                "the standby to lead",
                lambda: leaders() == [f"growthguard-scheduler-{standby.pid}"],
                running,
            )
            wait_for("its catch-up", lambda: standby.logged("scheduler leading"), running)
            assert counts() == (1, 1)  # neither lost nor run again
            assert _leader_gauge(port_of[standby.pid]) == 1
            records = [r for r in standby.records() if "missed weekly" in r.get("message", "")]
            assert records and records[-1]["message"].startswith("scheduler leading: 0 missed")
    finally:
        engine.dispose()


def test_a_leader_that_fails_to_lead_gives_the_lock_up_and_stands_again(pg_url: str) -> None:
    attempts: list[str] = []
    stop = threading.Event()

    def elected() -> None:
        attempts.append("elected")
        if len(attempts) == 1:
            raise RuntimeError("job store unreachable")  # the first term fails at once
        stop.set()

    election = LeaderElection(
        pg_url,
        on_elected=elected,
        on_lost=lambda: attempts.append("lost"),
        interval=0.05,
        lock_key=4242,
    )
    election.run(stop)
    assert attempts == ["elected", "lost", "elected", "lost"]
    assert not election.leading

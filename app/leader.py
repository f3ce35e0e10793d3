"""Exactly one scheduler across replicas: leader election on a PostgreSQL advisory lock.

Every `serve --role scheduler` process stands for election: it opens one dedicated database
session and tries `pg_try_advisory_lock` every `interval` seconds. The holder leads: it runs
APScheduler (jobs in the shared job store) until its session is lost or it stops. A
session-level lock is released by PostgreSQL the moment the holder's connection closes, so
when the leader process dies a standby leads within one `interval`. When the leader's
*machine* vanishes, TCP keepalives on both sides end the session (about 25 s), so takeover
stays bounded, and a leader that cannot confirm its session stands down.

Between a job firing and APScheduler recording it, a leader may die: the weekly job then
fires again under the next leader, or (killed after recording, before claiming) not at all.
Claim rows (app.tasks.claim_weekly) make the first harmless and the catch-up the next
leader runs at once makes up for the second.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable

import psycopg
from sqlalchemy.engine import make_url

from app import metrics, tasks
from app.runtime import Runtime
from app.scheduler import JobScheduler, set_active, weekly_slots

log = logging.getLogger(__name__)

# "gg-sched" as a 64-bit integer: the one advisory lock key GrowthGuard uses.
LOCK_KEY = int.from_bytes(b"gg-sched", "big") & 0x7FFF_FFFF_FFFF_FFFF
APPLICATION_NAME = "growthguard-scheduler"


def libpq_url(database_url: str) -> str:
    """The SQLAlchemy URL as libpq takes it (no driver suffix)."""
    return make_url(database_url).set(drivername="postgresql").render_as_string(hide_password=False)


class LeaderElection:
    """Campaigns for the lock; calls `on_elected` when won and `on_lost` when given up."""

    def __init__(
        self,
        database_url: str,
        *,
        on_elected: Callable[[], None],
        on_lost: Callable[[], None],
        on_tick: Callable[[], None] | None = None,
        interval: float = 5.0,
        lock_key: int = LOCK_KEY,
    ) -> None:
        self._url = database_url
        self._on_elected = on_elected
        self._on_lost = on_lost
        self._on_tick = on_tick
        self._interval = interval
        self._key = lock_key
        self.leading = False

    def run(self, stop: threading.Event) -> None:
        """Campaign until `stop` is set."""
        if make_url(self._url).get_backend_name() != "postgresql":
            # One SQLite file means one machine and one scheduler: lead without a lock.
            self._elected()
            stop.wait()
            self._lost()
            return
        while not stop.is_set():
            try:
                with self._connect() as connection:
                    if self._try_lock(connection):
                        try:
                            self._elected()
                            while not stop.wait(self._interval):
                                connection.execute("SELECT 1")  # still our session, still ours
                                if self._on_tick is not None:
                                    self._on_tick()
                        finally:
                            self._lost()
            except psycopg.Error as error:
                log.warning("scheduler election: database unavailable (%s)", type(error).__name__)
            except Exception:  # leading failed (e.g. the job store): give the lock up, retry
                log.exception("scheduler leadership failed; standing again shortly")
            stop.wait(self._interval)

    def _connect(self) -> psycopg.Connection[tuple[object, ...]]:
        connection = psycopg.connect(
            libpq_url(self._url),
            autocommit=True,
            connect_timeout=10,
            application_name=f"{APPLICATION_NAME}-{os.getpid()}",
            # A silent server is given up after about idle + interval * count seconds.
            keepalives=1,
            keepalives_idle=10,
            keepalives_interval=5,
            keepalives_count=3,
            tcp_user_timeout=25_000,
        )
        # The server gives up on a silent leader as fast as the leader gives up on it.
        connection.execute("SET tcp_keepalives_idle = 10")
        connection.execute("SET tcp_keepalives_interval = 5")
        connection.execute("SET tcp_keepalives_count = 3")
        return connection

    def _try_lock(self, connection: psycopg.Connection[tuple[object, ...]]) -> bool:
        row = connection.execute("SELECT pg_try_advisory_lock(%s)", (self._key,)).fetchone()
        return bool(row and row[0])

    def _elected(self) -> None:
        self.leading = True
        metrics.SCHEDULER_LEADER.set(1)
        log.info("elected scheduler leader (pid %s)", os.getpid())
        self._on_elected()

    def _lost(self) -> None:
        if not self.leading:
            return
        self.leading = False
        metrics.SCHEDULER_LEADER.set(0)
        log.warning("scheduler leadership ended (pid %s)", os.getpid())
        self._on_lost()


class SchedulerService:
    """What the leader runs: APScheduler with the weekly jobs and the sweeps, whose work is
    queued for the workers; it catches up on missed weekly runs as soon as it leads."""

    def __init__(self, runtime: Runtime) -> None:
        self._rt = runtime
        self._scheduler: JobScheduler | None = None
        self._lock = threading.Lock()

    def lead(self) -> None:
        rt = self._rt
        with self._lock:
            scheduler = JobScheduler(rt.engine)
            with rt.sessions() as session:
                slots = weekly_slots(session)
            scheduler.start(paused=True)
            scheduler.sync(slots)
            scheduler.schedule_maintenance(
                rt.settings.poll_interval_seconds, rt.settings.push_enabled, via_queue=True
            )
            scheduler.resume()
            self._scheduler = scheduler
            set_active(scheduler)
        caught_up = tasks.catch_up_weekly()
        log.info("scheduler leading: %d missed weekly booking(s) caught up", caught_up)

    def check(self) -> None:
        """While leading: restart APScheduler if its thread died (as the embedded supervisor
        does), so a leader never holds the lock without scheduling."""
        with self._lock:
            scheduler = self._scheduler
        if scheduler is not None and not scheduler.alive():
            log.error("the leader's scheduler stopped (%s); restarting it", scheduler.problem())
            scheduler.restart()

    def stand_down(self) -> None:
        with self._lock:
            scheduler, self._scheduler = self._scheduler, None
            set_active(None)
        if scheduler is not None:
            scheduler.shutdown()

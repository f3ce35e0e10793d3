"""When tasks run: APScheduler in-process, with its jobs persisted in our database.

Jobs live in the same database as everything else, so a restart neither loses a run (a run
that fell due while the process was down fires once at start-up: coalesced, no grace limit)
nor duplicates one (one job per plan, with a stable id; an unchanged schedule is left alone
so its pending next run time survives).
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol
from zoneinfo import ZoneInfo

from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.cron import CronTrigger
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from app.db.models import Plan, User
from app.services.planning.plans import plan_spec, plan_zone

log = logging.getLogger(__name__)

WEEKLY_JOB = "app.tasks:scheduled_booking"
NOW_JOB = "app.tasks:book_now"  # a booking right after a change claims no week
QUEUED_JOB = "app.tasks:queued"
# The scaled scheduler's own sweeps (they run in the leader; their work is queued).
SCALED_JOBS = {
    "resync-plans": ("app.scheduler:resync_active", 60),
    "catch-up-weekly": ("app.tasks:catch_up_weekly", 600),
    "resume-bookings": ("app.tasks:resume_stalled_bookings", 300),
}
DAY = 24 * 3600


class PlanSchedule(Protocol):
    """What requests tell the scheduler: the local one (embedded) or the leader (scaled)."""

    def plan_changed(self, plan_id: int) -> None: ...

    def unschedule_plan(self, plan_id: int) -> None: ...


@dataclass(frozen=True)
class WeeklySlot:
    """When a plan's weekly booking runs, in the plan's own zone."""

    plan_id: int
    day: str
    hour: int
    minute: int
    zone: ZoneInfo

    def trigger(self) -> CronTrigger:
        return CronTrigger(
            day_of_week=self.day, hour=self.hour, minute=self.minute, timezone=self.zone
        )


def job_id(plan_id: int) -> str:
    return f"book-plan-{plan_id}"


def now_job_id(plan_id: int) -> str:
    return f"book-plan-now-{plan_id}"


def slot_for(plan: Plan, user: User) -> WeeklySlot:
    """When this plan's weekly booking runs."""
    spec = plan_spec(plan)
    clock = spec.book_at.clock
    return WeeklySlot(plan.id, spec.book_at.day, clock.hour, clock.minute, plan_zone(spec, user))


def weekly_slots(session: Session) -> list[WeeklySlot]:
    """The schedule every active plan asks for."""
    rows = session.execute(
        select(Plan, User).join(User, User.id == Plan.user_id).where(Plan.active.is_(True))
    )
    return [slot_for(plan, user) for plan, user in rows]


def next_weekly_run(plan: Plan, user: User, now: datetime) -> datetime | None:
    """When the plan's weekly booking runs next, from its schedule alone (no scheduler call:
    requests must not wait on the scheduler's lock while they hold a transaction)."""
    if not plan.active:
        return None
    fire: datetime | None = slot_for(plan, user).trigger().get_next_fire_time(None, now)
    return fire


# After a failed pass over the job store (e.g. the database was busy), try again this soon.
RETRY_SECONDS = 5.0


class _SharedEngineJobStore(SQLAlchemyJobStore):  # type: ignore[misc]
    """The job store shares the app's engine: stopping a scheduler must not dispose of it."""

    def shutdown(self) -> None:
        return None


class _GuardedScheduler(BackgroundScheduler):  # type: ignore[misc]
    """APScheduler's loop dies on the first job-store error outside `get_due_jobs` (an
    "update_job" that meets a locked database): catch it, log it, try again shortly."""

    last_error: str | None = None

    def _process_jobs(self) -> float | None:
        try:
            wait: float | None = super()._process_jobs()
        except Exception as error:
            self.last_error = f"{type(error).__name__}: {error}"
            log.exception("the scheduler's pass over its jobs failed; retrying")
            return RETRY_SECONDS
        self.last_error = None
        return wait


class JobScheduler:
    """Decides *when* the background jobs run (booking, sync sweeps, reports, retention)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = self._engine = engine
        self._scheduler = self._build()
        self._lock = threading.Lock()
        self._restart_lock = threading.Lock()

    def _build(self) -> Any:
        return _GuardedScheduler(
            jobstores={"default": _SharedEngineJobStore(engine=self._engine)},
            job_defaults={"coalesce": True, "misfire_grace_time": None, "max_instances": 1},
            timezone=UTC,
        )

    @property
    def running(self) -> bool:
        return bool(self._scheduler.running)

    def alive(self) -> bool:
        """Running, with its thread alive (a dead thread means nothing fires any more)."""
        thread = getattr(self._scheduler, "_thread", None)
        return self.running and thread is not None and thread.is_alive()

    def problem(self) -> str | None:
        """Why the scheduler is not healthy, or None."""
        if not self.alive():
            return "scheduler is not running"
        error: str | None = self._scheduler.last_error
        return None if error is None else f"scheduler cannot reach its job store: {error}"

    def restart(self) -> None:
        """Replace a dead scheduler with a new one over the same stored jobs."""
        with self._restart_lock:
            old, self._scheduler = self._scheduler, self._build()
            try:
                if old.running:
                    old.shutdown(wait=False)
            except Exception:  # a broken one may fail to stop; it is dropped either way
                log.exception("stopping the dead scheduler failed")
            self._scheduler.start()

    def start(self, paused: bool = False) -> None:
        self._scheduler.start(paused=paused)

    def resume(self) -> None:
        self._scheduler.resume()

    def shutdown(self) -> None:
        if self._scheduler.running:
            self._scheduler.shutdown(wait=True)

    def sync(self, slots: list[WeeklySlot]) -> None:
        """Make the stored weekly jobs match the plans: add, reschedule, remove."""
        wanted = {job_id(slot.plan_id): slot for slot in slots}
        for job in self._scheduler.get_jobs():
            weekly = job.id.startswith("book-plan-") and not job.id.startswith("book-plan-now-")
            if weekly and job.id not in wanted:
                job.remove()
        for jid, slot in wanted.items():
            self.schedule_plan(slot, jid)

    def schedule_plan(self, slot: WeeklySlot, jid: str | None = None) -> None:
        """Add or update one plan's weekly job, leaving an unchanged one untouched."""
        jid = jid or job_id(slot.plan_id)
        trigger = slot.trigger()
        job = self._scheduler.get_job(jid)
        if job is None:
            self._scheduler.add_job(
                WEEKLY_JOB, trigger=trigger, args=[slot.plan_id], id=jid, name=jid
            )
        elif _describe(job.trigger) != _describe(trigger):
            self._scheduler.reschedule_job(jid, trigger=trigger)

    def schedule_maintenance(
        self,
        poll_seconds: int,
        push_enabled: bool,
        *,
        demo_poll_seconds: int | None = None,
        via_queue: bool = False,
    ) -> None:
        """The recurring sweeps: polling (frequent without push, a daily safety net with it),
        notification delivery, grace-period declines, reports, and channel renewal.

        `via_queue` (the scaled scheduler): each sweep is queued for the workers instead of
        running here, and three more keep replicas honest: the weekly jobs follow plans
        changed on web replicas, missed weekly runs are caught up, stalled runs re-queued."""
        every = {
            "poll-calendars": (
                "app.tasks:poll_calendars",
                poll_seconds if not push_enabled else DAY,
            ),
            "deliver-notifications": ("app.tasks:deliver_notifications", 60),
            "decline-due": ("app.tasks:decline_due", 60),
            # Conflicts a crash left undecided (the sync that found them died before deciding).
            "decide-open": ("app.tasks:resolve_open_conflicts", 60),
            # Hourly: plans live in many zones; dedupe keys make re-runs harmless.
            "weekly-reports": ("app.tasks:send_weekly_reports", 3600),
            "quarterly-reviews": ("app.tasks:send_quarterly_reviews", 6 * 3600),
            # Old push receipts and cached events of long-past weeks (app.services.sync.retention).
            "prune-old-rows": ("app.tasks:prune_old_rows", DAY),
            # Growth blocks that ended: "what did you do?" in the in-app list, once per block.
            "ask-growth-log": ("app.tasks:ask_growth_log", 15 * 60),
            # Flexible blocks whose threshold came: shown busy on time (app.services.defense).
            "harden-flexible-blocks": ("app.tasks:harden_flexible_blocks", 5 * 60),
            # Quiet during blocks: Slack status and snooze at each block's start and end.
            "quiet-sweep": ("app.tasks:quiet_sweep", 60),
        }
        if demo_poll_seconds is not None:
            every["poll-demo-calendars"] = ("app.tasks:poll_demo_calendars", demo_poll_seconds)
        elif self._scheduler.get_job("poll-demo-calendars") is not None:
            self._scheduler.remove_job("poll-demo-calendars")
        if push_enabled:
            every["renew-watches"] = ("app.tasks:renew_watches", 3600)
            # Calendars that cannot push (CalDAV) or whose channel lapsed: polled as often as
            # without push, while the full poll above is only the daily safety net.
            every["poll-unwatched-calendars"] = ("app.tasks:poll_unwatched_calendars", poll_seconds)
        else:
            for jid in ("renew-watches", "poll-unwatched-calendars"):
                if self._scheduler.get_job(jid) is not None:
                    self._scheduler.remove_job(jid)
        for jid, (func, seconds) in every.items():
            target, args = (QUEUED_JOB, [func]) if via_queue else (func, [])
            self._scheduler.add_job(
                target,
                trigger="interval",
                seconds=seconds,
                args=args,
                id=jid,
                name=jid,
                replace_existing=True,
            )
        for jid, (func, seconds) in SCALED_JOBS.items():
            if via_queue:
                self._scheduler.add_job(
                    func,
                    trigger="interval",
                    seconds=seconds,
                    id=jid,
                    name=jid,
                    replace_existing=True,
                )
            elif self._scheduler.get_job(jid) is not None:
                self._scheduler.remove_job(jid)

    def plan_changed(self, plan_id: int) -> None:
        """After a plan was saved (and committed): book it now and keep its weekly job right.

        The plan is read afresh, under a lock: with parallel edits the calls can run in any
        order, and each must leave the job matching the latest committed plan.
        """
        with self._lock:
            with Session(self._engine) as session:
                plan = session.get(Plan, plan_id)
                user = session.get(User, plan.user_id) if plan is not None else None
                slot = slot_for(plan, user) if plan and user and plan.active else None
            if slot is None:
                self.unschedule_plan(plan_id)
                return
            self.schedule_plan(slot)
        self.book_soon(plan_id)

    def unschedule_plan(self, plan_id: int) -> None:
        for jid in (job_id(plan_id), now_job_id(plan_id)):
            if self._scheduler.get_job(jid) is not None:
                self._scheduler.remove_job(jid)

    def book_soon(self, plan_id: int, when: datetime | None = None) -> None:
        """Run a plan's booking once, now (e.g. right after it was created or changed)."""
        self._scheduler.add_job(
            NOW_JOB,
            trigger="date",
            run_date=when,
            args=[plan_id],
            id=now_job_id(plan_id),
            name=now_job_id(plan_id),
            replace_existing=True,
        )

    def next_run(self, plan_id: int) -> datetime | None:
        job = self._scheduler.get_job(job_id(plan_id))
        return None if job is None else job.next_run_time

    def jobs(self) -> list[tuple[str, datetime | None]]:
        return [(job.id, job.next_run_time) for job in self._scheduler.get_jobs()]


def _describe(trigger: object) -> str:
    zone = getattr(trigger, "timezone", None)
    return f"{trigger} @ {zone}"


# The scheduler leading in this process (scaled mode), for the "resync-plans" sweep.
_active: list[JobScheduler] = []


def set_active(scheduler: JobScheduler | None) -> None:
    _active[:] = [scheduler] if scheduler is not None else []


def resync_active() -> None:
    """Make the leading scheduler's weekly jobs match the plans (changed on web replicas)."""
    for scheduler in list(_active):
        with Session(scheduler.engine) as session:
            slots = weekly_slots(session)
        scheduler.sync(slots)


class RemoteSchedule:
    """What a web replica has instead of a scheduler: a changed plan is booked now by a
    worker, and the leader's "resync-plans" sweep brings its weekly job in line."""

    def plan_changed(self, plan_id: int) -> None:
        from app import runtime
        from app.jobs import Job

        job = Job(NOW_JOB, (plan_id,))
        runtime.current().dispatcher.submit(f"book-now:{plan_id}", job)

    def unschedule_plan(self, plan_id: int) -> None:
        """Nothing to do here: an inactive plan is never claimed, and the sweep drops its job."""

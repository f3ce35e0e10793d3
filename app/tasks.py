"""Idempotent jobs. They take ids, open their own session and commit at their boundary."""

from __future__ import annotations

import logging
import random
import threading
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import ColumnElement, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from app import runtime
from app.db.models import (
    Account,
    AccountStatus,
    Block,
    BookingJob,
    BookingJobState,
    Calendar,
    Plan,
    User,
    WeeklyClaim,
)
from app.db.session import transaction
from app.dispatch import Dispatcher
from app.domain.time import IsoWeek
from app.jobs import Job
from app.services.accounts.failures import account_of
from app.services.accounts.rows import mark_gone, mark_needs_reauth
from app.services.booking import batch as booking_batch
from app.services.booking import defense
from app.services.booking import jobs as booking_jobs
from app.services.booking.reconcile import (
    BookingBlockedError,
    BookingReport,
    book_week,
    horizon_weeks,
    record_run,
)
from app.services.conflicts import choices, detection
from app.services.conflicts.deciding import ConflictResolver
from app.services.growth import log as growth_log
from app.services.growth import titles as growth_titles
from app.services.notifications import delivery
from app.services.planning.plans import plan_spec, plan_zone
from app.services.quiet import periods as quiet_periods
from app.services.quiet.slack import chat_factory
from app.services.reports import baseline as baseline_service
from app.services.reports import sending
from app.services.sync import events as sync_service
from app.services.sync import watches
from app.services.sync.last_error import record_failure
from connectors.errors import ConnectorError, NotFound, RateLimited, ReauthRequired, TransientError

log = logging.getLogger(__name__)


# --- the one retry policy -----------------------------------------------------------------


@dataclass(frozen=True)
class RetryPolicy:
    """When to try a provider again. Connectors make one attempt and raise typed errors;
    tasks re-enqueue themselves with `delay()` (never a sleep in a request or a worker)."""

    attempts: int = 8
    base_seconds: float = 5.0  # a glitch is retried within seconds; an outage backs off
    cap_seconds: float = 3600.0

    def delay(
        self, error: BaseException, attempt: int, jitter: float | None = None
    ) -> float | None:
        """Seconds before attempt `attempt + 1`, or None to give up (or not retryable)."""
        if not isinstance(error, TransientError) or attempt >= self.attempts:
            return None
        if isinstance(error, RateLimited) and error.retry_after is not None:
            return max(1.0, float(error.retry_after))  # the provider's word wins over our cap
        share = random.random() if jitter is None else jitter
        # Full-ish jitter, so many tasks failing together do not come back together.
        ceiling = min(self.cap_seconds, self.base_seconds * 2.0 ** (attempt - 1))
        return float(ceiling * (0.5 + share / 2))


RETRY = RetryPolicy()


def _why(error: BaseException) -> str:
    return f"{type(error).__name__}: {error}"


# --- booking --------------------------------------------------------------------------------

_plan_locks: dict[int, threading.Lock] = {}


def _plan_lock(plan_id: int) -> threading.Lock:
    # One booking per plan at a time in this process (two runs would race on the same slots).
    return _plan_locks.setdefault(plan_id, threading.Lock())


@contextmanager
def _plan_exclusive(plan_id: int) -> Iterator[None]:
    """One booking per plan at a time: in this process, and across workers when the
    dispatcher offers a shared lock (the Celery backend: a Redis lock)."""
    with _plan_lock(plan_id):
        shared = getattr(runtime.current().dispatcher, "lock", None)
        if shared is None:
            yield
            return
        with shared(f"plan:{plan_id}"):
            yield


def book_plan(plan_id: int, week: str, now: datetime | None = None) -> BookingReport | None:
    """Book one week of one plan; None when the plan is gone or paused, or booking is blocked
    (the account status and notification say why). Provider failures raise, typed."""
    try:
        return _book_once(plan_id, week, now)
    except BookingBlockedError as error:
        log.warning("booking plan %s for %s blocked: %s", plan_id, week, error)
        return None


def _book_once(plan_id: int, week: str, now: datetime | None = None) -> BookingReport | None:
    """One attempt at one week of one plan.

    Safe to run any number of times, or after a crash: new blocks are committed as soon as
    the provider has answered for them, and the next run adopts what exists by its tag.
    """
    rt = runtime.current()
    now = now or rt.clock()
    with _plan_exclusive(plan_id), rt.sessions() as session:
        plan = session.get(Plan, plan_id)
        if plan is None or not plan.active:
            return None
        try:
            report = book_week(
                session, plan, IsoWeek.parse(week), now, rt.connectors, session.commit
            )
        except BookingBlockedError as error:
            record_run(session, plan_id, IsoWeek.parse(week), now, "blocked", reason=str(error))
            session.commit()  # keeps the account status and notification it recorded
            raise
        except ConnectorError:
            session.commit()  # keeps the account status, notification and audit it recorded
            raise
        except BaseException:
            session.rollback()
            raise
        session.commit()
        return report


def book_plan_horizon(plan_id: int, now: datetime | None = None) -> list[BookingReport]:
    """Book the plan's current week (its remainder) and the weeks of its horizon."""
    now = now or runtime.current().clock()
    reports = []
    for week in plan_weeks(plan_id, now):
        report = book_plan(plan_id, week, now)
        if report is not None:
            reports.append(report)
    return reports


def plan_weeks(plan_id: int, now: datetime) -> list[str]:
    """The weeks a booking of the plan covers now: this week's remainder plus the horizon."""
    rt = runtime.current()
    with rt.sessions() as session:
        plan = session.get(Plan, plan_id)
        if plan is None:
            return []
        spec = plan_spec(plan)
        zone = plan_zone(spec, session.get_one(User, plan.user_id))
    return [str(week) for week in horizon_weeks(spec, IsoWeek.containing(now, zone))]


def enqueue_booking(run_id: int, delay: float = 0.0) -> bool:
    """Hand a booking run to the dispatcher (now, or after `delay` seconds)."""
    return runtime.current().dispatcher.submit(
        f"book:{run_id}", Job("app.tasks:run_booking", (run_id,)), delay=delay
    )


def run_booking(run_id: int) -> str | None:
    """Carry out a booking run; on a provider failure, schedule the retry the policy allows."""
    rt = runtime.current()
    with transaction(rt.sessions) as session:
        run = session.get(BookingJob, run_id)
        if run is None or run.state in booking_jobs.FINISHED:
            return None
        run.state, run.attempts = BookingJobState.RUNNING, run.attempts + 1
        run.updated_at = rt.clock()
        plan_id, weeks, attempt = run.plan_id, list(run.weeks), run.attempts
    reports: list[BookingReport] = []
    failure: BookingBlockedError | ConnectorError | None = None
    try:
        for week in weeks:
            report = _book_once(plan_id, week)
            if report is not None:
                reports.append(report)
    except (BookingBlockedError, ConnectorError) as error:
        failure = error
    return _settle_run(run_id, plan_id, attempt, reports, failure)


def _settle_run(
    run_id: int,
    plan_id: int,
    attempt: int,
    reports: list[BookingReport],
    failure: BookingBlockedError | ConnectorError | None,
) -> str | None:
    """Record how a run went: done, blocked, failed, or retrying (and queue the retry)."""
    rt = runtime.current()
    outcome: tuple[BookingJobState, dict[str, object]]
    delay: float | None = None
    if failure is None:
        outcome = BookingJobState.DONE, {"reports": [vars(r) for r in reports]}
    elif isinstance(failure, BookingBlockedError):
        outcome = BookingJobState.BLOCKED, {"reason": str(failure)}
    elif isinstance(failure, ReauthRequired):
        outcome = BookingJobState.BLOCKED, {"reason": _reconnect(failure)}
    else:
        delay = RETRY.delay(failure, attempt)
        reason = f"the calendar provider failed: {_why(failure)}"
        if delay is None:
            outcome = BookingJobState.FAILED, {"reason": reason}
        else:
            outcome = BookingJobState.RETRYING, {"reason": reason, "retry_in_seconds": delay}
    now = rt.clock()
    with transaction(rt.sessions) as session:
        run = session.get(BookingJob, run_id)
        if run is None:
            return None
        state, detail = outcome
        if state is BookingJobState.RETRYING and delay is not None:
            run.state, run.detail, run.updated_at = state, detail, now
            run.next_attempt_at = now + timedelta(seconds=delay)
        else:
            booking_jobs.finish(run, state, now, **detail)
            if state is BookingJobState.FAILED:
                _tell_failed(session, plan_id, str(detail["reason"]))
    if delay is not None and state is BookingJobState.RETRYING:
        enqueue_booking(run_id, delay)
    log.info("booking run %s (plan %s): %s", run_id, plan_id, state)
    return str(state)


def run_bookings_together(run_ids: list[int]) -> int:
    """Carry out several queued booking runs through the batch path (`booking_batch`: the
    database reads of a chunk of plans done together, each chunk committed once) instead of
    one job each; each run ends as `run_booking` would end it (done, blocked, failed, or
    retrying on its own afterwards). Runs no longer queued (another job took them, or they
    wait for a retry) are left alone. How many runs were carried out."""
    rt = runtime.current()
    now = rt.clock()
    taken: list[tuple[int, int, list[str], int]] = []  # run, plan, weeks, attempt
    with transaction(rt.sessions) as session:
        for run in session.scalars(
            select(BookingJob)
            .where(BookingJob.id.in_(run_ids), BookingJob.state == BookingJobState.QUEUED)
            .order_by(BookingJob.id)
        ):
            run.state, run.attempts, run.updated_at = BookingJobState.RUNNING, run.attempts + 1, now
            taken.append((run.id, run.plan_id, list(run.weeks), run.attempts))
    reports: dict[int, list[BookingReport]] = {plan: [] for _, plan, _, _ in taken}
    failures: dict[int, BookingBlockedError | ConnectorError] = {}
    with ExitStack() as locks:
        for plan_id in sorted(reports):  # one order everywhere: no two batches deadlock
            locks.enter_context(_plan_exclusive(plan_id))
        for week in sorted({w for _, _, weeks, _ in taken for w in weeks}):
            # a plan stops at its first failure, as its own run would
            ids = [p for _, p, weeks, _ in taken if week in weeks and p not in failures]
            outcome = booking_batch.book_plans(
                rt.sessions, ids, IsoWeek.parse(week), now, rt.connectors
            )
            for report in outcome.reports:
                reports[report.plan_id].append(report)
            failures.update(outcome.failed)
            for plan_id, reason in outcome.blocked.items():
                failures[plan_id] = BookingBlockedError(reason)
    for run_id, plan_id, _, attempt in taken:
        _settle_run(run_id, plan_id, attempt, reports[plan_id], failures.get(plan_id))
    return len(taken)


def enqueue_bookings_together(run_ids: list[int]) -> bool:
    """Hand several booking runs to the dispatcher as one batch job."""
    if not run_ids:
        return False
    key = f"book-together:{min(run_ids)}:{len(run_ids)}"
    return runtime.current().dispatcher.submit(
        key, Job("app.tasks:run_bookings_together", (sorted(run_ids),))
    )


def _reconnect(error: ReauthRequired) -> str:
    rt = runtime.current()
    account_id = account_of(error)
    with transaction(rt.sessions) as session:
        account = session.get(Account, account_id) if account_id is not None else None
        if account is None:
            return "a calendar account needs to be reconnected"
        mark_needs_reauth(session, account, str(error))
        return f"{account.display_name} needs to be reconnected before booking"


def _tell_failed(session: Session, plan_id: int, reason: str) -> None:
    from app.services.notifications import outbox

    plan = session.get(Plan, plan_id)
    if plan is not None:
        outbox.record(
            session,
            plan.user_id,
            "booking.failed",
            {"plan_id": plan_id, "message": f"Growth blocks could not be booked: {reason}"},
        )


def retitle_plan(plan_id: int) -> None:
    """After a milestone change: rewrite the plan's future blocks' titles.

    Called after the request's commit (it writes at the provider, never inside a request's
    transaction). The title is cosmetic: a provider that fails now is retried by the next
    booking.
    """
    rt = runtime.current()
    with transaction(rt.sessions) as session:
        plan = session.get(Plan, plan_id)
        if plan is not None:
            growth_titles.refresh(session, plan, rt.clock(), rt.connectors)


def book_user_plans(user_id: int) -> int:
    """Queue a booking of every active plan of a person (e.g. right after a calendar was
    connected); provider failures retry in the background like any booking run."""
    rt = runtime.current()
    with rt.sessions() as session:
        ids = list(
            session.scalars(select(Plan.id).where(Plan.user_id == user_id, Plan.active.is_(True)))
        )
    now = rt.clock()
    return sum(request_booking(plan_id, plan_weeks(plan_id, now)) is not None for plan_id in ids)


def request_booking(plan_id: int, weeks: list[str]) -> int | None:
    """Queue a booking run (the weekly job and the API use this); its id, or None."""
    rt = runtime.current()
    now = rt.clock()
    with transaction(rt.sessions) as session:
        plan = session.get(Plan, plan_id)
        if plan is None or not plan.active:
            return None
        run_id = booking_jobs.request_run(session, plan, weeks, now).id
    enqueue_booking(run_id)
    return run_id


def resume_bookings() -> int:
    """At start-up: carry on with the runs a crash or restart interrupted."""
    rt = runtime.current()
    now = rt.clock()
    with rt.sessions() as session:
        runs = [(r.id, r.next_attempt_at) for r in booking_jobs.unfinished(session)]
    for run_id, due in runs:
        wait = max((due - now).total_seconds(), 0.0) if due is not None else 0.0
        enqueue_booking(run_id, wait)
    return len(runs)


# Plans whose weekly slot is the same minute (everybody on the default slot in one zone) fire
# within moments of each other: the runs claimed within this many seconds are booked together,
# through the batch path, instead of one job each.
WEEKLY_GATHER_SECONDS = 2.0
_gather_lock = threading.Lock()
_gathering: dict[Dispatcher, list[int]] = {}


def scheduled_booking(plan_id: int) -> None:
    """The scheduler's weekly job: claim the plan's week (see `claim_weekly`), then book it
    with the other runs claimed in the next `WEEKLY_GATHER_SECONDS`.

    The weekly jobs of every plan fire in one process (the embedded app, or the scaled
    leader), so the gathering is in memory; runs it never hands over (the process stopped)
    stay queued, and `resume_stalled_bookings` queues them again."""
    run_id = claim_weekly(plan_id, runtime.current().clock(), enqueue=False)
    if run_id is not None:
        _gather(run_id)


def _gather(run_id: int) -> None:
    dispatcher = runtime.current().dispatcher
    with _gather_lock:
        _gathering.setdefault(dispatcher, []).append(run_id)
    # coalesced by key: while a hand-over waits, the runs claimed meanwhile join it
    dispatcher.submit("weekly-gather", lambda: _hand_over(dispatcher), delay=WEEKLY_GATHER_SECONDS)


def _hand_over(dispatcher: Dispatcher) -> None:
    with _gather_lock:
        run_ids = _gathering.pop(dispatcher, [])
    if len(run_ids) > 1:
        enqueue_bookings_together(run_ids)
    elif run_ids:
        enqueue_booking(run_ids[0])


def book_now(plan_id: int) -> None:
    """Book a plan's weeks now (after it was created or changed); claims nothing."""
    weeks = plan_weeks(plan_id, runtime.current().clock())
    if weeks:
        request_booking(plan_id, weeks)


def due_week(plan: Plan, user: User, now: datetime) -> str | None:
    """The ISO week (plan zone) of the plan's latest weekly slot at or before `now`, within
    the last 7 days and not before the plan existed; None when there is none."""
    from app.scheduler import slot_for  # the scheduler module imports this one's names

    slot = slot_for(plan, user)
    trigger = slot.trigger()
    since = max(now - timedelta(days=7), plan.created_at)
    fire, last = trigger.get_next_fire_time(None, since), None
    while fire is not None and fire <= now:
        last, fire = fire, trigger.get_next_fire_time(fire, fire + timedelta(seconds=1))
    return None if last is None else str(IsoWeek.containing(last, slot.zone))


def claim_weekly(plan_id: int, now: datetime, *, enqueue: bool = True) -> int | None:
    """Start the weekly booking of the plan's due week exactly once: a claim row per plan and
    week is written in the same transaction as the booking request, so a job that fires
    twice (a leader that died before recording it had fired) or a catch-up finds it taken.
    Returns the booking run's id, or None when claimed already or nothing is due. With
    ``enqueue`` False the caller queues the run (`catch_up_weekly` books many together)."""
    rt = runtime.current()
    weeks = plan_weeks(plan_id, now)
    try:
        with transaction(rt.sessions) as session:
            plan = session.get(Plan, plan_id)
            user = session.get(User, plan.user_id) if plan is not None else None
            if plan is None or user is None or not plan.active:
                return None
            week = due_week(plan, user, now)
            if week is None or session.get(WeeklyClaim, (plan_id, week)) is not None:
                return None
            session.add(WeeklyClaim(plan_id=plan_id, week=week, claimed_at=now))
            session.flush()  # a racing replica's claim fails us here
            run_id = booking_jobs.request_run(session, plan, weeks, now).id if weeks else None
    except IntegrityError:
        return None
    if run_id is not None:
        log.info("weekly booking of plan %s claimed: run %s", plan_id, run_id)
        if enqueue:
            enqueue_booking(run_id)
    return run_id


def catch_up_weekly() -> int:
    """Claim every weekly booking that fell due but was never claimed (the scheduler was
    down, or a leader died between firing and claiming); the new leader runs this first."""
    rt = runtime.current()
    with rt.sessions() as session:
        ids = list(session.scalars(select(Plan.id).where(Plan.active.is_(True))))
    now = rt.clock()
    claimed = [run for plan_id in ids if (run := claim_weekly(plan_id, now, enqueue=False))]
    # Many plans claimed at once (a leader starting, or a slot shared by many plans) are
    # booked through the batch path; a single one as its own run.
    if len(claimed) > 1:
        enqueue_bookings_together(claimed)
    elif claimed:
        enqueue_booking(claimed[0])
    return len(claimed)


def resume_stalled_bookings(older_than_seconds: float = 300.0) -> int:
    """Queue again the booking runs still waiting long after they were due (a process died
    between recording a run and queueing it, or a broker lost a retry's delayed message);
    coalesced with any message still queued. Runs in progress are left to the broker."""
    rt = runtime.current()
    cutoff = rt.clock() - timedelta(seconds=older_than_seconds)
    with rt.sessions() as session:
        ids = [
            r.id
            for r in booking_jobs.unfinished(session)
            if (r.state == BookingJobState.QUEUED and r.requested_at < cutoff)
            or (
                r.state == BookingJobState.RETRYING
                and r.next_attempt_at is not None
                and r.next_attempt_at < cutoff
            )
        ]
    return sum(enqueue_booking(run_id) for run_id in ids)


def queued(func: str) -> bool:
    """Hand the task function `func` to the dispatcher (the scaled scheduler's jobs use this,
    so their work runs on workers rather than in the scheduler process)."""
    return runtime.current().dispatcher.submit(f"job:{func}", Job(func))


# --- sync -----------------------------------------------------------------------------------

_calendar_locks: dict[int, threading.Lock] = {}


def _calendar_lock(calendar_id: int) -> threading.Lock:
    # setdefault is atomic, so two threads never end up holding different locks for one id.
    return _calendar_locks.setdefault(calendar_id, threading.Lock())


def sync_calendar(calendar_id: int, *, recreate_watch: bool = False, full: bool = False) -> None:
    """Pull a calendar's changes into the cache (and re-create its push channel if asked)."""
    rt = runtime.current()
    now = rt.clock()
    # One sync per calendar at a time: in this process by a lock, across workers by a row lock.
    with _calendar_lock(calendar_id), transaction(rt.sessions) as session:
        calendar = session.get(Calendar, calendar_id, with_for_update=True)
        if calendar is None or calendar.gone_at is not None:
            return
        if full:
            calendar.sync_cursor = None
        try:
            if recreate_watch and rt.settings.push_enabled:
                watches.ensure_watch(
                    session, calendar, rt.connectors, rt.settings.public_url, now, session.commit
                )
            result = sync_service.sync_calendar(session, calendar, rt.connectors, now)
        except NotFound as error:
            # The calendar itself is gone at the provider: say so once, stop syncing it.
            mark_gone(session, calendar, now)
            record_failure(calendar, error, now)
            return
        new_conflicts = detection.detect(session, calendar, result, now) if result else []
        # A crash between detecting and deciding leaves conflicts open, and an incremental
        # sync will not report their events again: pick them up here.
        waiting = detection.open_ids(session, calendar.id)
    # Each conflict is decided in its own transaction, right away (reaction time matters).
    for conflict_id in sorted(set(new_conflicts) | set(waiting)):
        resolve_conflict(conflict_id)


def _resolver(session: Session) -> ConflictResolver:
    rt = runtime.current()
    return ConflictResolver(
        session, rt.connectors, rt.settings.public_url, rt.settings.secret_key.get_secret_value()
    )


def resolve_conflict(conflict_id: int) -> None:
    """Decide one conflict with its plan's policy and carry the decision out (once)."""
    rt = runtime.current()
    with transaction(rt.sessions) as session:
        decided = _resolver(session).resolve(conflict_id, rt.clock())
    if decided is not None:
        enqueue_delivery()


def deliver_notifications() -> int:
    """Fan new notifications out to the person's channels and send what is due."""
    rt = runtime.current()
    now = rt.clock()
    with transaction(rt.sessions) as session:
        delivery.fan_out(session, now)
        report = delivery.deliver_due(session, now, senders=rt.senders, cipher=rt.cipher)
    return report.sent


def enqueue_delivery() -> bool:
    """Deliver soon, off the caller's thread (a failed delivery never blocks a decision)."""
    return runtime.current().dispatcher.submit("deliver", Job("app.tasks:deliver_notifications"))


def resolve_open_conflicts() -> int:
    """Decide conflicts a crash left open (detected a while ago, never decided)."""
    rt = runtime.current()
    with rt.sessions() as session:
        ids = detection.open_ids(session, None, detected_before=rt.clock() - timedelta(minutes=1))
    for conflict_id in ids:
        resolve_conflict(conflict_id)
    return len(ids)


def decline_due() -> int:
    """Carry out declines whose grace period ended without the person choosing."""
    rt = runtime.current()
    with transaction(rt.sessions) as session:
        return choices.execute_due(_resolver(session), rt.clock())


def enqueue_sync(
    calendar_id: int,
    *,
    recreate_watch: bool = False,
    full: bool = False,
    attempt: int = 1,
    delay: float = 0.0,
    echo: bool = False,
) -> bool:
    """Hand a calendar sync to the dispatcher (coalesced per calendar, after `delay` seconds);
    provider failures come back later as the retry policy says, then show on the account.

    `echo`: the hint is taken for the echo of our own write; the sync is skipped when the
    calendar was synced after it was asked for (that sync saw the echo already).
    """
    rt = runtime.current()
    key = f"sync:{calendar_id}:{int(recreate_watch)}:{int(full)}" + (":echo" if echo else "")
    asked = rt.clock().isoformat() if echo else None
    job = Job("app.tasks:sync_job", (calendar_id, recreate_watch, full, attempt, asked))
    return rt.dispatcher.submit(key, job, delay=delay)


def _synced_since(calendar_id: int, moment: datetime) -> bool:
    with runtime.current().sessions() as session:
        calendar = session.get(Calendar, calendar_id)
        last = calendar.last_synced_at if calendar is not None else None
        return last is not None and _aware(last) >= moment


def _aware(moment: datetime) -> datetime:
    # SQLite hands back naive UTC datetimes
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def sync_job(
    calendar_id: int,
    recreate_watch: bool,
    full: bool,
    attempt: int,
    echo_asked: str | None = None,
) -> None:
    """A queued sync: on a transient provider failure, queue the retry the policy allows
    (a countdown, never a sleep); once retries are spent, show it on the account.

    `echo_asked` (ISO time): this sync was asked for by the echo of our own write; skip it
    when another sync ran since."""
    if echo_asked is not None and _synced_since(calendar_id, datetime.fromisoformat(echo_asked)):
        return
    try:
        sync_calendar(calendar_id, recreate_watch=recreate_watch, full=full)
    except ConnectorError as error:
        # The sync's own transaction rolled back: say what went wrong in one of its own, so
        # the sync-health page shows it while retries go on.
        _remember_failure(calendar_id, error)
        if not isinstance(error, TransientError):
            raise
        _retry_or_surface(calendar_id, recreate_watch, full, attempt, error)


def _remember_failure(calendar_id: int, error: ConnectorError) -> None:
    rt = runtime.current()
    with transaction(rt.sessions) as session:
        calendar = session.get(Calendar, calendar_id)
        if calendar is not None:
            record_failure(calendar, error, rt.clock())


def _retry_or_surface(
    calendar_id: int, recreate_watch: bool, full: bool, attempt: int, error: TransientError
) -> None:
    rt = runtime.current()
    delay = RETRY.delay(error, attempt)
    if delay is not None:
        log.info("sync of calendar %s: %s; retry in %.0fs", calendar_id, error, delay)
        key = f"sync:{calendar_id}:{int(recreate_watch)}:{int(full)}:retry"
        job = Job("app.tasks:retry_sync", (calendar_id, recreate_watch, full, attempt + 1))
        rt.dispatcher.submit(key, job, delay=delay)
        return
    # Retries are spent: show it on the account; the next poll or push tries again.
    with transaction(rt.sessions) as session:
        calendar = session.get(Calendar, calendar_id)
        account = session.get(Account, calendar.account_id) if calendar else None
        if account is not None and account.status == AccountStatus.OK:
            account.status = AccountStatus.ERROR
            account.status_detail = f"sync failed: {_why(error)}"
    raise error


def retry_sync(calendar_id: int, recreate_watch: bool, full: bool, attempt: int) -> None:
    """A retry's turn came: queue the sync again (coalesced with any hint meanwhile)."""
    enqueue_sync(calendar_id, recreate_watch=recreate_watch, full=full, attempt=attempt)


def enqueue_baseline(user_id: int) -> bool:
    """Compute a person's baseline off the caller's thread."""
    job = Job("app.tasks:compute_baseline", (user_id,))
    return runtime.current().dispatcher.submit(f"baseline:{user_id}", job)


def enqueue_user_bookings(user_id: int) -> bool:
    """Book every active plan of a person off the caller's thread."""
    job = Job("app.tasks:book_user_plans", (user_id,))
    return runtime.current().dispatcher.submit(f"book-user:{user_id}", job)


def _sync_busy_calendars(*conditions: ColumnElement[bool]) -> int:
    """Queue a sync of every busy-source calendar of a healthy account that meets `conditions`."""
    with runtime.current().sessions() as session:
        ids = list(
            session.scalars(
                select(Calendar.id)
                .join(Account, Account.id == Calendar.account_id)
                .where(
                    Calendar.is_busy_source.is_(True),
                    Calendar.gone_at.is_(None),
                    Account.status == AccountStatus.OK,
                    *conditions,
                )
            )
        )
    return sum(enqueue_sync(calendar_id) for calendar_id in ids)


def poll_demo_calendars() -> int:
    """Queue a sync of the demo calendars (polled often so the demo reacts within seconds)."""
    return _sync_busy_calendars(Account.is_demo.is_(True))


def poll_calendars() -> int:
    """Queue a sync of every busy-source calendar of every healthy account (polling mode)."""
    return _sync_busy_calendars()


def poll_unwatched_calendars() -> int:
    """Queue a sync of every busy-source calendar without a live push channel.

    With push on, `poll_calendars` runs only daily (a safety net); calendars that cannot push
    (CalDAV) or whose channel lapsed would otherwise be read once a day.
    """
    now = runtime.current().clock()
    return _sync_busy_calendars(
        Calendar.watch_expires_at.is_(None) | (Calendar.watch_expires_at <= now)
    )


def ask_growth_log() -> int:
    """Ask each person about their growth blocks that just ended (once per block, in-app)."""
    rt = runtime.current()
    now = rt.clock()
    secret = rt.settings.secret_key.get_secret_value()
    with rt.sessions() as session:
        user_ids = list(
            session.scalars(
                select(Plan.user_id)
                .join(Block, Block.plan_id == Plan.id)
                .where(Block.end <= now, Block.end > now - growth_log.ASK_WINDOW)
                .distinct()
            )
        )
    asked = 0
    for user_id in user_ids:
        with transaction(rt.sessions) as session:
            user = session.get(User, user_id)
            if user is not None:
                asked += len(growth_log.ask(session, user, now, secret))
    return asked


def harden_flexible_blocks() -> int:
    """Turn busy every free flexible block whose threshold has come (once: the row then says
    busy, so a second run writes nothing)."""
    rt = runtime.current()
    now = rt.clock()
    with transaction(rt.sessions) as session:
        return len(defense.harden_due(session, now, rt.connectors, checkpoint=session.commit))


def renew_watches() -> int:
    """Create or renew push channels that are missing or close to expiry."""
    rt = runtime.current()
    if not rt.settings.push_enabled:
        return 0
    changed = 0
    now = rt.clock()
    with rt.sessions() as session:
        ids = list(session.scalars(select(Calendar.id).where(Calendar.is_busy_source.is_(True))))
    for calendar_id in ids:
        with transaction(rt.sessions) as session:
            calendar = session.get(Calendar, calendar_id)
            if calendar is not None and watches.ensure_watch(
                session, calendar, rt.connectors, rt.settings.public_url, now, session.commit
            ):
                changed += 1
    return changed


def send_weekly_reports() -> int:
    """Record each active plan's weekly report (once per plan and week)."""
    rt = runtime.current()
    with transaction(rt.sessions) as session:
        sent = sending.send_weekly_reports(
            session, rt.clock(), log_links=growth_log.Linker.of(rt.settings)
        )
    if sent:
        enqueue_delivery()
    return sent


def send_quarterly_reviews() -> int:
    """Early in each quarter, remind people to revisit their goal (once per user and quarter)."""
    rt = runtime.current()
    with transaction(rt.sessions) as session:
        sent = sending.send_quarterly_reviews(
            session, rt.clock(), public_url=rt.settings.public_url
        )
    if sent:
        enqueue_delivery()
    return sent


def compute_baseline(user_id: int) -> None:
    """The four weeks before connecting, read live from the calendars (re-run on each connect)."""
    rt = runtime.current()
    with transaction(rt.sessions) as session:
        user = session.get(User, user_id)
        if user is not None:
            baseline_service.compute_baseline(session, user, rt.connectors, rt.clock())


def prune_old_rows() -> int:
    """Daily: delete old push receipts and long-past cached events, a batch per transaction."""
    from app.services.sync import retention

    rt = runtime.current()
    total = 0
    while True:
        with transaction(rt.sessions) as session:
            pruned = retention.prune(session, rt.clock())
        total += pruned.receipts + pruned.events
        if max(pruned.receipts, pruned.events) < retention.BATCH:
            return total


# --- quiet during blocks ---------------------------------------------------------------------

_quiet_locks: dict[int, threading.Lock] = {}


def quiet_user(user_id: int) -> str | None:
    """Quiet mode for one person now: end what should end, start what is under way. A Slack
    failure is recorded on the link; a transient one comes back after `RETRY.delay(...)`."""
    rt = runtime.current()
    now = rt.clock()
    # One run per person at a time in this process; the link's row lock across processes.
    with _quiet_locks.setdefault(user_id, threading.Lock()), transaction(rt.sessions) as session:
        outcome = quiet_periods.run_user(
            session,
            user_id,
            now,
            cipher=rt.cipher,
            chat_for=chat_factory(rt.settings),
            retry=RETRY.delay,
            checkpoint=session.commit,
        )
    if outcome.retry_in is not None:
        log.info(
            "quiet mode for user %s: %s; retry in %.0fs", user_id, outcome.problem, outcome.retry_in
        )
        enqueue_quiet(user_id, outcome.retry_in)
    if outcome.started or outcome.ended:
        log.info(
            "quiet mode for user %s: %s started, %s ended", user_id, outcome.started, outcome.ended
        )
    return outcome.problem


def enqueue_quiet(user_id: int, delay: float = 0.0) -> bool:
    """Run quiet mode for one person soon (after a settings change, or a back-off)."""
    job = Job("app.tasks:quiet_user", (user_id,))
    return runtime.current().dispatcher.submit(f"quiet:{user_id}", job, delay=delay)


def quiet_sweep() -> int:
    """Every minute: each person with a block starting or a quiet period to end (also one
    whose end was missed while the process was down)."""
    rt = runtime.current()
    with rt.sessions() as session:
        user_ids = quiet_periods.due_users(session, rt.clock())
    for user_id in user_ids:
        quiet_user(user_id)
    return len(user_ids)

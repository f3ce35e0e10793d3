"""Idempotent jobs. They take ids, open their own session and commit at their boundary."""

from __future__ import annotations

import logging
import threading
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session
from tenacity import (
    retry,
    retry_if_exception_type,
    stop_after_attempt,
    wait_exponential_jitter,
)
from tenacity.wait import wait_base

from app import runtime
from app.db.models import Account, AccountStatus, Calendar, Plan, User
from app.db.session import transaction
from app.domain.time import IsoWeek
from app.services import choices, conflicts, delivery, push, report_notices
from app.services import reports as report_service
from app.services import sync as sync_service
from app.services.booking import (
    BookingBlockedError,
    BookingReport,
    book_week,
    horizon_weeks,
    record_run,
)
from app.services.plans import plan_zone, spec_of
from app.services.resolve import Resolver
from connectors.errors import RateLimited, TransientError

log = logging.getLogger(__name__)


class _honour_retry_after(wait_base):
    """Wait what the provider asked for, else exponential backoff with jitter."""

    def __init__(self) -> None:
        self._fallback = wait_exponential_jitter(initial=1, max=30)

    def __call__(self, retry_state: object) -> float:
        outcome = getattr(retry_state, "outcome", None)
        error = outcome.exception() if outcome is not None else None
        if isinstance(error, RateLimited) and error.retry_after is not None:
            return min(float(error.retry_after), 120.0)
        return float(self._fallback(retry_state))  # type: ignore[arg-type]


_provider_retry = retry(
    retry=retry_if_exception_type(TransientError),
    wait=_honour_retry_after(),
    stop=stop_after_attempt(4),
    reraise=True,
)


@_provider_retry
def book_plan(plan_id: int, week: str, now: datetime | None = None) -> BookingReport | None:
    """Book one week of one plan. Safe to run any number of times, or after a crash."""
    rt = runtime.current()
    now = now or rt.clock()
    with rt.sessions() as session:
        plan = session.get(Plan, plan_id)
        if plan is None or not plan.active:
            return None
        try:
            report = book_week(session, plan, IsoWeek.parse(week), now, rt.connectors)
        except BookingBlockedError as error:
            record_run(session, plan_id, IsoWeek.parse(week), now, "blocked", reason=str(error))
            session.commit()  # keeps the account status and notification it recorded
            log.warning("booking plan %s for %s blocked: %s", plan_id, week, error)
            return None
        except BaseException:
            session.commit()  # blocks created before the failure stay recorded and audited
            raise
        session.commit()
        return report


def book_plan_horizon(plan_id: int, now: datetime | None = None) -> list[BookingReport]:
    """Book the plan's current week (its remainder) and the weeks of its horizon."""
    rt = runtime.current()
    now = now or rt.clock()
    with rt.sessions() as session:
        plan = session.get(Plan, plan_id)
        if plan is None or not plan.active:
            return []
        spec = spec_of(plan)
        zone = plan_zone(spec, session.get_one(User, plan.user_id))
    reports = []
    for week in horizon_weeks(spec, IsoWeek.containing(now, zone)):
        report = book_plan(plan_id, str(week), now)
        if report is not None:
            reports.append(report)
    return reports


def book_user_plans(user_id: int) -> int:
    """Book every active plan of a person now (e.g. right after a calendar was connected)."""
    rt = runtime.current()
    with rt.sessions() as session:
        ids = list(
            session.scalars(select(Plan.id).where(Plan.user_id == user_id, Plan.active.is_(True)))
        )
    for plan_id in ids:
        book_plan_horizon(plan_id)
    return len(ids)


def scheduled_booking(plan_id: int) -> None:
    """Entry point for the scheduler's weekly job (a stable textual reference)."""
    reports = book_plan_horizon(plan_id)
    for report in reports:
        log.info(
            "plan %s %s: created %d, kept %d, lost %d, %d/%d min",
            report.plan_id,
            report.week,
            len(report.created),
            len(report.kept),
            len(report.lost),
            report.booked_minutes,
            report.target_minutes,
        )


_calendar_locks: dict[int, threading.Lock] = {}


def _calendar_lock(calendar_id: int) -> threading.Lock:
    # setdefault is atomic, so two threads never end up holding different locks for one id.
    return _calendar_locks.setdefault(calendar_id, threading.Lock())


@_provider_retry
def sync_calendar(calendar_id: int, *, recreate_watch: bool = False, full: bool = False) -> None:
    """Pull a calendar's changes into the cache (and re-create its push channel if asked)."""
    rt = runtime.current()
    now = rt.clock()
    # One sync per calendar at a time: in this process by a lock, across workers by a row lock.
    with _calendar_lock(calendar_id), transaction(rt.sessions) as session:
        calendar = session.get(Calendar, calendar_id, with_for_update=True)
        if calendar is None:
            return
        if full:
            calendar.sync_cursor = None
        if recreate_watch and rt.settings.push_enabled:
            push.ensure_watch(session, calendar, rt.connectors, rt.settings.public_url, now)
        result = sync_service.sync_calendar(session, calendar, rt.connectors, now)
        new_conflicts = conflicts.detect(session, calendar, result, now) if result else []
    # Each conflict is decided in its own transaction, right away (reaction time matters).
    for conflict_id in new_conflicts:
        resolve_conflict(conflict_id)


def _resolver(session: Session) -> Resolver:
    rt = runtime.current()
    return Resolver(
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
    return runtime.current().dispatcher.submit("deliver", deliver_notifications)


def decline_due() -> int:
    """Carry out declines whose grace period ended without the person choosing."""
    rt = runtime.current()
    with transaction(rt.sessions) as session:
        return choices.execute_due(_resolver(session), rt.clock())


def enqueue_sync(calendar_id: int, *, recreate_watch: bool = False, full: bool = False) -> bool:
    """Hand a calendar sync to the dispatcher (coalesced per calendar)."""
    rt = runtime.current()
    key = f"sync:{calendar_id}:{int(recreate_watch)}:{int(full)}"

    def run() -> None:
        try:
            sync_calendar(calendar_id, recreate_watch=recreate_watch, full=full)
        except TransientError as error:
            # Retries are spent: show it on the account; the next poll or push tries again.
            with transaction(rt.sessions) as session:
                calendar = session.get(Calendar, calendar_id)
                account = session.get(Account, calendar.account_id) if calendar else None
                if account is not None and account.status == AccountStatus.OK:
                    account.status = AccountStatus.ERROR
                    account.status_detail = f"sync failed: {type(error).__name__}: {error}"
            raise

    return rt.dispatcher.submit(key, run)


def poll_demo_calendars() -> int:
    """Queue a sync of the demo calendars (polled often so the demo reacts within seconds)."""
    rt = runtime.current()
    with rt.sessions() as session:
        ids = list(
            session.scalars(
                select(Calendar.id)
                .join(Account, Account.id == Calendar.account_id)
                .where(
                    Calendar.is_busy_source.is_(True),
                    Account.status == AccountStatus.OK,
                    Account.is_demo.is_(True),
                )
            )
        )
    return sum(enqueue_sync(calendar_id) for calendar_id in ids)


def poll_calendars() -> int:
    """Queue a sync of every busy-source calendar of every healthy account (polling mode)."""
    rt = runtime.current()
    with rt.sessions() as session:
        ids = list(
            session.scalars(
                select(Calendar.id)
                .join(Account, Account.id == Calendar.account_id)
                .where(Calendar.is_busy_source.is_(True), Account.status == AccountStatus.OK)
            )
        )
    return sum(enqueue_sync(calendar_id) for calendar_id in ids)


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
            if calendar is not None and push.ensure_watch(
                session, calendar, rt.connectors, rt.settings.public_url, now
            ):
                changed += 1
    return changed


def send_weekly_reports() -> int:
    """Record each active plan's weekly report (once per plan and week)."""
    rt = runtime.current()
    with transaction(rt.sessions) as session:
        sent = report_notices.send_weekly_reports(session, rt.clock())
    if sent:
        enqueue_delivery()
    return sent


def send_quarterly_reviews() -> int:
    """Early in each quarter, remind people to revisit their goal (once per user and quarter)."""
    rt = runtime.current()
    with transaction(rt.sessions) as session:
        sent = report_notices.send_quarterly_reviews(session, rt.clock())
    if sent:
        enqueue_delivery()
    return sent


def compute_baseline(user_id: int) -> None:
    """The four weeks before connecting, read live from the calendars (re-run on each connect)."""
    rt = runtime.current()
    with transaction(rt.sessions) as session:
        user = session.get(User, user_id)
        if user is not None:
            report_service.compute_baseline(session, user, rt.connectors, rt.clock())

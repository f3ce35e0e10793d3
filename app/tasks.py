"""Idempotent jobs. They take ids, open their own session and commit at their boundary."""

from __future__ import annotations

import logging
from datetime import datetime

from tenacity import (
    retry,
    retry_if_exception_type,
    stop_after_attempt,
    wait_exponential_jitter,
)
from tenacity.wait import wait_base

from app import runtime
from app.db.models import Plan, User
from app.domain.time import IsoWeek
from app.services.booking import BookingBlockedError, BookingReport, book_week, horizon_weeks
from app.services.plans import plan_zone, spec_of
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

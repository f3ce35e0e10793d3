"""Booking requests and their outcome: queued by the API or the weekly job, run by a task.

A request answers at once with its run; the run says what happened (done with reports,
retrying after a provider failure and when, blocked and why, failed after the retries).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.db.models import BookingJob, BookingJobState, Plan, User
from app.services.errors import NotFoundError
from app.services.planning.plans import get_plan

ACTIVE = (BookingJobState.QUEUED, BookingJobState.RUNNING, BookingJobState.RETRYING)
FINISHED = (BookingJobState.DONE, BookingJobState.BLOCKED, BookingJobState.FAILED)


def request_run(session: Session, plan: Plan, weeks: list[str], now: datetime) -> BookingJob:
    """Queue a booking of `weeks`; an identical request still waiting is reused."""
    waiting = session.scalars(
        select(BookingJob).where(
            BookingJob.plan_id == plan.id,
            BookingJob.state.in_((BookingJobState.QUEUED, BookingJobState.RETRYING)),
        )
    ).all()
    for run in waiting:
        if run.weeks == weeks:
            return run
    run = BookingJob(
        plan_id=plan.id,
        weeks=weeks,
        state=BookingJobState.QUEUED,
        attempts=0,
        detail={},
        requested_at=now,
        updated_at=now,
    )
    session.add(run)
    session.flush()
    return run


def blocked_run(
    session: Session, plan: Plan, weeks: list[str], reason: str, now: datetime
) -> BookingJob:
    """Record a request that could not start (it is visible in the plan's runs)."""
    run = BookingJob(
        plan_id=plan.id,
        weeks=weeks,
        state=BookingJobState.BLOCKED,
        attempts=0,
        detail={"reason": reason},
        requested_at=now,
        updated_at=now,
        finished_at=now,
    )
    session.add(run)
    session.flush()
    return run


def get_run(session: Session, user: User, plan_id: int, run_id: int) -> BookingJob:
    get_plan(session, user, plan_id)
    run = session.get(BookingJob, run_id)
    if run is None or run.plan_id != plan_id:
        raise NotFoundError("booking run")
    return run


def list_runs(session: Session, user: User, plan_id: int, limit: int = 20) -> list[BookingJob]:
    get_plan(session, user, plan_id)
    return list(
        session.scalars(
            select(BookingJob)
            .where(BookingJob.plan_id == plan_id)
            .order_by(BookingJob.id.desc())
            .limit(limit)
        )
    )


def unfinished(session: Session) -> list[BookingJob]:
    """Runs a restart interrupted (queued, running or waiting to retry)."""
    return list(
        session.scalars(
            select(BookingJob).where(BookingJob.state.in_(ACTIVE)).order_by(BookingJob.id)
        )
    )


def finish(run: BookingJob, state: BookingJobState, now: datetime, **detail: Any) -> None:
    run.state = state
    run.detail = detail
    run.next_attempt_at = None
    run.updated_at = run.finished_at = now

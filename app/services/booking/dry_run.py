"""A dry run of each plan's next weekly booking: what it would create, keep and lose, and why.

It reuses booking's own assessment (`reconcile.assess_week`) for the weeks the next weekly run
covers, inside a savepoint that is rolled back: nothing is written, not even the notes booking
leaves on the way (a calendar gone at the provider, a lost grant). It reads the calendars once
per busy source and week, like the plan preview; no retries, no waiting.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.db.models import AccessMode, BlockState, Plan, User
from app.domain.intervals import Interval
from app.domain.time import IsoWeek
from app.scheduler import next_weekly_run
from app.services.accounts.live import ConnectorFor
from app.services.accounts.rows import user_calendars
from app.services.booking.reconcile import BookingBlockedError, assess_week, horizon_weeks
from app.services.planning.plans import plan_spec, plan_zone
from app.services.sync.last_error import error_in_words
from connectors.errors import ConnectorError


@dataclass(frozen=True)
class DryRunWeek:
    """What the next booking would do for one week of one plan, and why."""

    week: str
    create: list[Interval]
    keep: list[Interval]
    moved: list[Interval]  # kept where the person moved them (booking follows them)
    lose: list[Interval]  # booked blocks gone from the calendar: marked lost, not re-booked
    target_minutes: int
    booked_minutes: int
    why: str


@dataclass(frozen=True)
class PlanDryRun:
    """The next booking of one plan: when it runs, where blocks go, week by week."""

    plan_id: int
    goal: str
    runs_at: datetime | None
    timezone: str
    target: str | None  # the target calendar's name
    weeks: list[DryRunWeek]
    blocked: str | None  # why booking cannot run now (nothing else is filled then)
    book_only: bool  # the target's account is book-only: conflicts are only flagged


def _why(assessment_reason: str | None, target: bool, created: int, lost: int) -> str:
    if not target:
        return "No calendar is chosen as the target for growth blocks, so nothing is created."
    parts = []
    if assessment_reason:
        parts.append(assessment_reason)
    elif created:
        parts.append(f"{created} new block(s) reach the weekly target.")
    else:
        parts.append("The weekly target is already met by the blocks in place.")
    if lost:
        parts.append(
            f"{lost} block(s) were removed from the calendar; booking respects that and does "
            "not re-book them this week."
        )
    return " ".join(parts)


def dry_run(
    session: Session, user: User, connectors: ConnectorFor, now: datetime
) -> list[PlanDryRun]:
    """What the next weekly booking of each active plan would create, keep and lose, and why.

    Reads the calendars like booking does and writes nothing: booking's own assessment runs
    inside a savepoint that is rolled back. The weeks are those the next weekly run covers
    (its week and the horizon), assessed as the calendars are now.
    """
    plans = session.scalars(
        select(Plan).where(Plan.user_id == user.id, Plan.active.is_(True)).order_by(Plan.id)
    ).all()
    answers = []
    for plan in plans:
        answers.append(_plan_dry_run(session, user, plan, connectors, now))
    return answers


def _plan_dry_run(
    session: Session, user: User, plan: Plan, connectors: ConnectorFor, now: datetime
) -> PlanDryRun:
    spec = plan_spec(plan)
    zone = plan_zone(spec, user)
    runs_at = next_weekly_run(plan, user, now)
    first = IsoWeek.containing(runs_at or now, zone)
    calendars = user_calendars(session, user)
    target = next(((a, c) for a, c in calendars if c.is_target), None)
    plan_id, goal = plan.id, plan.goal
    weeks: list[DryRunWeek] = []
    blocked: str | None = None
    savepoint = session.begin_nested()
    try:
        for week in horizon_weeks(spec, first):
            assessment = assess_week(session, plan, week, now, connectors)
            moved = {row.slot_key: event for row, event in assessment.moved}
            keep = [
                Interval(row.start, row.end) for row in assessment.kept if row.slot_key not in moved
            ]
            keep += [Interval(event.start, event.end) for event, _ in assessment.adopted]
            lose = [
                Interval(row.start, row.end)
                for row in assessment.lost
                if row.state != BlockState.LOST and row.end > now
            ]
            result = assessment.result
            create = list(result.new_blocks) if target is not None else []
            weeks.append(
                DryRunWeek(
                    week=str(week),
                    create=create,
                    keep=sorted(keep, key=lambda i: i.start),
                    moved=[Interval(e.start, e.end) for e in moved.values()],
                    lose=lose,
                    target_minutes=result.target_minutes,
                    booked_minutes=result.booked_minutes,
                    why=_why(result.shortfall_reason, target is not None, len(create), len(lose)),
                )
            )
    except BookingBlockedError as error:
        blocked, weeks = str(error), []
    except ConnectorError as error:
        blocked, weeks = error_in_words(error), []
    finally:
        savepoint.rollback()  # the dry run leaves no trace, whatever booking noted on the way
    target_name = target[1].name if target is not None else None
    book_only = target is not None and target[0].access_mode == AccessMode.BOOK_ONLY
    return PlanDryRun(
        plan_id=plan_id,
        goal=goal,
        runs_at=runs_at,
        timezone=str(zone),
        target=target_name,
        weeks=weeks,
        blocked=blocked,
        book_only=book_only,
    )

"""Guidance on the way: the next step after sign-up, and why a week has no blocks."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.db.models import (
    Account,
    AccountStatus,
    Block,
    BlockState,
    BookingRun,
    Calendar,
    Plan,
    User,
)
from app.domain.time import IsoWeek, resolve_zone
from app.runtime import Runtime
from app.services.accounts.rows import target_calendar


@dataclass(frozen=True)
class Step:
    title: str
    href: str
    done: bool


def steps(session: Session, user: User) -> list[Step]:
    """Connect a calendar, set the goal and plan, see the blocks (each done or not)."""
    connected = (
        session.scalar(
            select(func.count(Account.id)).where(
                Account.user_id == user.id, Account.status != AccountStatus.DISCONNECTED
            )
        )
        or 0
    )
    plans = session.scalar(select(func.count(Plan.id)).where(Plan.user_id == user.id)) or 0
    booked = (
        session.scalar(
            select(func.count(Block.id))
            .join(Plan, Plan.id == Block.plan_id)
            .where(Plan.user_id == user.id, Block.state == BlockState.BOOKED)
        )
        or 0
    )
    return [
        Step("Connect a calendar (or use the demo calendar)", "/dashboard/accounts", connected > 0),
        Step("Set your goal and plan", "/dashboard/plan", plans > 0),
        Step("See your growth blocks in this week's view", "/dashboard/week", booked > 0),
    ]


def why_nothing_booked(
    session: Session, user: User, plan: Plan | None, week: IsoWeek, now: datetime, zone_key: str
) -> str | None:
    """Why `week` holds no booked block of the plan (None when some are booked)."""
    if plan is None:
        return "Nothing is booked because there is no plan yet: set your goal and plan."
    booked = session.scalar(
        select(func.count(Block.id)).where(
            Block.plan_id == plan.id, Block.week == str(week), Block.state == BlockState.BOOKED
        )
    )
    if booked:
        return None
    if week.end(_zone(zone_key)) <= now:
        return "Nothing was booked in this week."
    if target_calendar(session, user) is None:
        return (
            "Nothing is booked because no calendar is chosen as the target for growth blocks: "
            "connect a calendar on Accounts (or tick “Target for growth blocks”)."
        )
    run = session.scalars(
        select(BookingRun).where(BookingRun.plan_id == plan.id, BookingRun.week == str(week))
    ).first()
    if run is None:
        return (
            "Booking has not run for this week yet. It runs right after you save the plan or "
            "connect a calendar, and every week at the plan's booking time."
        )
    when = run.ran_at.astimezone(_zone(zone_key)).strftime("%a %d %b %H:%M")
    if run.outcome == "blocked":
        return f"Booking stopped on {when}: {run.reason}"
    if run.outcome == "no_target":
        return f"Booking ran on {when} but no calendar was chosen as the target."
    reason = run.reason or "no free time fits the plan this week"
    return (
        f"Booking ran on {when}: {run.booked_minutes} of {run.target_minutes} minutes fit. {reason}"
    )


def _zone(key: str) -> ZoneInfo:
    return resolve_zone(key)


def after_connect(runtime: Runtime, account_id: int) -> None:
    """First sync and push channels, the baseline and a booking run, all off the request."""
    from app import tasks  # tasks import the services; import them late

    with runtime.sessions() as session:
        ids = session.scalars(
            select(Calendar.id).where(
                Calendar.account_id == account_id, Calendar.is_busy_source.is_(True)
            )
        ).all()
        user_id = session.get_one(Account, account_id).user_id
    for calendar_id in ids:
        tasks.enqueue_sync(calendar_id, recreate_watch=True)
    # The baseline (last four weeks) is read live from the calendars.
    tasks.enqueue_baseline(user_id)
    # Plans saved before a calendar was connected can be booked now.
    tasks.enqueue_user_bookings(user_id)

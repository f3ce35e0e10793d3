"""Sync health of a person's calendars, and a dry run of their next booking.

Per calendar: when it last synced, whether the provider pushes changes (and until when) or
GrowthGuard polls it, the last failure in words, and how many events it holds this week.
"Sync now" and "re-read everything" are queued by the router after its commit (a request
never waits on a provider); this module checks the calendar is the person's and may be synced.
The dry run reuses booking's own assessment (`assess_week`), inside a savepoint that is rolled
back, so it writes nothing, not even the notes booking leaves on the way.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.config import Settings
from app.db.models import (
    AccessMode,
    Account,
    AccountStatus,
    BlockState,
    Calendar,
    CalendarEvent,
    Plan,
    User,
)
from app.domain.intervals import Interval
from app.domain.time import IsoWeek, resolve_zone
from app.scheduler import next_weekly_run
from app.services.booking import BookingBlockedError, assess_week, horizon_weeks
from app.services.calendars import get_calendar
from app.services.connections import ConnectorProvider, user_calendars
from app.services.errors import InvalidInputError
from app.services.plans import plan_zone, spec_of
from app.services.sync_errors import error_in_words
from connectors.errors import ConnectorError

# --- the health of each calendar -----------------------------------------------------------


@dataclass(frozen=True)
class CalendarHealth:
    """What the sync-health page and API show for one calendar."""

    calendar_id: int
    calendar_name: str
    account_id: int
    account_name: str
    provider: str
    account_status: str
    access_mode: str
    is_busy_source: bool
    is_target: bool
    last_synced_at: datetime | None
    last_error: str | None
    last_error_at: datetime | None
    push_active: bool
    push_expires_at: datetime | None
    poll_seconds: int | None  # how often it is polled; None when it is not synced at all
    sync_state: str  # one sentence: how this calendar is kept up to date
    events_this_week: int
    can_sync: bool


def _aware(moment: datetime | None) -> datetime | None:
    # SQLite hands back naive UTC datetimes
    if moment is None or moment.tzinfo is not None:
        return moment
    return moment.replace(tzinfo=UTC)


def _every(seconds: int) -> str:
    if seconds % 60 == 0:
        minutes = seconds // 60
        return "every minute" if minutes == 1 else f"every {minutes} min"
    return f"every {seconds} s"


def _state(
    account: Account, calendar: Calendar, settings: Settings, now: datetime
) -> tuple[bool, datetime | None, int | None, str]:
    """(push live, its expiry, poll seconds, the sentence) for one calendar."""
    if calendar.gone_at is not None:
        return False, None, None, "Not synced: the calendar was deleted at the provider."
    if account.status == AccountStatus.DISCONNECTED:
        return False, None, None, "Not synced: the account is disconnected."
    if account.status == AccountStatus.NEEDS_REAUTH:
        return False, None, None, "Paused until the account is reconnected."
    if not calendar.is_busy_source:
        return False, None, None, "Not watched: it does not count as busy (only on request)."
    expires = _aware(calendar.watch_expires_at)
    if settings.push_enabled and expires is not None and expires > now:
        daily = 24 * 3600
        return True, expires, daily, "The provider pushes changes (checked daily as well)."
    seconds = settings.demo_poll_seconds if account.is_demo else settings.poll_interval_seconds
    return False, None, seconds, f"Polling {_every(seconds)}."


def _events_this_week(session: Session, calendar: Calendar, week: Interval) -> int:
    count = session.scalar(
        select(func.count())
        .select_from(CalendarEvent)
        .where(
            CalendarEvent.calendar_id == calendar.id,
            CalendarEvent.end > week.start,
            CalendarEvent.start < week.end,
        )
    )
    return int(count or 0)


def _health(
    session: Session,
    account: Account,
    calendar: Calendar,
    settings: Settings,
    now: datetime,
    week: Interval,
) -> CalendarHealth:
    push_live, expires, poll, sentence = _state(account, calendar, settings, now)
    return CalendarHealth(
        calendar_id=calendar.id,
        calendar_name=calendar.name,
        account_id=account.id,
        account_name=account.display_name,
        provider=account.provider,
        account_status=str(account.status),
        access_mode=str(account.access_mode),
        is_busy_source=calendar.is_busy_source,
        is_target=calendar.is_target,
        last_synced_at=_aware(calendar.last_synced_at),
        last_error=calendar.last_error,
        last_error_at=_aware(calendar.last_error_at),
        push_active=push_live,
        push_expires_at=expires,
        poll_seconds=poll,
        sync_state=sentence,
        events_this_week=_events_this_week(session, calendar, week),
        can_sync=_sync_obstacle(account, calendar) is None,
    )


def this_week(user: User, now: datetime) -> Interval:
    """The person's current ISO week, in their zone."""
    zone = resolve_zone(user.timezone)
    week = IsoWeek.containing(now, zone)
    return Interval(week.start(zone), week.end(zone))


def health_of_user(
    session: Session, user: User, settings: Settings, now: datetime
) -> list[CalendarHealth]:
    """Every calendar of the person, account by account."""
    week = this_week(user, now)
    return [
        _health(session, account, calendar, settings, now, week)
        for account, calendar in user_calendars(session, user)
    ]


def health_of_calendar(
    session: Session, user: User, calendar_id: int, settings: Settings, now: datetime
) -> CalendarHealth:
    """One calendar of the person (NotFoundError for anyone else's)."""
    calendar = get_calendar(session, user, calendar_id)
    account = session.get_one(Account, calendar.account_id)
    return _health(session, account, calendar, settings, now, this_week(user, now))


def _sync_obstacle(account: Account, calendar: Calendar) -> str | None:
    if calendar.gone_at is not None:
        return "this calendar was deleted at the provider"
    if account.status == AccountStatus.DISCONNECTED:
        return "the account is disconnected; connect it again"
    if account.status == AccountStatus.NEEDS_REAUTH:
        return "the account needs to be reconnected first"
    return None


def check_sync_request(session: Session, user: User, calendar_id: int) -> Calendar:
    """The person's calendar, if it can be synced; the router queues the sync after commit."""
    calendar = get_calendar(session, user, calendar_id)
    account = session.get_one(Account, calendar.account_id)
    problem = _sync_obstacle(account, calendar)
    if problem is not None:
        raise InvalidInputError([("calendar_id", problem)])
    return calendar


# --- a dry run of the next booking ---------------------------------------------------------


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
    session: Session, user: User, connectors: ConnectorProvider, now: datetime
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
    session: Session, user: User, plan: Plan, connectors: ConnectorProvider, now: datetime
) -> PlanDryRun:
    spec = spec_of(plan)
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


__all__ = [
    "CalendarHealth",
    "DryRunWeek",
    "PlanDryRun",
    "check_sync_request",
    "dry_run",
    "health_of_calendar",
    "health_of_user",
]

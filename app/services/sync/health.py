"""Sync health of a person's calendars.

Per calendar: when it last synced, whether the provider pushes changes (and until when) or
GrowthGuard polls it, the last failure in words, and how many events it holds this week.
"Sync now" and "re-read everything" are queued by the router (a request never waits on a
provider); this module checks the calendar is the person's and may be synced. Nothing here
calls a provider. The dry run of the next booking is `booking.dry_run`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.config import Settings
from app.db.models import Account, AccountStatus, Calendar, CalendarEvent, User
from app.domain.intervals import Interval
from app.domain.time import IsoWeek, resolve_zone
from app.services.accounts.manage import get_calendar
from app.services.accounts.rows import user_calendars
from app.services.errors import InvalidInputError


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


__all__ = [
    "CalendarHealth",
    "check_sync_request",
    "health_of_calendar",
    "health_of_user",
    "this_week",
]

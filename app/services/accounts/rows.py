"""Account and calendar rows: store them, list them, mark them needing reauth or gone."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.db.models import Account, AccountStatus, Calendar, User
from app.services.notifications import outbox
from connectors.base import CalendarInfo


def add_account(
    session: Session,
    user: User,
    provider: str,
    external_id: str,
    calendars: list[CalendarInfo],
    credentials: bytes | None = None,
) -> Account:
    """Store a connected account and its calendars: primary is the target, all owned are busy."""
    account = Account(
        user_id=user.id,
        provider=provider,
        external_id=external_id,
        display_name=external_id,
        credentials=credentials,
    )
    session.add(account)
    session.flush()
    store_calendars(session, user, account, calendars)
    return account


def store_calendars(
    session: Session, user: User, account: Account, calendars: list[CalendarInfo]
) -> None:
    """Add new calendars (primary is the target if there is none; owned ones are busy)."""
    known = {
        c.provider_calendar_id: c
        for c in session.scalars(select(Calendar).where(Calendar.account_id == account.id))
    }
    for info in calendars:
        row = known.get(info.id)
        if row is None:
            row = Calendar(
                account_id=account.id,
                provider_calendar_id=info.id,
                is_busy_source=info.owned,
                is_target=info.primary and info.can_write and not user_has_target(session, user),
            )
            session.add(row)
            session.flush()
        row.name, row.is_primary, row.timezone = info.name, info.primary, info.timezone


def user_has_target(session: Session, user: User) -> bool:
    return target_calendar(session, user) is not None


def user_calendars(session: Session, user: User) -> list[tuple[Account, Calendar]]:
    """Every calendar of every account of the user, in a stable order."""
    rows = session.execute(
        select(Account, Calendar)
        .join(Calendar, Calendar.account_id == Account.id)
        .where(Account.user_id == user.id)
        .order_by(Account.id, Calendar.id)
    )
    return [(account, calendar) for account, calendar in rows]


def target_calendar(session: Session, user: User) -> tuple[Account, Calendar] | None:
    """Where blocks are written: the first calendar marked as target."""
    for account, calendar in user_calendars(session, user):
        if calendar.is_target:
            return account, calendar
    return None


def mark_needs_reauth(session: Session, account: Account, detail: str) -> None:
    """The grant is gone: say so on the account and tell the person, once per episode."""
    if account.status == AccountStatus.NEEDS_REAUTH:
        return
    account.status = AccountStatus.NEEDS_REAUTH
    account.status_detail = detail
    outbox.record(
        session,
        account.user_id,
        "account.needs_reauth",
        {
            "account_id": account.id,
            "provider": account.provider,
            "account": account.display_name,
            "message": f"GrowthGuard lost access to {account.display_name}; please reconnect it.",
        },
    )


def mark_gone(session: Session, calendar: Calendar, now: datetime) -> bool:
    """The provider says the calendar no longer exists: stop using it and tell the person once.

    It stops being a busy source and the target (booking would fail on it forever otherwise);
    True the first time.
    """
    if calendar.gone_at is not None:
        return False
    account = session.get_one(Account, calendar.account_id)
    was_target = calendar.is_target
    calendar.gone_at = now
    calendar.is_busy_source = calendar.is_target = False
    calendar.sync_cursor = None
    calendar.watch_id = calendar.watch_resource_id = calendar.watch_secret_hash = None
    calendar.watch_expires_at = None
    name = calendar.name or calendar.provider_calendar_id
    message = f"The calendar '{name}' of {account.display_name} was deleted at the provider; "
    message += (
        "choose another calendar for growth blocks on the Accounts page."
        if was_target
        else "GrowthGuard no longer reads it."
    )
    outbox.record(
        session,
        account.user_id,
        "calendar.gone",
        {"account_id": account.id, "calendar_id": calendar.id, "message": message},
        dedupe_key=f"calendar.gone:{calendar.id}",
    )
    session.flush()
    return True

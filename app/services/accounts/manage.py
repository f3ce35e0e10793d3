"""The person's accounts and calendars: list, change roles, disconnect."""

from __future__ import annotations

import logging

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.db.models import Account, AccountStatus, Calendar, User
from app.providers import Providers
from app.security import CredentialCipher
from app.services.accounts.live import ConnectorFor
from app.services.errors import InvalidInputError, NotFoundError
from app.services.sync import watches
from connectors.errors import ConnectorError, ReauthRequired

log = logging.getLogger(__name__)


def accounts_of(session: Session, user: User) -> list[tuple[Account, list[Calendar]]]:
    """The user's accounts with their calendars."""
    accounts = session.scalars(
        select(Account).where(Account.user_id == user.id).order_by(Account.id)
    ).all()
    result = []
    for account in accounts:
        calendars = session.scalars(
            select(Calendar).where(Calendar.account_id == account.id).order_by(Calendar.id)
        ).all()
        result.append((account, list(calendars)))
    return result


def get_account(session: Session, user: User, account_id: int) -> Account:
    account = session.get(Account, account_id)
    if account is None or account.user_id != user.id:
        raise NotFoundError("account")
    return account


def get_calendar(session: Session, user: User, calendar_id: int) -> Calendar:
    calendar = session.get(Calendar, calendar_id)
    account = session.get(Account, calendar.account_id) if calendar is not None else None
    if calendar is None or account is None or account.user_id != user.id:
        raise NotFoundError("calendar")  # the same answer whether it exists or not
    return calendar


def set_roles(
    session: Session,
    user: User,
    calendar_id: int,
    *,
    busy_source: bool | None,
    target: bool | None,
) -> Calendar:
    """Change a calendar's roles; there is one target, so choosing one un-targets the rest."""
    calendar = get_calendar(session, user, calendar_id)
    account = session.get_one(Account, calendar.account_id)
    if (busy_source or target) and account.status == AccountStatus.DISCONNECTED:
        raise InvalidInputError([("is_busy_source", "the account is disconnected; reconnect it")])
    if busy_source is not None:
        calendar.is_busy_source = busy_source
    if target:
        for _, calendars in accounts_of(session, user):
            for other in calendars:
                other.is_target = other.id == calendar.id
    elif target is False:
        calendar.is_target = False
    session.flush()
    return calendar


def disconnect(
    session: Session,
    user: User,
    account_id: int,
    *,
    cipher: CredentialCipher,
    providers: Providers,
    connectors: ConnectorFor,
) -> Account:
    """Stop push, revoke the grant at the provider and delete the stored credential."""
    account = get_account(session, user, account_id)
    calendars = session.scalars(select(Calendar).where(Calendar.account_id == account.id)).all()
    if account.credentials is not None:
        for calendar in calendars:
            watches.drop_watch(session, calendar, connectors)
        blob = cipher.decrypt(account.credentials)
        entry = providers.entry(account.provider)
        try:
            if entry is not None:
                entry.revoke(blob)
        except ConnectorError:
            # The credential is deleted either way; the person can also revoke it themselves.
            log.warning("revoking the grant of account %s failed", account.id)
    account.credentials = None
    account.status, account.status_detail = AccountStatus.DISCONNECTED, ""
    for calendar in calendars:
        calendar.is_busy_source = calendar.is_target = False
        calendar.sync_cursor = None
    session.flush()
    return account


def check(
    session: Session,
    user: User,
    account_id: int,
    *,
    cipher: CredentialCipher,
    providers: Providers,
    connectors: ConnectorFor,
) -> Account:
    """Check the account still works: the provider's refresh, then listing its calendars."""
    account = get_account(session, user, account_id)
    if account.status == AccountStatus.DISCONNECTED:
        raise InvalidInputError([("account", "this account is disconnected; connect it again")])
    entry = providers.entry(account.provider)
    try:
        if entry is not None and account.credentials is not None:
            account.credentials = cipher.encrypt(entry.refresh(cipher.decrypt(account.credentials)))
        connectors(account).list_calendars()
    except ReauthRequired as error:
        account.status, account.status_detail = AccountStatus.NEEDS_REAUTH, str(error)
    except ConnectorError as error:
        account.status, account.status_detail = AccountStatus.ERROR, str(error)
    else:
        account.status, account.status_detail = AccountStatus.OK, ""
    session.flush()
    return account

"""Connecting calendar accounts: OAuth redirects or credentials forms, sign-in by verified email.

Every provider-specific step is the provider's registry entry (`app.providers`); this module
only stores what the entry returns.
"""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from app.db.models import AccessMode, Account, AccountStatus, Calendar, OAuthState, User
from app.db.session import transaction
from app.providers import Providers
from app.security import CredentialCipher, hash_token, same_secret
from app.services.accounts.live import ConnectorFor
from app.services.accounts.rows import store_calendars
from app.services.people import identity
from connectors.errors import ConnectorError, TransientError
from connectors.registry import ConnectKind, ConnectRefused, Grant, MissingPermissions

STATE_TTL = timedelta(minutes=10)
MAX_ID_LENGTH = 320  # subjects, account keys, emails and names are stored in 320 characters


class ConnectRejectedError(Exception):
    """The connect attempt cannot be accepted; the message is safe to show.

    `field` names the form field the message belongs next to, when there is one.
    """

    def __init__(self, message: str, field: str | None = None) -> None:
        self.field = field
        super().__init__(message)


class MissingPermissionsError(ConnectRejectedError):
    """The person did not grant everything GrowthGuard needs (granular consent)."""

    def __init__(self, provider: str, missing: list[str]) -> None:
        self.provider = provider
        self.missing = missing
        super().__init__(f"{provider} did not grant: {', '.join(missing)}")


@dataclass(frozen=True)
class Connected:
    """The result of a completed connect: who is signed in, and which account was linked."""

    user_id: int
    account_id: int
    created_user: bool


def label_of(providers: Providers, provider: str) -> str:
    """The provider's name for people ("Google Calendar"); the raw name if unknown."""
    entry = providers.entry(provider)
    return entry.label if entry is not None else provider


def begin_connect(
    session: Session,
    cipher: CredentialCipher,
    providers: Providers,
    provider: str,
    browser_id: str,
    now: datetime,
    mode: str = AccessMode.FULL,
) -> str:
    """Start an authorization in access `mode` (full, or book only where the provider offers
    it); the state, PKCE secrets and mode stay server-side. Returns the URL."""
    entry = providers.entry(provider)
    if entry is None or entry.kind is not ConnectKind.OAUTH or entry.begin is None:
        raise ConnectRejectedError(f"{provider} is not configured on this server")
    offered = {m.name for m in entry.access_modes} or {AccessMode.FULL.value}
    if mode not in offered:
        choices = ", ".join(sorted(offered))
        raise ConnectRejectedError(f"mode: {entry.label} offers {choices}", "mode")
    try:
        start = entry.begin(mode)
    except ConnectorError as error:
        raise ConnectRejectedError(f"{entry.label} cannot be reached: {error}") from None
    session.add(
        OAuthState(
            state=start.state,
            provider=provider,
            browser_hash=hash_token(browser_id),
            payload=cipher.encrypt(json.dumps(start.secrets).encode()),
            expires_at=now + STATE_TTL,
        )
    )
    session.flush()
    return start.url


def consume_state(
    sessions: sessionmaker[Session],
    cipher: CredentialCipher,
    provider: str,
    state: str,
    browser_id: str | None,
    now: datetime,
) -> dict[str, Any]:
    """Mark a state used (in its own committed transaction) and return its secrets.

    One-time even if the rest of the callback fails; a replayed, foreign, expired or
    unknown state is rejected.
    """
    with transaction(sessions) as session:
        row = session.get(OAuthState, state) if state else None
        if row is None or row.provider != provider:
            raise ConnectRejectedError("unknown sign-in attempt; please start again")
        if row.used_at is not None:
            raise ConnectRejectedError("this sign-in link was already used; please start again")
        if row.expires_at <= now:
            raise ConnectRejectedError("the sign-in attempt expired; please start again")
        if browser_id is None or not same_secret(row.browser_hash, hash_token(browser_id)):
            raise ConnectRejectedError("this sign-in was started in another browser")
        row.used_at = now
        payload: dict[str, Any] = json.loads(cipher.decrypt(row.payload))
        return payload


def complete_connect(
    session: Session,
    *,
    cipher: CredentialCipher,
    providers: Providers,
    connectors: ConnectorFor,
    provider: str,
    secrets_: dict[str, Any],
    params: dict[str, str],
    default_timezone: str,
    signed_in_user_id: int | None = None,
    now: datetime | None = None,
) -> Connected:
    """Finish an OAuth connect and store the account.

    Who signs in (or is linked) is decided by `identity.resolve`: by the provider's subject,
    by email only when both sides proved it. IdentityRejectedError is a ConnectRejectedError.
    """
    entry = providers.entry(provider)
    if entry is None or entry.kind is not ConnectKind.OAUTH:
        raise ConnectRejectedError(f"{provider} is not configured on this server")
    grant = _finish(providers, provider, secrets_, params)
    if entry.requires_verified_email and not grant.email_verified:
        raise ConnectRejectedError(f"{entry.label} has not verified this account's email address")
    signed_in = session.get(User, signed_in_user_id) if signed_in_user_id is not None else None
    if signed_in is None and not entry.sign_in:
        raise ConnectRejectedError(f"sign in first, then connect your {entry.label}")
    user, created = _identify(
        session,
        entry.label,
        provider,
        grant,
        signed_in=signed_in,
        default_timezone=default_timezone,
        now=now or datetime.now(UTC),
    )
    account = store_grant(session, cipher, connectors, user, provider, grant)
    if created:
        zones = [c.timezone for c in _calendars_of(session, account) if c.is_primary]
        if zones and zones[0]:
            user.timezone = zones[0]  # a better default than the server's zone
    return Connected(user_id=user.id, account_id=account.id, created_user=created)


def connect_with_form(
    session: Session,
    *,
    cipher: CredentialCipher,
    providers: Providers,
    connectors: ConnectorFor,
    provider: str,
    fields: dict[str, str],
    user: User,
    now: datetime | None = None,
) -> Connected:
    """Connect an account from a credentials form (e.g. CalDAV) for the signed-in person."""
    entry = providers.entry(provider)
    if entry is None or entry.kind is not ConnectKind.CREDENTIALS:
        raise ConnectRejectedError(f"{provider} is not offered on this server")
    grant = _finish(providers, provider, {"email": user.email}, fields)
    account = link_grant(
        session, cipher, connectors, user, provider, grant, label=entry.label, now=now
    )
    return Connected(user_id=user.id, account_id=account.id, created_user=False)


def link_grant(
    session: Session,
    cipher: CredentialCipher,
    connectors: ConnectorFor,
    user: User,
    provider: str,
    grant: Grant,
    *,
    label: str,
    now: datetime | None = None,
) -> Account:
    """Link `grant` to the signed-in `user` (explicit linking) and store the account.

    The grant's subject becomes the user's identity at the provider; a subject already linked
    to someone else is refused, so nobody can attach another person's account to their own
    user (or theirs to another's).
    """
    _identify(
        session,
        label,
        provider,
        grant,
        signed_in=user,
        default_timezone=user.timezone,
        now=now or datetime.now(UTC),
    )
    return store_grant(session, cipher, connectors, user, provider, grant)


def _identify(
    session: Session,
    label: str,
    provider: str,
    grant: Grant,
    *,
    signed_in: User | None,
    default_timezone: str,
    now: datetime,
) -> tuple[User, bool]:
    """Who this grant belongs to, by `identity.resolve` (subject first, proven emails only)."""
    if max(len(grant.subject), len(grant.account_key), len(grant.email)) > MAX_ID_LENGTH:
        # A server chooses these (a CalDAV principal URL): refuse what cannot be stored.
        raise ConnectRejectedError(
            f"{label} gave an account id or address longer than {MAX_ID_LENGTH} characters"
        )
    try:
        who = identity.resolve(
            session,
            provider=provider,
            label=label,
            subject=grant.subject,
            email=grant.email,
            email_verified=grant.email_verified,
            signed_in=signed_in,
            default_timezone=default_timezone,
            now=now,
        )
    except identity.IdentityRejectedError as error:
        raise ConnectRejectedError(str(error)) from None
    return who.user, who.created


def _finish(
    providers: Providers, provider: str, context: dict[str, Any], params: dict[str, str]
) -> Grant:
    entry = providers.entry(provider)
    assert entry is not None
    try:
        return entry.finish(context, params)
    except MissingPermissions as error:
        raise MissingPermissionsError(provider, list(error.missing)) from None
    except ConnectRefused as error:
        raise ConnectRejectedError(str(error), error.field) from None
    except ConnectorError as error:
        raise ConnectRejectedError(f"{entry.label}: {error}") from None


def store_grant(
    session: Session,
    cipher: CredentialCipher,
    connectors: ConnectorFor,
    user: User,
    provider: str,
    grant: Grant,
) -> Account:
    """Store (or update) the person's account for `grant` and list its calendars.

    The caller has decided that `user` owns the grant (`link_grant`, or the sign-in above).
    """
    account = session.scalars(
        select(Account).where(
            Account.user_id == user.id,
            Account.provider == provider,
            Account.external_id == grant.account_key,
        )
    ).first()
    if account is None:
        account = Account(user_id=user.id, provider=provider, external_id=grant.account_key)
        session.add(account)
    account.display_name = grant.display_name[:MAX_ID_LENGTH]
    account.access_mode = AccessMode(grant.access_mode)
    account.provider_account_id = grant.subject
    account.credentials = cipher.encrypt(grant.credentials)
    account.status, account.status_detail = AccountStatus.OK, ""
    session.flush()
    try:
        calendars = connectors(account).list_calendars()
    except TransientError:
        raise  # the provider is down or throttling: answered 503 + Retry-After ("try again")
    except ConnectorError as error:
        raise ConnectRejectedError(f"the calendars could not be listed: {error}") from None
    store_calendars(session, user, account, calendars)
    return account


def _calendars_of(session: Session, account: Account) -> list[Calendar]:
    return list(session.scalars(select(Calendar).where(Calendar.account_id == account.id)))


def new_browser_id() -> str:
    """A random id for the browser that starts a sign-in (kept in an HttpOnly cookie)."""
    return secrets.token_urlsafe(32)

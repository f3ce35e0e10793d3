"""Connecting calendar accounts: the OAuth dance, sign-in by verified email, disconnecting."""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from app.db.models import Account, AccountStatus, OAuthState, User
from app.db.session import transaction
from app.providers import Providers
from app.security import CredentialCipher, hash_token, same_secret
from app.services import identity
from app.services.connections import ConnectorProvider, store_calendars
from connectors.errors import ConnectorError
from connectors.google import oauth as google_oauth
from connectors.microsoft import oauth as microsoft_oauth

STATE_TTL = timedelta(minutes=10)


class ConnectRejectedError(Exception):
    """The authorization response cannot be accepted; the message is safe to show."""


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


@dataclass(frozen=True)
class _Grant:
    credentials: bytes
    email: str
    provider_account_id: str
    subject: str = ""  # the provider's stable id of the person (see app/services/identity.py)
    email_verified: bool = False


def begin_connect(
    session: Session,
    cipher: CredentialCipher,
    providers: Providers,
    provider: str,
    browser_id: str,
    now: datetime,
) -> str:
    """Start an authorization; the state and PKCE secrets stay server-side. Returns the URL."""
    if provider == "google" and providers.google is not None:
        start = google_oauth.start_authorization(providers.google)
        state, url = start.state, start.url
        payload = json.dumps({"code_verifier": start.code_verifier})
    elif provider == "microsoft" and providers.microsoft is not None:
        flow = microsoft_oauth.start_authorization(providers.microsoft)
        state, url = str(flow["state"]), str(flow["auth_uri"])
        payload = json.dumps(flow)
    else:
        raise ConnectRejectedError(f"{provider} is not configured on this server")
    session.add(
        OAuthState(
            state=state,
            provider=provider,
            browser_hash=hash_token(browser_id),
            payload=cipher.encrypt(payload.encode()),
            expires_at=now + STATE_TTL,
        )
    )
    session.flush()
    return url


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
    connectors: ConnectorProvider,
    provider: str,
    secrets_: dict[str, Any],
    params: dict[str, str],
    default_timezone: str,
    signed_in_user_id: int | None = None,
    now: datetime | None = None,
) -> Connected:
    """Exchange the code and store the account.

    Who signs in (or is linked) is decided by `identity.resolve`: by the provider's subject,
    by email only when both sides proved it. IdentityRejectedError is a ConnectRejectedError.
    """
    if "error" in params:
        said = params.get("error_description") or params["error"]
        raise ConnectRejectedError(f"{provider} said: {said}")
    grant = _exchange(providers, provider, secrets_, params)
    signed_in = session.get(User, signed_in_user_id) if signed_in_user_id is not None else None
    try:
        who = identity.resolve(
            session,
            provider=provider,
            subject=grant.subject,
            email=grant.email,
            email_verified=grant.email_verified,
            signed_in=signed_in,
            default_timezone=default_timezone,
            now=now or datetime.now(UTC),
        )
    except identity.IdentityRejectedError as error:
        raise ConnectRejectedError(str(error)) from None
    user, created = who.user, who.created
    account = session.scalars(
        select(Account).where(
            Account.user_id == user.id,
            Account.provider == provider,
            Account.external_id == grant.email,
        )
    ).first()
    if account is None:
        account = Account(user_id=user.id, provider=provider, external_id=grant.email)
        session.add(account)
    account.display_name = grant.email
    account.provider_account_id = grant.provider_account_id
    account.credentials = cipher.encrypt(grant.credentials)
    account.status, account.status_detail = AccountStatus.OK, ""
    session.flush()
    calendars = connectors(account).list_calendars()
    store_calendars(session, user, account, calendars)
    if created:
        primary = next((c for c in calendars if c.primary and c.timezone), None)
        if primary is not None and primary.timezone:
            user.timezone = primary.timezone  # a better default than the server's zone
    return Connected(user_id=user.id, account_id=account.id, created_user=created)


def _exchange(
    providers: Providers, provider: str, secrets_: dict[str, Any], params: dict[str, str]
) -> _Grant:
    try:
        if provider == "google" and providers.google is not None:
            grant = google_oauth.finish_authorization(
                providers.google,
                state=params.get("state", ""),
                code_verifier=str(secrets_["code_verifier"]),
                code=params.get("code", ""),
                granted_scope=params.get("scope"),
            )
            return _Grant(
                grant.credentials,
                grant.email.lower(),
                grant.subject,
                subject=grant.subject,
                email_verified=grant.email_verified,
            )
        if provider == "microsoft" and providers.microsoft is not None:
            ms = microsoft_oauth.finish_authorization(providers.microsoft, secrets_, params)
            return _Grant(
                ms.token_cache,
                ms.email.lower(),
                ms.home_account_id,
                subject=ms.subject,
                email_verified=ms.email_verified,
            )
    except google_oauth.MissingScopes as error:
        raise MissingPermissionsError(provider, list(error.missing)) from None
    except ConnectorError as error:
        raise ConnectRejectedError(f"{provider} sign-in failed: {error}") from None
    raise ConnectRejectedError(f"{provider} is not configured on this server")


def new_browser_id() -> str:
    """A random id for the browser that starts a sign-in (kept in an HttpOnly cookie)."""
    return secrets.token_urlsafe(32)

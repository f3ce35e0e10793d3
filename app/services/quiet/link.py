"""Connecting Slack for quiet mode, turning it on and off, disconnecting."""

from __future__ import annotations

import contextlib
import json
import secrets
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from app.config import Settings
from app.db.models import OAuthState, User
from app.db.quiet_models import QuietPeriod, QuietState, SlackLink, SlackStatus
from app.security import CredentialCipher, hash_token
from app.services.accounts.connect import STATE_TTL, ConnectRejectedError, consume_state
from app.services.errors import ConflictError, NotFoundError
from app.services.quiet.slack import ChatApi, ChatFactory, slack_app
from connectors.errors import ConnectorError, TransientError
from connectors.slack.oauth import GrantRefused, authorize_url, exchange

STATE_KIND = "slack"  # OAuthState.provider of a Slack connect (not a calendar provider)


@dataclass(frozen=True)
class QuietView:
    """What the settings section shows."""

    configured: bool
    connected: bool
    enabled: bool
    team: str
    status: str
    detail: str
    quiet_until: datetime | None


def link_of(session: Session, user_id: int) -> SlackLink | None:
    return session.scalars(select(SlackLink).where(SlackLink.user_id == user_id)).first()


def view(session: Session, settings: Settings, user: User, now: datetime) -> QuietView:
    """The person's Slack connection and quiet mode, for the page and the API."""
    link = link_of(session, user.id)
    period = session.scalars(
        select(QuietPeriod).where(
            QuietPeriod.user_id == user.id,
            QuietPeriod.state != QuietState.DONE,
            QuietPeriod.ends_at > now,
        )
    ).first()
    return QuietView(
        configured=settings.slack_enabled,
        connected=link is not None,
        enabled=bool(link and link.quiet_enabled),
        team=link.team_name if link else "",
        status=str(link.status) if link else "",
        detail=link.status_detail if link else "",
        quiet_until=period.ends_at if period is not None else None,
    )


def token_of(cipher: CredentialCipher, link: SlackLink) -> str:
    """The user token, decrypted for one call."""
    return str(json.loads(cipher.decrypt(link.credentials))["access_token"])


def begin_connect(
    session: Session,
    cipher: CredentialCipher,
    settings: Settings,
    user: User,
    browser_id: str,
    now: datetime,
) -> str:
    """Start the OAuth v2 connect: a one-time state bound to this browser and person.
    Returns Slack's consent URL."""
    app = slack_app(settings)
    if app is None:
        raise ConflictError("Slack is not configured on this server")
    state = secrets.token_urlsafe(32)
    session.add(
        OAuthState(
            state=state,
            provider=STATE_KIND,
            browser_hash=hash_token(browser_id),
            payload=cipher.encrypt(json.dumps({"user_id": user.id}).encode()),
            expires_at=now + STATE_TTL,
        )
    )
    session.flush()
    return authorize_url(app, state)


def finish_connect(
    sessions: sessionmaker[Session],
    session: Session,
    cipher: CredentialCipher,
    settings: Settings,
    user: User,
    params: dict[str, str],
    browser_id: str | None,
    now: datetime,
) -> SlackLink:
    """Slack sent the browser back: check the state, trade the code, keep the token
    encrypted. ConnectRejectedError says why not, in words for the person."""
    app = slack_app(settings)
    if app is None:
        raise ConnectRejectedError("Slack is not configured on this server")
    started = consume_state(sessions, cipher, STATE_KIND, params.get("state", ""), browser_id, now)
    if started.get("user_id") != user.id:
        raise ConnectRejectedError("this Slack connection was started by someone else")
    if params.get("error"):
        raise ConnectRejectedError("Slack was not connected: the request was not approved")
    try:
        grant = exchange(app, params.get("code", "")[:512])
    except GrantRefused as error:
        raise ConnectRejectedError(str(error)) from None
    except TransientError:
        raise ConnectRejectedError("Slack cannot be reached right now; please try again") from None
    link = link_of(session, user.id)
    if link is None:
        link = SlackLink(user_id=user.id, quiet_enabled=True)
        session.add(link)
    link.team_id, link.team_name = grant.team_id, grant.team_name
    link.slack_user_id = grant.user_id
    link.credentials = cipher.encrypt(json.dumps({"access_token": grant.token}).encode())
    link.scopes = ",".join(sorted(grant.scopes))[:500]
    link.status, link.status_detail = SlackStatus.OK, ""
    link.failures, link.retry_at = 0, None
    session.flush()
    return link


def set_quiet(session: Session, user: User, enabled: bool) -> SlackLink:
    """Turn quiet mode on or off; off ends a running quiet period at the next sweep."""
    link = link_of(session, user.id)
    if link is None:
        raise NotFoundError("Slack connection")
    link.quiet_enabled = enabled
    return link


def disconnect(
    session: Session,
    cipher: CredentialCipher,
    chat_for: ChatFactory,
    user: User,
    now: datetime,
) -> None:
    """Put back what a running quiet period changed (best effort), give the token back and
    forget it."""
    from app.services.quiet.periods import end_period  # periods imports this module

    link = link_of(session, user.id)
    if link is None:
        raise NotFoundError("Slack connection")
    try:
        chat: ChatApi | None = chat_for(token_of(cipher, link))
    except ValueError:  # encrypted with a key no longer configured: nothing to call Slack with
        chat = None
    for period in session.scalars(
        select(QuietPeriod).where(
            QuietPeriod.user_id == user.id, QuietPeriod.state != QuietState.DONE
        )
    ):
        try:
            if chat is None:
                raise ConnectorError("no usable token")
            end_period(chat, period, now)
        except ConnectorError:
            period.state, period.outcome, period.ended_at = QuietState.DONE, "disconnected", now
    if chat is not None:
        with contextlib.suppress(ConnectorError):  # the token is forgotten either way
            chat.revoke()
    session.delete(link)

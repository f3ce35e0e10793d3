"""Notification channels: where a person's notifications go besides the in-app list."""

from __future__ import annotations

import secrets
from urllib.parse import urlsplit

from email_validator import EmailNotValidError, validate_email
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.db.models import NotificationChannel
from app.security import CredentialCipher
from app.services.errors import InvalidInputError, NotFoundError

KINDS = ("email", "slack", "webhook")
# Plain http only reaches this machine (tests, a receiver on the same host); anything that
# crosses a network must be https, or the payload and signature travel in the clear.
LOCAL_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})
MAX_TARGET = 2048


def create_channel(
    session: Session, cipher: CredentialCipher, user_id: int, kind: str, target: str
) -> tuple[NotificationChannel, str | None]:
    """Add a channel; for a webhook, also return its signing secret (shown this once only)."""
    if kind not in KINDS:
        raise InvalidInputError([("kind", f"must be one of {', '.join(KINDS)}")])
    target = _valid_email(target) if kind == "email" else _valid_url(target)
    secret: str | None = None
    channel = NotificationChannel(user_id=user_id, kind=kind, target=target, active=True)
    if kind == "webhook":
        secret = "ggwh_" + secrets.token_urlsafe(32)
        channel.secret = cipher.encrypt(secret.encode())
    session.add(channel)
    session.flush()
    return channel, secret


def list_channels(session: Session, user_id: int) -> list[NotificationChannel]:
    """The user's channels, oldest first."""
    return list(
        session.scalars(
            select(NotificationChannel)
            .where(NotificationChannel.user_id == user_id)
            .order_by(NotificationChannel.id)
        )
    )


def get_channel(session: Session, user_id: int, channel_id: int) -> NotificationChannel:
    """One of the user's channels; NotFoundError for missing ones and other people's alike."""
    channel = session.get(NotificationChannel, channel_id)
    if channel is None or channel.user_id != user_id:
        raise NotFoundError("channel")
    return channel


def delete_channel(session: Session, user_id: int, channel_id: int) -> None:
    """Remove a channel; its pending deliveries go with it (ON DELETE CASCADE)."""
    session.delete(get_channel(session, user_id, channel_id))
    session.flush()


def webhook_secret(cipher: CredentialCipher, channel: NotificationChannel) -> bytes:
    """The HMAC key of a generic webhook (the UTF-8 bytes of the secret shown at creation)."""
    if channel.secret is None:
        raise ValueError("the webhook channel has no signing secret")
    return cipher.decrypt(channel.secret)


def _valid_email(target: str) -> str:
    try:
        # No DNS lookup: creating a channel must not depend on the network.
        return validate_email(target.strip(), check_deliverability=False).normalized
    except EmailNotValidError as error:
        raise InvalidInputError([("target", f"not a valid email address: {error}")]) from None


def _valid_url(target: str) -> str:
    target = target.strip()
    problem = _url_problem(target)
    if problem:
        raise InvalidInputError([("target", problem)])
    return target


def _url_problem(target: str) -> str:
    if len(target) > MAX_TARGET:
        return f"must be at most {MAX_TARGET} characters"
    try:
        parts = urlsplit(target)
        parts.port  # noqa: B018 - raises ValueError on a malformed port
    except ValueError:
        return "not a valid URL"
    if parts.scheme not in ("https", "http") or not parts.hostname:
        return "must be an https:// URL"
    if parts.scheme == "http" and parts.hostname not in LOCAL_HOSTS:
        return "must use https (plain http is allowed only for localhost)"
    if parts.username is not None or parts.password is not None:
        # Targets are stored and listed in plain text; authenticate with the signature instead.
        return "must not contain a user name or password"
    return ""

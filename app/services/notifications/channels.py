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
from app.services.notifications import egress

CHANNEL_KINDS = ("email", "slack", "webhook")
# Plain http only reaches this machine (tests, a receiver on the same host); anything that
# crosses a network must be https, or the payload and signature travel in the clear.
LOCAL_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})
MAX_TARGET = 2048


def create_channel(
    session: Session,
    cipher: CredentialCipher,
    user_id: int,
    kind: str,
    target: str,
    *,
    allow_loopback: bool = False,
    resolve: egress.Resolver = egress.system_resolver,
) -> tuple[NotificationChannel, str | None]:
    """Add a channel; for a webhook, also return its signing secret (shown this once only).

    The target is stored encrypted (a Slack URL is a credential); `target` keeps only what the
    person recognises it by. URLs must point at public hosts (checked again at each send).
    """
    if kind not in CHANNEL_KINDS:
        raise InvalidInputError([("kind", f"must be one of {', '.join(CHANNEL_KINDS)}")])
    if kind == "email":
        target = _valid_email(target)
    else:
        target = _valid_url(target, allow_loopback, resolve)
    secret: str | None = None
    channel = NotificationChannel(
        user_id=user_id,
        kind=kind,
        target=display_target(kind, target),
        target_secret=cipher.encrypt(target.encode()),
        active=True,
    )
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


def display_target(kind: str, target: str) -> str:
    """What a list shows: the address, or a URL's scheme and host (the rest may be a secret)."""
    if kind == "email":
        return target
    parts = urlsplit(target)
    return f"{parts.scheme}://{parts.netloc.rpartition('@')[2]}/…"


def channel_target(cipher: CredentialCipher, channel: NotificationChannel) -> str:
    """The full address or URL to deliver to."""
    if channel.target_secret is None:  # a row from before 0007 not encrypted yet
        return channel.target
    return cipher.decrypt(channel.target_secret).decode()


def encrypt_plaintext_targets(session: Session, cipher: CredentialCipher) -> int:
    """Encrypt targets stored in plain text before revision 0007; returns how many."""
    rows = session.scalars(
        select(NotificationChannel).where(NotificationChannel.target_secret.is_(None))
    ).all()
    for channel in rows:
        channel.target_secret = cipher.encrypt(channel.target.encode())
        channel.target = display_target(channel.kind, channel.target)
    session.flush()
    return len(rows)


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


def _valid_url(target: str, allow_loopback: bool, resolve: egress.Resolver) -> str:
    target = target.strip()
    problem = _url_problem(target, allow_loopback)
    if not problem:
        try:
            # A name that does not resolve now is accepted; every send checks again.
            egress.check_url(
                target, allow_loopback=allow_loopback, resolve=resolve, must_resolve=False
            )
        except egress.EgressRefusedError as error:
            problem = str(error)
    if problem:
        raise InvalidInputError([("target", problem)])
    return target


# One answer for every address a channel cannot use, whatever is wrong with it.
UNSUPPORTED_URL = "use a full https:// address, e.g. https://hooks.example.org/growthguard"


def _url_problem(target: str, allow_loopback: bool) -> str:
    if len(target) > MAX_TARGET:
        return f"must be at most {MAX_TARGET} characters"
    try:
        parts = urlsplit(target)
        parts.port  # noqa: B018 - raises ValueError on a malformed port
    except ValueError:
        return UNSUPPORTED_URL
    if parts.scheme not in ("https", "http") or not parts.hostname:
        return UNSUPPORTED_URL
    if parts.scheme == "http" and (parts.hostname not in LOCAL_HOSTS or not allow_loopback):
        return UNSUPPORTED_URL
    if parts.username is not None or parts.password is not None:
        # Targets are stored and listed in plain text; authenticate with the signature instead.
        return "must not contain a user name or password"
    return ""

"""Delivering the notifications outbox to email, Slack and generic webhook channels.

`fan_out` turns each pending notification into one delivery per active channel; `deliver_due`
attempts the deliveries that are due. A failed delivery only reschedules itself: the decision
that caused the notification was committed long before and is never touched here.
"""

from __future__ import annotations

import logging
import random
import re
import secrets
import smtplib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

import httpx
from sqlalchemy import exists, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from app.db.models import (
    Notification,
    NotificationChannel,
    NotificationDelivery,
    NotificationStatus,
)
from app.security import CredentialCipher
from app.services.notifications.channels import channel_target, get_channel, webhook_secret
from app.services.notifications.messages import (
    TEST_MESSAGE,
    Message,
    email_content,
    slack_body,
    webhook_request,
)

# re-exported: callers configure delivery through here
from app.services.notifications.senders import (
    DeliveryError,
    Senders,
    SmtpSettings,
    default_senders,
)

__all__ = [
    "DeliveryError",
    "DeliveryReport",
    "Senders",
    "SmtpSettings",
    "backoff",
    "default_senders",
    "deliver_due",
    "fan_out",
    "send_test",
    "why_test_failed",
]

log = logging.getLogger(__name__)

PENDING, SENT, FAILED = "pending", "sent", "failed"
MAX_ATTEMPTS = 8
BASE_DELAY = timedelta(minutes=1)
MAX_DELAY = timedelta(hours=1)
TIMEOUT_SECONDS = 10.0
MAX_ERROR_CHARS = 500
USER_AGENT = "GrowthGuard-Notifier"
_URL = re.compile(r"(https?://)[^\s'\"]+")
# Long opaque strings (signatures, tokens) never belong in a stored error text.
_OPAQUE = re.compile(r"[A-Za-z0-9_\-+/=]{32,}")


@dataclass
class DeliveryReport:
    sent: int = 0
    retrying: int = 0
    failed: int = 0


def _send(
    channel: NotificationChannel,
    message: Message,
    delivery_ref: str,
    senders: Senders,
    cipher: CredentialCipher,
) -> None:
    target = channel_target(cipher, channel)
    if channel.kind == "email":
        subject, text = email_content(message)
        senders.email(target, subject, text)
    elif channel.kind == "slack":
        senders.post_json(target, slack_body(message), {"Content-Type": "application/json"})
    elif channel.kind == "webhook":
        secret = webhook_secret(cipher, channel)
        body, headers = webhook_request(message, secret, delivery_ref)
        senders.post_json(target, body, headers)
    else:
        raise DeliveryError(f"unknown channel kind {channel.kind!r}")


# Failures of the channel's far end (network, SMTP, HTTP status): worth trying again later.
# Anything else is a bug on our side: retrying it only hides it, so it fails at once.
RETRYABLE = (DeliveryError, OSError, smtplib.SMTPException, httpx.HTTPError)


def redacted_error(error: Exception, channel: NotificationChannel, target: str = "") -> str:
    """A storable error text with the message kept: no URL (a Slack URL is a credential)
    and no long opaque strings (signatures, tokens), bounded length."""
    text = f"{type(error).__name__}: {error}"
    if channel.kind != "email" and target:
        text = text.replace(target, "[url]")
    text = _OPAQUE.sub("[redacted]", _URL.sub(r"\1[url]", text))
    return text[:MAX_ERROR_CHARS]


def _target_or_blank(cipher: CredentialCipher, channel: NotificationChannel) -> str:
    try:
        return channel_target(cipher, channel)
    except ValueError:
        return ""


# --- the outbox ---------------------------------------------------------------------------


def backoff(attempts: int, jitter: Callable[[], float] = random.random) -> timedelta:
    """Delay after the n-th failure: 1, 2, 4, 8... minutes capped at 1 h, minus up to 25 %."""
    base = min(BASE_DELAY * (1 << min(max(attempts - 1, 0), 12)), MAX_DELAY)
    # Jitter spreads retries of many deliveries that failed together (e.g. an outage).
    return base * (0.75 + 0.25 * jitter())


def fan_out(session: Session, now: datetime, *, limit: int = 500) -> int:
    """Create a delivery per active channel for pending notifications; returns how many."""
    has_delivery = exists().where(NotificationDelivery.notification_id == Notification.id)
    notes = session.scalars(
        select(Notification)
        .where(Notification.status == NotificationStatus.PENDING, ~has_delivery)
        .order_by(Notification.id)
        .limit(limit)
    ).all()
    channels: dict[int, list[int]] = {}
    created = 0
    for note in notes:
        if note.user_id not in channels:
            channels[note.user_id] = list(
                session.scalars(
                    select(NotificationChannel.id).where(
                        NotificationChannel.user_id == note.user_id,
                        NotificationChannel.active.is_(True),
                    )
                )
            )
        targets = channels[note.user_id]
        if not targets:
            note.status = NotificationStatus.DELIVERED  # the in-app list is all there is
            continue
        try:
            # A savepoint: losing a race with another worker just skips this notification.
            with session.begin_nested():
                session.add_all(
                    NotificationDelivery(
                        notification_id=note.id,
                        channel_id=channel_id,
                        status=PENDING,
                        attempts=0,
                        next_attempt_at=now,
                        last_error="",
                    )
                    for channel_id in targets
                )
        except IntegrityError:
            continue
        created += len(targets)
    _settle_stale(session)
    return created


def deliver_due(
    session: Session,
    now: datetime,
    *,
    senders: Senders,
    cipher: CredentialCipher,
    limit: int = 100,
    jitter: Callable[[], float] = random.random,
) -> DeliveryReport:
    """Attempt every due delivery; one failing channel never stops the others."""
    rows = session.execute(
        select(NotificationDelivery, NotificationChannel, Notification)
        .join(NotificationChannel, NotificationChannel.id == NotificationDelivery.channel_id)
        .join(Notification, Notification.id == NotificationDelivery.notification_id)
        .where(
            NotificationDelivery.status == PENDING,
            or_(
                NotificationDelivery.next_attempt_at.is_(None),
                NotificationDelivery.next_attempt_at <= now,
            ),
        )
        .order_by(NotificationDelivery.id)
        .limit(limit)
        # PostgreSQL: concurrent workers skip rows another one is sending (SQLite ignores it).
        .with_for_update(of=NotificationDelivery, skip_locked=True)
    ).all()
    report = DeliveryReport()
    for delivery, channel, note in rows:
        _attempt(delivery, channel, note, now, senders, cipher, jitter, report)
    _settle(session, {note.id for _, _, note in rows})
    return report


def _attempt(
    delivery: NotificationDelivery,
    channel: NotificationChannel,
    note: Notification,
    now: datetime,
    senders: Senders,
    cipher: CredentialCipher,
    jitter: Callable[[], float],
    report: DeliveryReport,
) -> None:
    if not channel.active:
        delivery.status, delivery.last_error, delivery.next_attempt_at = FAILED, "inactive", None
        report.failed += 1
        return
    message = Message(note.id, note.kind, note.created_at, dict(note.payload))
    try:
        _send(channel, message, str(delivery.id), senders, cipher)
    except Exception as error:  # any failure of one channel is recorded, never raised
        delivery.attempts += 1
        delivery.last_error = redacted_error(error, channel, _target_or_blank(cipher, channel))
        if not isinstance(error, RETRYABLE):
            # A programming error: say so loudly, keep the message, do not retry it 8 times.
            log.exception("delivery %s failed with a bug; not retrying", delivery.id)
            delivery.status, delivery.next_attempt_at = FAILED, None
            report.failed += 1
            return
        if delivery.attempts >= MAX_ATTEMPTS:
            delivery.status, delivery.next_attempt_at = FAILED, None
            report.failed += 1
        else:
            delivery.next_attempt_at = now + backoff(delivery.attempts, jitter)
            report.retrying += 1
        log.warning(
            "delivery %s to %s channel %s failed (attempt %s): %s",
            delivery.id,
            channel.kind,
            channel.id,
            delivery.attempts,
            delivery.last_error,
        )
        return
    delivery.status, delivery.delivered_at, delivery.next_attempt_at = SENT, now, None
    delivery.last_error = ""
    report.sent += 1


def _settle(session: Session, note_ids: set[int]) -> None:
    """Delivered when every delivery is sent; failed when none is pending and one gave up."""
    for note_id in note_ids:
        statuses = set(
            session.scalars(
                select(NotificationDelivery.status).where(
                    NotificationDelivery.notification_id == note_id
                )
            )
        )
        note = session.get(Notification, note_id)
        if note is None or note.status != NotificationStatus.PENDING or PENDING in statuses:
            continue
        failed = FAILED in statuses
        note.status = NotificationStatus.FAILED if failed else NotificationStatus.DELIVERED


def _settle_stale(session: Session) -> None:
    # Deleting a channel deletes its pending deliveries; the rest may all be done by then.
    stale = session.scalars(
        select(Notification.id).where(
            Notification.status == NotificationStatus.PENDING,
            exists().where(NotificationDelivery.notification_id == Notification.id),
            ~exists().where(
                NotificationDelivery.notification_id == Notification.id,
                NotificationDelivery.status == PENDING,
            ),
        )
    ).all()
    _settle(session, set(stale))


def send_test(
    session: Session,
    cipher: CredentialCipher,
    user_id: int,
    channel_id: int,
    now: datetime,
    senders: Senders,
) -> bool:
    """Send a test message to one of the user's channels right away; records nothing."""
    return why_test_failed(session, cipher, user_id, channel_id, now, senders) is None


def why_test_failed(
    session: Session,
    cipher: CredentialCipher,
    user_id: int,
    channel_id: int,
    now: datetime,
    senders: Senders,
) -> str | None:
    """Send a test message now: None when the channel took it, else why not, in plain words."""
    channel = get_channel(session, user_id, channel_id)
    message = Message(None, "test", now, {"message": TEST_MESSAGE})
    try:
        _send(channel, message, "test-" + secrets.token_hex(8), senders, cipher)
    except Exception as error:  # the button reports failure; it never raises
        target = _target_or_blank(cipher, channel)
        log.info(
            "test message to channel %s failed: %s",
            channel.id,
            redacted_error(error, channel, target),
        )
        return plain_reason(error, channel, target)
    return None


def plain_reason(error: Exception, channel: NotificationChannel, target: str = "") -> str:
    """Why a delivery failed, as a person would say it (no URL, no secrets)."""
    for cause in _chain(error):
        refused = isinstance(cause, ConnectionRefusedError) or "refused" in str(cause).lower()
        if refused and not isinstance(cause, DeliveryError):
            return "connection refused"
        if isinstance(
            cause, TimeoutError | httpx.TimeoutException | smtplib.SMTPServerDisconnected
        ):
            return "the server did not answer in time"
        if isinstance(cause, smtplib.SMTPAuthenticationError):
            return "the SMTP server refused the user name or password"
        if isinstance(cause, smtplib.SMTPRecipientsRefused):
            return "the mail server refused the address"
    if isinstance(error, DeliveryError):
        return redacted_error(error, channel, target).removeprefix(f"{type(error).__name__}: ")
    text = redacted_error(error, channel, target)
    return text.split(": ", 1)[1] if ": " in text else text


def _chain(error: BaseException) -> list[BaseException]:
    seen: list[BaseException] = []
    current: BaseException | None = error
    while current is not None and current not in seen and len(seen) < 8:
        seen.append(current)
        current = current.__cause__ or current.__context__
    return seen

"""Push channels (Google watch, Graph subscriptions): keep them alive, verify what they send."""

from __future__ import annotations

import hashlib
import logging
import secrets
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from app.db.models import Account, AccountStatus, Calendar, WebhookReceipt
from app.security import hash_token, same_secret
from app.services.connections import ConnectorProvider, mark_needs_reauth
from connectors.base import Capability, Watch
from connectors.errors import ConnectorError, NotFound, ReauthRequired

log = logging.getLogger(__name__)

# Replace a channel this long before it expires (Graph asks for renewal well ahead).
RENEW_BEFORE = timedelta(hours=24)


class WebhookRejectedError(Exception):
    """A notification that does not come from a channel we created (or was forged)."""

    def __init__(self, status: int, reason: str) -> None:
        self.status = status
        super().__init__(reason)


def callback_url(public_url: str, provider: str) -> str:
    return f"{public_url}/webhooks/{provider}"


def ensure_watch(
    session: Session,
    calendar: Calendar,
    connectors: ConnectorProvider,
    public_url: str,
    now: datetime,
    checkpoint: Callable[[], None] | None = None,
) -> bool:
    """Create or renew the calendar's push channel when due; True when something changed.

    Google channels cannot be renewed: the new channel is created first, then the old stopped,
    so no change falls between them. Graph subscriptions are renewed in place.

    Google sends its first message as soon as the channel exists, possibly before the watch
    call returns: the new channel (its id and secret) is recorded and `checkpoint`ed (the
    tasks commit) *before* asking for it, and put back as it was if the provider refuses.
    """
    save = checkpoint or session.flush
    account = session.get_one(Account, calendar.account_id)
    if account.status != AccountStatus.OK or not calendar.is_busy_source:
        return False
    if calendar.watch_expires_at is not None and calendar.watch_expires_at > now + RENEW_BEFORE:
        return False
    connector = connectors(account)
    if not connector.capabilities & Capability.PUSH:
        return False
    old = _current_watch(calendar)
    try:
        renew = getattr(connector, "renew_watch", None)
        if old is not None and renew is not None:
            try:
                _store(calendar, renew(old), secret_hash=calendar.watch_secret_hash)
                return True
            except NotFound:
                pass  # the subscription is gone: create a new one below
        secret = secrets.token_urlsafe(32)
        channel_id = uuid.uuid4().hex
        before = _saved(calendar)
        calendar.watch_id, calendar.watch_resource_id = channel_id, None
        calendar.watch_secret_hash, calendar.watch_expires_at = hash_token(secret), None
        save()
        try:
            new = connector.watch(
                calendar.provider_calendar_id,
                callback_url(public_url, account.provider),
                secret,
                channel_id=channel_id,
            )
        except BaseException:
            _restore(calendar, before)
            save()
            raise
        if new is None:
            _restore(calendar, before)
            return False
        _store(calendar, new, secret_hash=hash_token(secret))
        if old is not None and renew is None:
            try:
                connector.unwatch(old)
            except ConnectorError:
                log.warning("could not stop the old channel of calendar %s", calendar.id)
    except ReauthRequired as error:
        mark_needs_reauth(session, account, str(error))
        return False
    session.flush()
    return True


def drop_watch(session: Session, calendar: Calendar, connectors: ConnectorProvider) -> None:
    """Stop the calendar's channel (on disconnect or when it stops being a busy source)."""
    old = _current_watch(calendar)
    if old is None:
        return
    try:
        connectors(session.get_one(Account, calendar.account_id)).unwatch(old)
    except ConnectorError:
        log.warning("could not stop the channel of calendar %s", calendar.id)
    calendar.watch_id = calendar.watch_resource_id = calendar.watch_secret_hash = None
    calendar.watch_expires_at = None


def _current_watch(calendar: Calendar) -> Watch | None:
    if calendar.watch_id is None or calendar.watch_expires_at is None:
        return None
    return Watch(
        id=calendar.watch_id,
        calendar_id=calendar.provider_calendar_id,
        resource_id=calendar.watch_resource_id,
        expires_at=calendar.watch_expires_at,
        secret="",  # only its hash is kept
    )


def _saved(calendar: Calendar) -> tuple[str | None, str | None, str | None, datetime | None]:
    return (
        calendar.watch_id,
        calendar.watch_resource_id,
        calendar.watch_secret_hash,
        calendar.watch_expires_at,
    )


def _restore(
    calendar: Calendar, saved: tuple[str | None, str | None, str | None, datetime | None]
) -> None:
    (
        calendar.watch_id,
        calendar.watch_resource_id,
        calendar.watch_secret_hash,
        calendar.watch_expires_at,
    ) = saved


def _store(calendar: Calendar, watch: Watch, *, secret_hash: str | None) -> None:
    calendar.watch_id = watch.id
    calendar.watch_resource_id = watch.resource_id
    calendar.watch_expires_at = watch.expires_at
    calendar.watch_secret_hash = secret_hash


def _calendar_for_channel(session: Session, channel_id: str) -> Calendar:
    calendar = session.scalars(select(Calendar).where(Calendar.watch_id == channel_id)).first()
    if calendar is None or calendar.watch_secret_hash is None:
        raise WebhookRejectedError(404, "unknown channel")
    return calendar


def _verify(calendar: Calendar, secret: str | None) -> None:
    expected = calendar.watch_secret_hash or ""
    if not same_secret(expected, hash_token(secret or "")):
        raise WebhookRejectedError(403, "bad channel token")


def _first_time(session: Session, provider: str, channel_id: str, key: str) -> bool:
    try:
        with session.begin_nested():
            session.add(WebhookReceipt(provider=provider, channel_id=channel_id, message_key=key))
    except IntegrityError:
        return False
    return True


@dataclass(frozen=True)
class SyncRequest:
    """What a verified notification asks for: sync this calendar (and maybe re-create push)."""

    calendar_id: int
    recreate_watch: bool = False
    full: bool = False


def _bucket(now: datetime, seconds: int = 60) -> int:
    return int(now.timestamp()) // seconds


# Identical lifecycle events this close together are redeliveries: one full resync serves all.
LIFECYCLE_WINDOW_SECONDS = 600


def google_notification(
    session: Session, headers: dict[str, str], now: datetime
) -> SyncRequest | None:
    """Verify a Google push (channel id + token); None for duplicates and the initial ping."""
    channel_id = headers.get("x-goog-channel-id", "")
    calendar = _calendar_for_channel(session, channel_id)
    _verify(calendar, headers.get("x-goog-channel-token"))
    if calendar.watch_resource_id and headers.get("x-goog-resource-id") not in (
        None,
        calendar.watch_resource_id,
    ):
        raise WebhookRejectedError(403, "resource does not match the channel")
    number = headers.get("x-goog-message-number", "")
    state = headers.get("x-goog-resource-state", "")
    if number:
        if not _first_time(session, "google", channel_id, number):
            return None  # a redelivery of a message we already had
    elif not _first_time(session, "google", channel_id, f"unnumbered:{state}:{_bucket(now)}"):
        # Without a number, repeats cannot be told from new changes: one receipt a minute,
        # but each still hints a sync (the dispatcher coalesces them), so nothing is lost.
        return None if state == "sync" else SyncRequest(calendar.id)
    if state == "sync":
        return None  # the channel's hello; nothing changed yet
    return SyncRequest(calendar.id)


def microsoft_notifications(
    session: Session, body: dict[str, Any], now: datetime
) -> list[SyncRequest]:
    """Verify Graph change and lifecycle notifications (clientState) and say what to sync.

    A batch with any forged item is rejected whole: Graph never mixes subscriptions we did
    not create into our batches, so a mismatch means somebody else is talking.
    """
    requests: dict[int, SyncRequest] = {}
    items = body.get("value")
    if not isinstance(items, list) or not items:
        raise WebhookRejectedError(400, "no notifications in the body")
    for item in items:
        if not isinstance(item, dict):
            raise WebhookRejectedError(400, "malformed notification")
        calendar = _calendar_for_channel(session, str(item.get("subscriptionId", "")))
        _verify(calendar, item.get("clientState"))
        lifecycle = item.get("lifecycleEvent")
        if lifecycle is None and not _first_time(
            session, "microsoft", calendar.watch_id or "", _graph_key(item)
        ):
            continue
        if lifecycle is not None:
            key = f"lifecycle:{lifecycle}:{_bucket(now, LIFECYCLE_WINDOW_SECONDS)}"
            if not _first_time(session, "microsoft", calendar.watch_id or "", key):
                # A repeat (e.g. `missed` redelivered): an incremental sync is enough.
                requests.setdefault(calendar.id, SyncRequest(calendar.id))
                continue
        previous = requests.get(calendar.id, SyncRequest(calendar.id))
        requests[calendar.id] = SyncRequest(
            calendar.id,
            recreate_watch=previous.recreate_watch
            or lifecycle in ("subscriptionRemoved", "reauthorizationRequired"),
            full=previous.full or lifecycle in ("subscriptionRemoved", "missed"),
        )
        if lifecycle == "subscriptionRemoved":
            calendar.watch_expires_at = None  # gone: the next pass creates a new one
        elif lifecycle == "reauthorizationRequired":
            calendar.watch_expires_at = now  # due: the next pass renews it in place
    return list(requests.values())


def _graph_key(item: dict[str, Any]) -> str:
    data = item.get("resourceData") or {}
    raw = "|".join(
        str(part)
        for part in (
            item.get("changeType"),
            data.get("id") if isinstance(data, dict) else "",
            data.get("@odata.etag") if isinstance(data, dict) else "",
            item.get("resource"),
        )
    )
    return hashlib.sha256(raw.encode()).hexdigest()

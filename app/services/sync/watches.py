"""Push channels: keep them alive, verify what providers send to them."""

from __future__ import annotations

import logging
import secrets
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from app.db.models import Account, AccountStatus, Calendar, WebhookReceipt
from app.security import hash_token, same_secret
from app.services.accounts.live import ConnectorFor
from app.services.accounts.rows import mark_needs_reauth
from app.services.sync.channel_cache import Channel, ChannelCache
from connectors.base import Capability, Watch
from connectors.errors import ConnectorError, NotFound, ReauthRequired
from connectors.push import PushNotice, WatchState

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
    connectors: ConnectorFor,
    public_url: str,
    now: datetime,
    checkpoint: Callable[[], None] | None = None,
) -> bool:
    """Create or renew the calendar's push channel when due; True when something changed.

    Channels that cannot be renewed get a new channel first, then the old one is stopped, so no
    change falls between them; connectors with `renew_watch` renew in place.

    A provider may send its first message as soon as the channel exists, before the watch call
    returns (Google does): the new channel (its id and secret) is recorded and `checkpoint`ed
    (the tasks commit) *before* asking for it, and put back as it was if the provider refuses.
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
        stop_old = old is not None  # a channel that cannot be extended is replaced, then stopped
        if old is not None:
            try:
                renewed = connector.renew_watch(old)
            except NotFound:
                renewed, stop_old = None, False  # it is gone already: create a new one below
            if renewed is not None:
                _store(calendar, renewed, secret_hash=calendar.watch_secret_hash)
                return True
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
        if old is not None and stop_old:
            try:
                connector.unwatch(old)
            except ConnectorError:
                log.warning("could not stop the old channel of calendar %s", calendar.id)
    except ReauthRequired as error:
        mark_needs_reauth(session, account, str(error))
        return False
    session.flush()
    return True


def drop_watch(session: Session, calendar: Calendar, connectors: ConnectorFor) -> None:
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


def _newer(session: Session, calendar: Calendar, number: int) -> bool:
    """Raise the channel's highest message number to ``number``; False when it was not above.

    One conditional UPDATE, so two processes never both accept the same number.
    """
    raised = session.execute(
        update(Calendar)
        .where(
            Calendar.id == calendar.id,
            or_(
                Calendar.watch_message_number.is_(None),
                Calendar.watch_message_number < number,
            ),
        )
        .values(watch_message_number=number)
        .execution_options(synchronize_session=False)
    )
    if getattr(raised, "rowcount", 0) != 1:
        return False
    set_committed_value(calendar, "watch_message_number", number)
    return True


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


def _bucket(now: datetime, seconds: int) -> int:
    return int(now.timestamp()) // seconds


def _merge(requests: dict[int, SyncRequest], calendar_id: int, notice: PushNotice) -> None:
    previous = requests.get(calendar_id, SyncRequest(calendar_id))
    requests[calendar_id] = SyncRequest(
        calendar_id,
        recreate_watch=previous.recreate_watch or notice.recreate_watch,
        full=previous.full or notice.full,
    )


def _check(channel: Channel, notice: PushNotice) -> None:
    if not same_secret(channel.secret_hash, hash_token(notice.secret or "")):
        raise WebhookRejectedError(403, "bad channel token")
    if (
        channel.resource_id
        and notice.resource_id is not None
        and notice.resource_id != channel.resource_id
    ):
        raise WebhookRejectedError(403, "resource does not match the channel")


def verify_cached(channels: ChannelCache, notices: list[PushNotice]) -> list[SyncRequest] | None:
    """`verify` without the database, for the common case: every notice is a change on a
    channel in ``channels``, numbered (Google) or keyed (Graph). None when any notice needs the
    database path (an unknown or stale channel, neither number nor key, a lifecycle event):
    the caller then runs `verify`.

    The checks and answers are the same as `verify`'s: a forged notice rejects the batch
    (before any number or key is taken), a number not above the highest seen, or a key seen
    before, is a repeat.
    """
    found: list[tuple[PushNotice, Channel]] = []
    for notice in notices:
        if notice.repeat_key is not None or notice.watch is not None:
            return None
        if notice.sequence is None and notice.message_key is None:
            return None
        channel = channels.get(notice.channel_id)
        if channel is None:
            return None
        found.append((notice, channel))
    for notice, channel in found:
        _check(channel, notice)
    requests: dict[int, SyncRequest] = {}
    for notice, channel in found:
        if _first_cached(channels, notice) and notice.sync:
            _merge(requests, channel.calendar_id, notice)
    return list(requests.values())


def _first_cached(channels: ChannelCache, notice: PushNotice) -> bool:
    if notice.sequence is not None:
        return channels.first_time(notice.channel_id, notice.sequence)
    return channels.first_key(notice.channel_id, notice.message_key or "")


def verify(
    session: Session,
    provider: str,
    notices: list[PushNotice],
    now: datetime,
    channels: ChannelCache | None = None,
) -> list[SyncRequest]:
    """Check each notice against the channel we created and say what to sync.

    A batch with any forged notice is rejected whole: providers never mix channels we did not
    create into our batches, so a mismatch means somebody else is talking. Duplicates (the
    provider retried) and hellos ask for nothing. With ``channels``, the channels read here
    and the numbers and keys taken are remembered there for `verify_cached`.
    """
    requests: dict[int, SyncRequest] = {}
    # Every notice is checked before any number or key is taken (a forged batch takes none).
    seen: list[Calendar] = []
    for notice in notices:
        calendar = _calendar_for_channel(session, notice.channel_id)
        _verify(calendar, notice.secret)
        if (
            calendar.watch_resource_id
            and notice.resource_id is not None
            and notice.resource_id != calendar.watch_resource_id
        ):
            raise WebhookRejectedError(403, "resource does not match the channel")
        seen.append(calendar)
    for notice, calendar in zip(notices, seen, strict=True):
        if notice.sequence is not None:
            if not _newer(session, calendar, notice.sequence):
                continue
        elif notice.message_key is not None and notice.repeat_key is None and channels is not None:
            # keyed changes are remembered by the cache (no receipt row), as on its fast path
            if not channels.first_key(notice.channel_id, notice.message_key):
                continue
        elif notice.message_key is not None and not _first_time(
            session, provider, calendar.watch_id or "", notice.message_key
        ):
            continue
        if notice.repeat_key is not None:
            window = _bucket(now, notice.repeat_window_seconds)
            key = f"{notice.repeat_key}:{window}"
            if not _first_time(session, provider, calendar.watch_id or "", key):
                # A repeat that cannot be told from a new notice (no message number, or a
                # lifecycle event redelivered): one receipt per window, and an incremental
                # sync at most (never a second full resync), so nothing is lost.
                if notice.sync:
                    requests.setdefault(calendar.id, SyncRequest(calendar.id))
                continue
        if notice.watch is WatchState.GONE:
            calendar.watch_expires_at = None  # gone: the next pass creates a new one
        elif notice.watch is WatchState.DUE:
            calendar.watch_expires_at = now  # due: the next pass renews it in place
        if not notice.sync:
            continue
        _merge(requests, calendar.id, notice)
    if channels is not None:
        for calendar in seen:
            channels.remember(calendar)
    return list(requests.values())

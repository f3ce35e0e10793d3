"""The push channels we created, kept in memory so a notification is verified without SQL.

A channel is loaded from the database on its first notification and kept for `ttl` seconds;
any change to a calendar's channel made through the ORM in this process forgets it at once
(the `after_flush` hook below), and the time limit covers changes made by other processes.
Repeats are told apart by the provider's message number: the highest number seen per channel,
kept here and written to `calendars.watch_message_number` in batches (`flush`), so nothing is
stored per notification. Providers without numbers (Graph) name each change by a key (its
resource, change type and etag): the keys seen in the last `KEY_WINDOW` seconds are kept here,
bounded, instead of a receipt row each. A repeat that reaches another process, or this one
after a restart, costs one more incremental sync (a hint is never trusted as data), nothing else.

Hints for one calendar are also spaced (`sync_delay`): the first after a quiet spell is synced
at once; those arriving within `SYNC_SPACING` of the last hand-over are handed over for the end
of that window, where the dispatcher coalesces them into one sync. A burst of notifications
(one change often sends several) costs one sync, not one each; under a storm of hints the
window widens up to `SYNC_SPACING_MAX`, and no change waits longer than the window.
"""

from __future__ import annotations

import hashlib
import threading
import time
import weakref
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import bindparam, event, inspect, or_, update
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, sessionmaker

from app.db.models import Calendar

_WATCH_FIELDS = ("watch_id", "watch_secret_hash", "watch_resource_id")
SYNC_SPACING = 0.25  # seconds
SYNC_SPACING_MAX = 1.0
STORM = 3  # hints joining one sync that make the next window wider
# Our own write to a calendar comes back as a notification within seconds (its echo). One
# notification per write in that window is taken for the echo: its sync is deferred, so the
# next real change's sync (at once, as always) covers it, or it runs on its own this late.
ECHO_WINDOW = 10.0
FLUSH_WAIT_MS = 200  # how long writing message numbers may wait for a calendar's row lock
ECHO_DEFER = 30.0
# Graph retries an unacknowledged notification for up to four hours.
KEY_WINDOW = 4 * 3600 + 600
MAX_KEYS = 200_000  # 16-byte digests: a few tens of MB at the very most
_caches: weakref.WeakSet[ChannelCache] = weakref.WeakSet()


@dataclass(frozen=True, slots=True)
class Channel:
    """What verifying a notification needs to know about one channel."""

    calendar_id: int
    secret_hash: str
    resource_id: str | None
    loaded_at: float


class ChannelCache:
    """Channels by id, and the highest message number seen on each (thread-safe)."""

    def __init__(
        self,
        sessions: sessionmaker[Session],
        *,
        ttl: float = 60.0,
        flush_seconds: float = 1.0,
        max_channels: int = 200_000,
        key_window: float = KEY_WINDOW,
        max_keys: int = MAX_KEYS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._sessions = sessions
        self._ttl, self._flush_seconds, self._max = ttl, flush_seconds, max_channels
        self._key_window, self._max_keys = key_window, max_keys
        # digest of (channel, key): when it was first seen; oldest first
        self._keys: OrderedDict[bytes, float] = OrderedDict()
        self._clock = clock
        self._lock = threading.Lock()
        self._flushing = threading.Lock()
        self._channels: dict[str, Channel] = {}
        self._highest: dict[str, int] = {}
        self._dirty: dict[str, int] = {}
        # calendar: (sync due at, window after it, hints that joined it)
        self._next_sync: dict[int, tuple[float, float, int]] = {}
        self._echoes: dict[int, tuple[int, float]] = {}  # calendar: (expected, until)
        self._last_flush = clock()
        _caches.add(self)

    def get(self, channel_id: str) -> Channel | None:
        """The channel if it is known and fresh, else None (the caller reads the database)."""
        found = self._channels.get(channel_id)
        if found is None or self._clock() - found.loaded_at > self._ttl:
            return None
        return found

    def remember(self, calendar: Calendar) -> None:
        """Keep a calendar's current channel (after it was verified from the database)."""
        if calendar.watch_id is None or calendar.watch_secret_hash is None:
            return
        channel = Channel(
            calendar.id, calendar.watch_secret_hash, calendar.watch_resource_id, self._clock()
        )
        with self._lock:
            if len(self._channels) >= self._max:
                self._channels.clear()  # rare: far more channels than calendars; start over
            self._channels[calendar.watch_id] = channel
            stored = calendar.watch_message_number
            if stored is not None and stored > self._highest.get(calendar.watch_id, -1):
                self._highest[calendar.watch_id] = stored

    def forget(self, channel_id: str) -> None:
        """Drop a channel (it changed or went away); its number stays (numbers only grow)."""
        with self._lock:
            self._channels.pop(channel_id, None)

    def first_time(self, channel_id: str, number: int) -> bool:
        """True when ``number`` is above every number seen on the channel (and remember it)."""
        with self._lock:
            if number <= self._highest.get(channel_id, -1):
                return False
            self._highest[channel_id] = number
            self._dirty[channel_id] = number
            return True

    def first_key(self, channel_id: str, key: str) -> bool:
        """True when ``key`` was not seen on the channel within the key window (and remember it).

        Only notices that passed verification get here, so strangers cannot fill the window;
        past `max_keys` the oldest are dropped (a late repeat then costs one more sync).
        """
        digest = hashlib.blake2b(f"{channel_id}\n{key}".encode(), digest_size=16).digest()
        now = self._clock()
        with self._lock:
            keys = self._keys
            seen_at = keys.get(digest)
            if seen_at is not None and now - seen_at <= self._key_window:
                return False
            keys.pop(digest, None)
            while keys:  # oldest first: drop the expired, and make room
                oldest, first_seen = next(iter(keys.items()))
                if now - first_seen <= self._key_window and len(keys) < self._max_keys:
                    break
                del keys[oldest]
            keys[digest] = now
            return True

    def saw(self, channel_id: str, number: int) -> None:
        """A number the database path accepted (it is stored already)."""
        with self._lock:
            if number > self._highest.get(channel_id, -1):
                self._highest[channel_id] = number

    def sync_delay(self, calendar_id: int) -> float:
        """Seconds to wait before the sync a new hint for ``calendar_id`` asks for."""
        now = self._clock()
        with self._lock:
            at, window, joined = self._next_sync.get(calendar_id, (None, SYNC_SPACING, 0))
            if at is not None and now < at:
                # a sync is due then anyway: this hint joins it
                self._next_sync[calendar_id] = (at, window, joined + 1)
                return at - now
            if at is None or now - at >= window:
                if len(self._next_sync) >= self._max:
                    self._next_sync.clear()
                self._next_sync[calendar_id] = (now, SYNC_SPACING, 0)
                return 0.0
            # Within the window after the last sync. A storm (several hints joined the last
            # one) widens the next window, up to SYNC_SPACING_MAX; otherwise it stays short,
            # so a calendar that changes now and then is never held up long.
            wider = min(2 * window, SYNC_SPACING_MAX) if joined >= STORM else SYNC_SPACING
            self._next_sync[calendar_id] = (at + window, wider, 0)
            return at + window - now

    def expect_echo(self, calendar_id: int) -> None:
        """We wrote to the calendar: one more notification is expected to be our echo."""
        until = self._clock() + ECHO_WINDOW
        with self._lock:
            expected, _ = self._echoes.get(calendar_id, (0, 0.0))
            if len(self._echoes) >= self._max:
                self._echoes.clear()
            self._echoes[calendar_id] = (expected + 1, until)

    def take_echo(self, calendar_id: int) -> bool:
        """True when a notification for the calendar is taken for the echo of our write."""
        now = self._clock()
        with self._lock:
            expected, until = self._echoes.get(calendar_id, (0, 0.0))
            if expected <= 0 or now > until:
                self._echoes.pop(calendar_id, None)
                return False
            if expected == 1:
                del self._echoes[calendar_id]
            else:
                self._echoes[calendar_id] = (expected - 1, until)
            return True

    def flush_due(self) -> bool:
        """True when numbers wait to be written and the last write is old enough."""
        return bool(self._dirty) and self._clock() - self._last_flush >= self._flush_seconds

    def flush(self) -> int:
        """Write the waiting highest numbers in one statement; how many channels."""
        if not self._flushing.acquire(blocking=False):
            return 0  # another thread is writing them
        try:
            with self._lock:
                waiting, self._dirty = self._dirty, {}
                self._last_flush = self._clock()
            if not waiting:
                return 0
            statement = (
                update(Calendar)
                .where(
                    Calendar.watch_id == bindparam("channel"),
                    or_(
                        Calendar.watch_message_number.is_(None),
                        Calendar.watch_message_number < bindparam("number"),
                    ),
                )
                .values(watch_message_number=bindparam("number"))
                .execution_options(synchronize_session=False)
            )
            rows = [{"channel": c, "number": n} for c, n in sorted(waiting.items())]
            try:
                with self._sessions() as session:
                    connection = session.connection()
                    if connection.dialect.name == "postgresql":
                        # A sync holds its calendar's row for as long as the provider takes;
                        # the numbers are no reason to wait for it: write them next time.
                        connection.exec_driver_sql(f"SET LOCAL lock_timeout = '{FLUSH_WAIT_MS}ms'")
                    connection.execute(statement, rows)
                    session.commit()
            except BaseException as error:
                with self._lock:  # try again next time; newer numbers win
                    for channel, number in waiting.items():
                        if number > self._dirty.get(channel, -1):
                            self._dirty[channel] = number
                if isinstance(error, OperationalError) and _lock_not_available(error):
                    return 0
                raise
            return len(rows)
        finally:
            self._flushing.release()


def _lock_not_available(error: OperationalError) -> bool:
    # PostgreSQL's SQLSTATE for lock_timeout expiring (psycopg's LockNotAvailable)
    return getattr(error.orig, "sqlstate", None) == "55P03"


def expect_echo(calendar_id: int) -> None:
    """Tell every channel cache of this process that we just wrote to the calendar."""
    for cache in list(_caches):
        cache.expect_echo(calendar_id)


@event.listens_for(Session, "after_flush")
def _forget_changed_channels(session: Session, _context: Any) -> None:
    """Any calendar whose channel changed or that was deleted is reloaded on next use."""
    if not _caches:
        return
    changed: set[str] = set()
    for obj in (*session.dirty, *session.deleted):
        if not isinstance(obj, Calendar):
            continue
        state = inspect(obj)
        gone = obj in session.deleted
        if not gone and not any(state.attrs[n].history.has_changes() for n in _WATCH_FIELDS):
            continue
        ids = state.attrs.watch_id.history
        changed.update(v for v in (*ids.deleted, *ids.unchanged, *ids.added) if v)
    if not changed:
        return
    for cache in list(_caches):
        for channel_id in changed:
            cache.forget(channel_id)

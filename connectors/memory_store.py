"""The provider side of the in-memory connector: calendars, events, change log, sync cursors.

`MemoryStore` plays the calendar provider. Tests act on it directly as "the rest of the world"
(an invite arrives, the user deletes a block), and `MemoryConnector` talks to it like a client
talks to an API. It is thread-safe: every method runs under one re-entrant lock, which the
connector also holds for its compound read-then-write operations.
"""

from __future__ import annotations

import base64
import binascii
import itertools
import json
import threading
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta, tzinfo

from connectors.base import CalendarInfo, Event, Response
from connectors.errors import CursorExpired, NotFound

__all__ = ["MemoryStore", "RecordedResponse"]

# Names of the connector methods `fail_next` can sabotage.
FAILABLE_METHODS = frozenset(
    {
        "list_calendars",
        "list_events",
        "sync",
        "create_block",
        "find_block",
        "update_block",
        "delete_block",
        "respond",
        "watch",
        "unwatch",
    }
)


@dataclass(frozen=True, slots=True)
class RecordedResponse:
    """One RSVP the store received, as tests want to assert it."""

    calendar_id: str
    event_id: str
    response: Response
    message: str | None
    propose: tuple[datetime, datetime] | None


@dataclass(slots=True)
class _PlannedFailure:
    exc: BaseException
    skip: int
    after_effect: bool


@dataclass(slots=True)
class _Series:
    """A weekly series: `first` is occurrence 0 (its id is the series id)."""

    first: Event
    count: int
    zone: tzinfo
    overrides: dict[str, Event] = field(default_factory=dict)
    deleted: set[str] = field(default_factory=set)

    def occurrences(self) -> dict[str, Event]:
        # Step in the series' wall clock so a weekly 09:00 stays 09:00 across DST changes.
        local_start = self.first.start.astimezone(self.zone)
        duration = self.first.end - self.first.start
        result: dict[str, Event] = {}
        for week in range(self.count):
            start = (local_start + timedelta(weeks=week)).astimezone(UTC)
            iid = f"{self.first.id}_{start:%Y%m%dT%H%M%SZ}"
            if iid in self.deleted:
                continue
            default = replace(
                self.first, id=iid, start=start, end=start + duration, series_id=self.first.id
            )
            result[iid] = self.overrides.get(iid, default)
        return result


@dataclass(slots=True)
class _Calendar:
    info: CalendarInfo
    singles: dict[str, Event] = field(default_factory=dict)
    series: dict[str, _Series] = field(default_factory=dict)
    seq: int = 0
    epoch: int = 0  # bumped by expire_cursors: every older cursor dies
    horizon: int = 0  # cursors older than this sequence number are expired
    changed: dict[str, int] = field(default_factory=dict)  # event id -> seq of last change
    removed: dict[str, int] = field(default_factory=dict)  # tombstones: event id -> seq

    def all_events(self) -> dict[str, Event]:
        events = dict(self.singles)
        for series in self.series.values():
            events.update(series.occurrences())
        return events


def _utc_now() -> datetime:
    return datetime.now(UTC)


class MemoryStore:
    """Calendars and events of one in-memory account, shareable between connectors.

    `cursor_retention` is how many changes a sync cursor may fall behind before it expires
    (None: never, unless `expire_cursors` is called). `clock` stamps `Event.updated`.
    """

    def __init__(
        self,
        cursor_retention: int | None = None,
        clock: Callable[[], datetime] = _utc_now,
    ) -> None:
        self.lock = threading.RLock()
        self.clock = clock
        self._retention = cursor_retention
        self._calendars: dict[str, _Calendar] = {}
        self._ids = itertools.count(1)
        self._responses: list[RecordedResponse] = []
        self._failures: dict[str, list[_PlannedFailure]] = {}

    # --- calendars -------------------------------------------------------------------------

    def add_calendar(self, info: CalendarInfo) -> None:
        """Add a calendar; ValueError if the id is taken."""
        with self.lock:
            if info.id in self._calendars:
                raise ValueError(f"calendar {info.id!r} already exists")
            self._calendars[info.id] = _Calendar(info)

    def calendars(self) -> list[CalendarInfo]:
        with self.lock:
            return [cal.info for cal in self._calendars.values()]

    def calendar(self, calendar_id: str) -> CalendarInfo:
        """The calendar's info; NotFound if unknown."""
        with self.lock:
            return self._cal(calendar_id).info

    # --- events ----------------------------------------------------------------------------

    def new_id(self, prefix: str = "evt") -> str:
        """A fresh event id, unique within this store."""
        return f"{prefix}{next(self._ids)}"

    def put_event(self, event: Event) -> None:
        """Insert or replace an event, as if someone else changed the calendar.

        An event whose id is an occurrence of a known series overrides that occurrence.
        """
        with self.lock:
            cal = self._cal(event.calendar_id)
            series = cal.series.get(event.series_id or "")
            if series is not None and event.id in series.occurrences():
                series.overrides[event.id] = event
            else:
                cal.singles[event.id] = event
            self._record(cal, changed=[event.id])

    def add_weekly_series(self, first: Event, count: int, zone: tzinfo = UTC) -> list[Event]:
        """Add a series of `count` weekly occurrences; `first.id` becomes the series id.

        Occurrences repeat at the same wall-clock time in `zone`; their ids are
        f"{series_id}_{start:%Y%m%dT%H%M%SZ}" (UTC start).
        """
        if count < 1:
            raise ValueError("a series needs at least one occurrence")
        with self.lock:
            cal = self._cal(first.calendar_id)
            if first.id in cal.series or first.id in cal.singles:
                raise ValueError(f"event {first.id!r} already exists")
            series = _Series(replace(first, series_id=first.id), count, zone)
            cal.series[first.id] = series
            occurrences = series.occurrences()
            self._record(cal, changed=list(occurrences))
            return sorted(occurrences.values(), key=lambda e: e.start)

    def remove_event(self, calendar_id: str, event_id: str) -> None:
        """Delete an event, one occurrence, or (given the series id) a whole series."""
        with self.lock:
            cal = self._cal(calendar_id)
            if event_id in cal.singles:
                del cal.singles[event_id]
                self._record(cal, removed=[event_id])
            elif event_id in cal.series:
                series = cal.series.pop(event_id)
                self._record(cal, removed=list(series.occurrences()))
            else:
                series = self._series_of(cal, event_id)
                series.deleted.add(event_id)
                series.overrides.pop(event_id, None)
                self._record(cal, removed=[event_id])

    def get(self, calendar_id: str, event_id: str) -> Event | None:
        """The event or occurrence with this id (cancelled ones included), or None."""
        with self.lock:
            cal = self._cal(calendar_id)
            if event_id in cal.singles:
                return cal.singles[event_id]
            try:
                return self._series_of(cal, event_id).occurrences()[event_id]
            except NotFound:
                return None

    def events(self, calendar_id: str) -> list[Event]:
        """Every event and occurrence in the calendar, cancelled ones included, by start."""
        with self.lock:
            events = self._cal(calendar_id).all_events().values()
            return sorted(events, key=lambda e: (e.start, e.end, e.id))

    # --- RSVPs -----------------------------------------------------------------------------

    def record_response(self, response: RecordedResponse) -> None:
        with self.lock:
            self._responses.append(response)

    @property
    def responses(self) -> list[RecordedResponse]:
        """Every RSVP received, oldest first."""
        with self.lock:
            return list(self._responses)

    # --- sync ------------------------------------------------------------------------------

    def changes(self, calendar_id: str, cursor: str | None) -> tuple[list[Event], list[str], str]:
        """(events changed since `cursor`, ids removed since, next cursor); all if no cursor.

        Raises CursorExpired for a cursor that is expired, malformed or for another calendar.
        """
        with self.lock:
            cal = self._cal(calendar_id)
            events = cal.all_events()
            if cursor is None:
                return list(events.values()), [], self._cursor(cal)
            since = self._decode(cal, cursor)
            changed = [events[i] for i, seq in cal.changed.items() if seq > since and i in events]
            removed = [i for i, seq in cal.removed.items() if seq > since]
            return changed, removed, self._cursor(cal)

    def expire_cursors(self, calendar_id: str) -> None:
        """Invalidate every cursor issued so far for this calendar."""
        with self.lock:
            cal = self._cal(calendar_id)
            cal.epoch += 1
            cal.removed.clear()

    # --- failure injection -----------------------------------------------------------------

    def fail_next(
        self, method: str, exc: BaseException, *, skip: int = 0, after_effect: bool = False
    ) -> None:
        """Make a coming call of connector method `method` raise `exc`.

        `skip` calls succeed first. With `after_effect` the call does its work and then raises,
        like a request that reached the provider but whose answer was lost. Planned failures
        queue up in order.
        """
        if method not in FAILABLE_METHODS:
            raise ValueError(f"unknown connector method {method!r}")
        with self.lock:
            self._failures.setdefault(method, []).append(_PlannedFailure(exc, skip, after_effect))

    def take_failure(self, method: str) -> tuple[BaseException, bool] | None:
        """Used by the connector: the (exception, after_effect) planned for this call, if any."""
        with self.lock:
            queue = self._failures.get(method)
            if not queue:
                return None
            if queue[0].skip > 0:
                queue[0].skip -= 1
                return None
            planned = queue.pop(0)
            return planned.exc, planned.after_effect

    # --- internals -------------------------------------------------------------------------

    def _cal(self, calendar_id: str) -> _Calendar:
        try:
            return self._calendars[calendar_id]
        except KeyError:
            raise NotFound(f"no calendar {calendar_id!r}") from None

    def _series_of(self, cal: _Calendar, event_id: str) -> _Series:
        series_id, _, _ = event_id.rpartition("_")
        series = cal.series.get(series_id)
        if series is None or event_id not in series.occurrences():
            raise NotFound(f"no event {event_id!r} in calendar {cal.info.id!r}")
        return series

    def _record(
        self, cal: _Calendar, changed: list[str] | None = None, removed: list[str] | None = None
    ) -> None:
        cal.seq += 1
        for event_id in changed or []:
            cal.changed[event_id] = cal.seq
            cal.removed.pop(event_id, None)
        for event_id in removed or []:
            cal.removed[event_id] = cal.seq
            cal.changed.pop(event_id, None)
        if self._retention is not None and cal.seq - self._retention > cal.horizon:
            cal.horizon = cal.seq - self._retention
            # tombstones at or before the horizon can no longer be asked for
            cal.removed = {i: s for i, s in cal.removed.items() if s > cal.horizon}

    def _cursor(self, cal: _Calendar) -> str:
        raw = json.dumps([cal.info.id, cal.epoch, cal.seq]).encode()
        return "m1." + base64.urlsafe_b64encode(raw).decode()

    def _decode(self, cal: _Calendar, cursor: str) -> int:
        try:
            if not cursor.startswith("m1."):
                raise ValueError(cursor)
            calendar_id, epoch, seq = json.loads(base64.urlsafe_b64decode(cursor[3:]))
        except (ValueError, TypeError, binascii.Error):
            raise CursorExpired("malformed sync cursor") from None
        if calendar_id != cal.info.id or epoch != cal.epoch:
            raise CursorExpired(f"sync cursor for calendar {cal.info.id!r} expired")
        if not isinstance(seq, int) or seq < cal.horizon or seq > cal.seq:
            raise CursorExpired(f"sync cursor for calendar {cal.info.id!r} expired")
        return seq

"""`MemoryConnector`: the connector contract over an in-memory `MemoryStore` (tests, demos)."""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime
from typing import ClassVar, Concatenate, ParamSpec, TypeVar

from connectors.base import (
    BlockSpec,
    CalendarInfo,
    Capability,
    Event,
    EventStatus,
    Response,
    SaveCredentials,
    SelfResponse,
    SyncPage,
    Watch,
    as_utc,
    create_each,
)
from connectors.errors import Collision, ConnectorError, NotAGrowthBlock, NotFound, PermissionDenied
from connectors.memory_store import MemoryStore, RecordedResponse

__all__ = ["MemoryConnector", "MemoryStore", "RecordedResponse", "default_store", "memory_factory"]

_P = ParamSpec("_P")
_R = TypeVar("_R")


def _injectable(
    method: Callable[Concatenate[MemoryConnector, _P], _R],
) -> Callable[Concatenate[MemoryConnector, _P], _R]:
    """Let `MemoryStore.fail_next` make this method raise, before or after its effect."""
    name = method.__name__

    @functools.wraps(method)
    def wrapper(self: MemoryConnector, /, *args: _P.args, **kwargs: _P.kwargs) -> _R:
        planned = self.store.take_failure(name)
        if planned is None:
            return method(self, *args, **kwargs)
        exc, after_effect = planned
        if after_effect:
            method(self, *args, **kwargs)
        raise exc

    return wrapper


def _by_start(events: list[Event]) -> list[Event]:
    return sorted(events, key=lambda e: (e.start, e.end, e.id))


class MemoryConnector:
    """An in-memory calendar account with real semantics (see `CalendarConnector`).

    Without a `store` it gets a private one holding a primary calendar with id "primary".
    No push (`watch` returns None) and no native focus time: `BlockSpec.focus_time`,
    `auto_decline` and `description` are accepted and ignored.
    """

    provider: ClassVar[str] = "memory"
    capabilities: ClassVar[Capability] = (
        Capability.WRITE | Capability.RESPOND | Capability.INCREMENTAL_SYNC
    )

    def __init__(
        self, store: MemoryStore | None = None, owner_email: str = "me@example.com"
    ) -> None:
        if store is None:
            store = MemoryStore()
            store.add_calendar(CalendarInfo(id="primary", name=owner_email, primary=True))
        self.store = store
        self.owner_email = owner_email

    @_injectable
    def list_calendars(self) -> list[CalendarInfo]:
        """The store's calendars."""
        return self.store.calendars()

    @_injectable
    def list_events(self, calendar_id: str, start: datetime, end: datetime) -> list[Event]:
        """Live events overlapping [start, end), by start."""
        start, end = as_utc(start, "start"), as_utc(end, "end")
        if end < start:
            raise ValueError("window ends before it starts")
        return _by_start(
            [
                e
                for e in self.store.events(calendar_id)
                if e.status is not EventStatus.CANCELLED and e.start < end and e.end > start
            ]
        )

    @_injectable
    def sync(self, calendar_id: str, cursor: str | None) -> SyncPage:
        """Full sync without a cursor, else the changes since it."""
        events, removed, next_cursor = self.store.changes(calendar_id, cursor)
        live = [e for e in events if e.status is not EventStatus.CANCELLED]
        if cursor is not None:
            removed += [e.id for e in events if e.status is EventStatus.CANCELLED]
        return SyncPage(
            changed=_by_start(live), removed_ids=sorted(removed), next_cursor=next_cursor
        )

    def create_blocks(
        self, calendar_id: str, specs: list[BlockSpec]
    ) -> list[Event | ConnectorError]:
        """One `create_block` after another (no batching here)."""
        return create_each(self, calendar_id, specs)

    @_injectable
    def create_block(self, calendar_id: str, spec: BlockSpec) -> Event:
        """Create the block, or return the existing one with the same slot key."""
        with self.store.lock:
            self._writable(calendar_id)
            existing = self._find_block(calendar_id, spec.tag.slot_key)
            if existing is not None:
                return existing
            event_id = self.store.new_id("gg")
            event = Event(
                id=event_id,
                calendar_id=calendar_id,
                title=spec.title,
                start=spec.start,
                end=spec.end,
                ical_uid=f"{event_id}@memory.growthguard",
                organizer_email=self.owner_email,
                self_is_organizer=True,
                tag=spec.tag,
                busy=spec.busy,
                updated=self.store.clock(),
            )
            self.store.put_event(event)
            return event

    @_injectable
    def find_block(self, calendar_id: str, slot_key: str) -> Event | None:
        """The live block with this slot key, if any."""
        with self.store.lock:
            return self._find_block(calendar_id, slot_key)

    @_injectable
    def update_block(self, calendar_id: str, event_id: str, spec: BlockSpec) -> Event:
        """Move/retitle/retag a block in place."""
        with self.store.lock:
            self._writable(calendar_id)
            current = self._block(calendar_id, event_id)
            other = self._find_block(calendar_id, spec.tag.slot_key)
            if other is not None and other.id != event_id:
                raise Collision(f"slot {spec.tag.slot_key!r} is already booked as {other.id!r}")
            event = replace(
                current,
                title=spec.title,
                start=spec.start,
                end=spec.end,
                tag=spec.tag,
                busy=spec.busy,
                updated=self.store.clock(),
            )
            self.store.put_event(event)
            return event

    @_injectable
    def delete_block(self, calendar_id: str, event_id: str) -> None:
        """Delete a block."""
        with self.store.lock:
            self._writable(calendar_id)
            self._block(calendar_id, event_id)
            self.store.remove_event(calendar_id, event_id)

    @_injectable
    def respond(
        self,
        calendar_id: str,
        event_id: str,
        response: Response,
        message: str | None = None,
        propose: tuple[datetime, datetime] | None = None,
    ) -> Event:
        """Set the user's RSVP and record it (with message and proposal) in the store."""
        if propose is not None:
            propose = (as_utc(propose[0], "propose start"), as_utc(propose[1], "propose end"))
            if propose[1] <= propose[0]:
                raise ValueError("proposed time must end after it starts")
        with self.store.lock:
            current = self._live(calendar_id, event_id)
            if current.self_is_organizer:
                raise PermissionDenied(f"event {event_id!r} is organized by the user")
            if current.self_response is None:
                raise PermissionDenied(f"the user is not an attendee of event {event_id!r}")
            if current.self_response.value == response.value:
                return current  # already answered so: nothing is sent twice
            event = replace(
                current, self_response=SelfResponse(response.value), updated=self.store.clock()
            )
            self.store.put_event(event)
            self.store.record_response(
                RecordedResponse(calendar_id, event_id, response, message, propose)
            )
            return event

    @_injectable
    def watch(
        self, calendar_id: str, callback_url: str, secret: str, channel_id: str | None = None
    ) -> Watch | None:
        """No push support: always None."""
        self.store.calendar(calendar_id)  # still NotFound for unknown calendars
        return None

    @_injectable
    def unwatch(self, watch: Watch) -> None:
        """Nothing to stop."""

    # --- helpers (callers hold the store lock) ---------------------------------------------

    def renew_watch(self, watch: Watch) -> Watch | None:
        """Memory channels are not renewed: a new one replaces an old one."""
        return None

    @property
    def focus_time_unsupported(self) -> frozenset[str]:
        """Memory calendars take every block as it is asked for."""
        return frozenset()

    def _writable(self, calendar_id: str) -> None:
        if not self.store.calendar(calendar_id).can_write:
            raise PermissionDenied(f"calendar {calendar_id!r} is read-only")

    def _live(self, calendar_id: str, event_id: str) -> Event:
        event = self.store.get(calendar_id, event_id)
        if event is None or event.status is EventStatus.CANCELLED:
            raise NotFound(f"no event {event_id!r} in calendar {calendar_id!r}")
        return event

    def _block(self, calendar_id: str, event_id: str) -> Event:
        event = self._live(calendar_id, event_id)
        if not event.is_growth_block:
            raise NotAGrowthBlock(f"event {event_id!r} is not a growth block")
        return event

    def _find_block(self, calendar_id: str, slot_key: str) -> Event | None:
        for event in self.store.events(calendar_id):
            if (
                event.tag is not None
                and event.tag.slot_key == slot_key
                and event.status is not EventStatus.CANCELLED
            ):
                return event
        return None


_default_store: MemoryStore | None = None
_default_lock = threading.Lock()


def default_store() -> MemoryStore:
    """The process-wide store behind the registry's "memory" provider (demos and tests only).

    Created on first use with one primary calendar, id "primary".
    """
    global _default_store
    with _default_lock:
        if _default_store is None:
            _default_store = MemoryStore()
            _default_store.add_calendar(CalendarInfo(id="primary", name="Demo", primary=True))
        return _default_store


def memory_factory(credentials: bytes | None, save: SaveCredentials) -> MemoryConnector:
    """Registry factory: ignores the credential blob and uses `default_store()`."""
    return MemoryConnector(default_store())

"""`CalDavConnector`: the connector contract over a CalDAV account (RFC 4791, 6578, 6638)."""

from __future__ import annotations

import base64
import json
import zlib
from collections.abc import Callable
from datetime import UTC, datetime, timedelta, tzinfo
from typing import Any, ClassVar
from urllib.parse import quote
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from connectors.base import (
    BlockSpec,
    CalendarConnector,
    CalendarInfo,
    Capability,
    Event,
    EventStatus,
    Response,
    SaveCredentials,
    SyncPage,
    Watch,
    as_utc,
    create_each,
)
from connectors.caldav import mapping
from connectors.caldav.client import CalDavClient, PreconditionFailed, SyncUnsupported
from connectors.caldav.credentials import CalDavCredentials, load
from connectors.errors import (
    Collision,
    ConnectorError,
    CursorExpired,
    NotAGrowthBlock,
    NotFound,
    PermissionDenied,
)
from connectors.netpolicy import PUBLIC_ONLY, Reach
from connectors.registry import ConnectorFactory

__all__ = ["SYNC_FUTURE", "SYNC_PAST", "CalDavConnector", "make_factory"]

Clock = Callable[[], datetime]

# Series are expanded over this window around now (or around their start, when later).
SYNC_PAST, SYNC_FUTURE = timedelta(days=30), timedelta(days=400)
# Servers filter recurring events by time range unreliably: ask for a wider range, filter here.
QUERY_MARGIN = timedelta(days=14)
_CURSOR = "cd1."
_PARTSTAT = {
    Response.ACCEPT: "ACCEPTED",
    Response.DECLINE: "DECLINED",
    Response.TENTATIVE: "TENTATIVE",
}
_RESPOND_ATTEMPTS = 3


def _by_start(events: list[Event]) -> list[Event]:
    return sorted(events, key=lambda e: (e.start, e.end, e.id))


def _utc_now() -> datetime:
    return datetime.now(UTC)


def _encode(state: dict[str, Any]) -> str:
    packed = zlib.compress(json.dumps(state, separators=(",", ":"), sort_keys=True).encode())
    return _CURSOR + base64.urlsafe_b64encode(packed).decode()


def _decode(cursor: str) -> dict[str, Any]:
    if not cursor.startswith(_CURSOR):
        raise CursorExpired("not a CalDAV cursor")
    try:
        state: dict[str, Any] = json.loads(zlib.decompress(base64.urlsafe_b64decode(cursor[4:])))
    except (ValueError, zlib.error):
        raise CursorExpired("unreadable CalDAV cursor") from None
    return state


class CalDavConnector:
    """One CalDAV account (see `CalendarConnector`).

    Calendar ids are calendar collection URLs; event ids are resource names, with
    "#<recurrence id>" for occurrences of a series. Blocks live at a resource name and UID
    derived from their slot key and are created with `If-None-Match: *`; every later write
    uses `If-Match` with the ETag just read, so a concurrent edit is never overwritten.
    No push: callers poll `sync`.
    """

    provider: ClassVar[str] = "caldav"
    capabilities: ClassVar[Capability] = (
        Capability.WRITE | Capability.RESPOND | Capability.INCREMENTAL_SYNC
    )

    def __init__(
        self,
        credentials: CalDavCredentials,
        *,
        timeout: float = 30.0,
        clock: Clock = _utc_now,
        reach: Reach = PUBLIC_ONLY,
    ) -> None:
        self._client = CalDavClient(credentials, timeout=timeout, reach=reach)
        self._addresses = frozenset(credentials.addresses)
        self._clock = clock
        self._zones: dict[str, tzinfo] = {}

    # --- reading -------------------------------------------------------------------------

    def list_calendars(self) -> list[CalendarInfo]:
        """Event calendars of the account; the first one (by name) is taken as primary."""
        props = [p for p in self._client.calendars(self._client.home_url()) if p.events]
        props.sort(key=lambda p: (not _looks_default(p.name, p.url), p.url))
        infos = []
        for index, item in enumerate(props):
            zone = _zone_name(item.timezone)
            if zone:
                self._zones[item.url] = ZoneInfo(zone)
            infos.append(
                CalendarInfo(
                    id=item.url,
                    name=item.name,
                    primary=index == 0,
                    can_write=item.can_write,
                    timezone=zone,
                )
            )
        return infos

    def list_events(self, calendar_id: str, start: datetime, end: datetime) -> list[Event]:
        """Live events overlapping [start, end), series expanded here, by start."""
        start, end = as_utc(start, "start"), as_utc(end, "end")
        if end < start:
            raise ValueError("window ends before it starts")
        resources = self._client.query(calendar_id, start - QUERY_MARGIN, end + QUERY_MARGIN)
        events = [
            event
            for resource in resources
            for event in self._events(resource, calendar_id, start, end)
            if event.status is not EventStatus.CANCELLED
        ]
        return _by_start(events)

    def sync(self, calendar_id: str, cursor: str | None) -> SyncPage:
        """sync-collection where the server has it, else a comparison of ETags."""
        state = _decode(cursor) if cursor is not None else None
        series: dict[str, list[str]] = dict(state.get("r", {})) if state else {}
        mode = state.get("m") if state else None
        if mode == "etag":
            changed, deleted, new_state = self._etag_changes(calendar_id, state)
        else:
            try:
                token, changed, deleted = self._client.sync(
                    calendar_id, state.get("t") if state else None
                )
                new_state = {"m": "sync", "t": token}
            except SyncUnsupported:
                if state is not None:
                    raise CursorExpired("the server stopped offering sync-collection") from None
                changed, deleted, new_state = self._etag_changes(calendar_id, None)
        live: dict[str, Event] = {}
        removed: set[str] = set()
        for resource in changed:
            before = set(series.pop(resource.name, [resource.name]))
            events = self._sync_events(resource, calendar_id)
            now_ids = {e.id for e in events}
            if any(e.series_id for e in events):
                series[resource.name] = sorted(now_ids)
            for event in events:
                if event.status is EventStatus.CANCELLED:
                    removed.add(event.id)
                else:
                    live[event.id] = event
            removed |= before - {e.id for e in events if e.status is not EventStatus.CANCELLED}
        for name in deleted:
            removed |= set(series.pop(name, [name]))
        if state is None:
            removed.clear()  # a full sync lists what exists; nothing to remove
        removed -= set(live)
        new_state["r"] = series
        return SyncPage(
            changed=_by_start(list(live.values())),
            removed_ids=sorted(removed),
            next_cursor=_encode(new_state),
        )

    def _etag_changes(
        self, calendar_id: str, state: dict[str, Any] | None
    ) -> tuple[list[mapping.Resource], set[str], dict[str, Any]]:
        etags = self._client.etags(calendar_id)
        known: dict[str, str] = dict(state.get("e", {})) if state else {}
        changed = []
        for name, etag in sorted(etags.items()):
            if known.get(name) == etag:
                continue
            resource = self._client.get(self._href(calendar_id, name))
            if resource is not None:
                changed.append(resource)
        deleted = set(known) - set(etags)
        return changed, deleted, {"m": "etag", "e": etags}

    # --- growth blocks -------------------------------------------------------------------

    def create_blocks(
        self, calendar_id: str, specs: list[BlockSpec]
    ) -> list[Event | ConnectorError]:
        """One `create_block` after another (no batching here)."""
        return create_each(self, calendar_id, specs)

    def create_block(self, calendar_id: str, spec: BlockSpec) -> Event:
        """Create at the slot's own URL with `If-None-Match: *`; an existing block is returned."""
        existing = self.find_block(calendar_id, spec.tag.slot_key)
        if existing is not None:
            return existing
        href = self._href(calendar_id, mapping.href_name_for_slot(spec.tag.slot_key))
        data = mapping.block_ical(spec, self._clock())
        try:
            etag = self._client.put(href, data, create_only=True)
        except (PreconditionFailed, Collision):
            # Someone (an earlier run, another worker) created it between our look and our PUT.
            found = self.find_block(calendar_id, spec.tag.slot_key)
            if found is None:
                raise Collision(
                    f"slot {spec.tag.slot_key!r}: its URL or UID is taken by an untagged event"
                ) from None
            return found
        name = mapping.href_name_for_slot(spec.tag.slot_key)
        return self._single(mapping.Resource(name, etag, data), calendar_id)

    def find_block(self, calendar_id: str, slot_key: str) -> Event | None:
        """The live block with this slot key: at its own URL, else wherever its UID is."""
        resource = self._client.get(self._href(calendar_id, mapping.href_name_for_slot(slot_key)))
        if resource is None:
            resource = self._client.by_uid(calendar_id, mapping.uid_for_slot(slot_key))
        if resource is None:
            return None
        event = self._single(resource, calendar_id)
        if event.tag is None or event.tag.slot_key != slot_key:
            return None
        if event.status is EventStatus.CANCELLED:
            return None
        return event

    def update_block(self, calendar_id: str, event_id: str, spec: BlockSpec) -> Event:
        """Reshape a block under `If-Match`; a concurrent edit raises Collision (kept)."""
        href, resource, current = self._block(calendar_id, event_id)
        if current.tag != spec.tag:
            other = self.find_block(calendar_id, spec.tag.slot_key)
            if other is not None and other.id != event_id:
                raise Collision(f"slot {spec.tag.slot_key!r} is already booked as {other.id!r}")
        data = mapping.reshape_block(resource.data, spec, self._clock())
        try:
            etag = self._client.put(href, data, if_match=resource.etag)
        except PreconditionFailed:
            raise Collision(f"block {event_id!r} was changed meanwhile; not overwritten") from None
        return self._single(mapping.Resource(resource.name, etag, data), calendar_id)

    def delete_block(self, calendar_id: str, event_id: str) -> None:
        """Delete a block under `If-Match`."""
        href, resource, _ = self._block(calendar_id, event_id)
        try:
            self._client.delete(href, resource.etag)
        except PreconditionFailed:
            raise Collision(f"block {event_id!r} was changed meanwhile; not deleted") from None

    # --- RSVPs and push ------------------------------------------------------------------

    def respond(
        self,
        calendar_id: str,
        event_id: str,
        response: Response,
        message: str | None = None,
        propose: tuple[datetime, datetime] | None = None,
    ) -> Event:
        """Change only the person's own PARTSTAT (with `message` as COMMENT) under `If-Match`.

        Scheduling servers (SabreDAV/Nextcloud, Cyrus/Fastmail, iCloud) then send the reply to
        the organizer themselves. CalDAV cannot propose a time: `propose` is validated only.
        A 412 (the organizer updated the event meanwhile) re-reads and re-applies the change.
        """
        if propose is not None and as_utc(propose[1]) <= as_utc(propose[0]):
            raise ValueError("proposed time must end after it starts")
        name, rid = mapping.split_event_id(event_id)
        href = self._href(calendar_id, name)
        for _ in range(_RESPOND_ATTEMPTS):
            resource = self._client.get(href)
            if resource is None:
                raise NotFound(f"no event {event_id!r} in calendar {calendar_id!r}")
            current = self._live(resource, calendar_id, event_id)
            if current.self_response is not None and current.self_response.value == response.value:
                return current  # already answered so: no second reply to the organizer
            try:
                data = mapping.set_own_partstat(
                    resource.data,
                    rid,
                    self._addresses,
                    _PARTSTAT[response],
                    message,
                    self._floating(calendar_id, resource.data),
                )
            except mapping.NotAnInvite as refusal:
                raise PermissionDenied(f"event {event_id!r}: {refusal}") from None
            except LookupError:
                raise NotFound(f"no occurrence {event_id!r}") from None
            try:
                etag = self._client.put(href, data, if_match=resource.etag)
            except PreconditionFailed:
                continue
            return self._live(mapping.Resource(name, etag, data), calendar_id, event_id)
        raise Collision(f"event {event_id!r} kept changing; the response was not saved")

    def watch(
        self, calendar_id: str, callback_url: str, secret: str, channel_id: str | None = None
    ) -> Watch | None:
        """CalDAV has no push: always None (the caller polls)."""
        return None

    def unwatch(self, watch: Watch) -> None:
        """Nothing to stop."""

    # --- helpers -------------------------------------------------------------------------

    def renew_watch(self, watch: Watch) -> Watch | None:
        """CalDAV has no push channels (it is polled)."""
        return None

    @property
    def focus_time_unsupported(self) -> frozenset[str]:
        """CalDAV has no focus-time events: blocks are plain events."""
        return frozenset()

    def _href(self, calendar_id: str, name: str) -> str:
        return calendar_id.rstrip("/") + "/" + quote(name)

    def _floating(self, calendar_id: str, data: str | None = None) -> tzinfo:
        """The zone floating times are read in: the calendar's own zone, else UTC.

        Looked up (once per connector) only when an object actually has floating times.
        """
        if calendar_id not in self._zones and (data is None or mapping.has_floating(data)):
            zone = _zone_name(self._client.calendar_timezone(calendar_id))
            self._zones[calendar_id] = ZoneInfo(zone) if zone else UTC
        return self._zones.get(calendar_id, UTC)

    def _events(
        self, resource: mapping.Resource, calendar_id: str, start: datetime, end: datetime
    ) -> list[Event]:
        try:
            return mapping.events_of(
                resource,
                calendar_id,
                start,
                end,
                addresses=self._addresses,
                floating=self._floating(calendar_id, resource.data),
            )
        except mapping.InvalidCalendarData:
            return []  # one broken object must not hide the rest of the calendar

    def _sync_events(self, resource: mapping.Resource, calendar_id: str) -> list[Event]:
        now = self._clock()
        try:
            first = mapping.first_start(resource.data)
        except mapping.InvalidCalendarData:
            return []
        anchor = max(now, first) if first is not None else now
        try:
            return mapping.events_of(
                resource,
                calendar_id,
                now - SYNC_PAST,
                anchor + SYNC_FUTURE,
                addresses=self._addresses,
                floating=self._floating(calendar_id, resource.data),
                clip=False,
            )
        except mapping.InvalidCalendarData:
            return []

    def _single(self, resource: mapping.Resource, calendar_id: str) -> Event:
        calendar = mapping.parse(resource.data)
        if mapping.is_recurring(calendar):
            raise NotAGrowthBlock(f"event {resource.name!r} is a series, not a growth block")
        events = mapping.events_of(
            resource,
            calendar_id,
            datetime.min.replace(tzinfo=UTC),
            datetime.max.replace(tzinfo=UTC),
            addresses=self._addresses,
            floating=self._floating(calendar_id, resource.data),
            clip=False,
        )
        if not events:
            raise NotFound(f"{resource.name!r} holds no event")
        return events[0]

    def _live(self, resource: mapping.Resource, calendar_id: str, event_id: str) -> Event:
        """The event `event_id` within `resource`; NotFound when it is gone or cancelled."""
        _, rid = mapping.split_event_id(event_id)
        if rid is None:
            event = self._single(resource, calendar_id)
        else:
            moment = _rid_moment(rid)
            candidates = self._events(
                resource, calendar_id, moment - timedelta(days=2), moment + timedelta(days=3)
            )
            matching = [e for e in candidates if e.id == event_id]
            if not matching:
                raise NotFound(f"no occurrence {event_id!r}")
            event = matching[0]
        if event.status is EventStatus.CANCELLED:
            raise NotFound(f"event {event_id!r} was cancelled")
        return event

    def _block(self, calendar_id: str, event_id: str) -> tuple[str, mapping.Resource, Event]:
        name, rid = mapping.split_event_id(event_id)
        href = self._href(calendar_id, name)
        resource = self._client.get(href)
        if resource is None:
            raise NotFound(f"no event {event_id!r} in calendar {calendar_id!r}")
        if rid is not None:
            raise NotAGrowthBlock(f"event {event_id!r} is an occurrence of a series")
        event = self._live(resource, calendar_id, event_id)
        if event.tag is None:
            raise NotAGrowthBlock(f"event {event_id!r} is not a growth block")
        return href, resource, event


def _rid_moment(rid: str) -> datetime:
    try:
        return mapping.parse_rid(rid, UTC)
    except ValueError:
        raise NotFound(f"malformed occurrence id {rid!r}") from None


def _looks_default(name: str, url: str) -> bool:
    words = {"calendar", "default", "personal", "home", "work"}
    return name.strip().lower() in words or url.rstrip("/").rsplit("/", 1)[-1].lower() in words


def _zone_name(tzid: str | None) -> str | None:
    if not tzid:
        return None
    try:
        ZoneInfo(tzid)
    except (ZoneInfoNotFoundError, ValueError):
        return None
    return tzid


def make_factory(
    *, timeout: float = 30.0, clock: Clock = _utc_now, reach: Reach = PUBLIC_ONLY
) -> ConnectorFactory:
    """A registry factory building `CalDavConnector`s from stored credential blobs.

    `reach` says which non-public addresses the servers may be at (connectors/netpolicy).
    """

    def factory(credentials: bytes | None, save: SaveCredentials) -> CalendarConnector:
        del save  # an app password never changes by itself
        return CalDavConnector(load(credentials), timeout=timeout, clock=clock, reach=reach)

    return factory

"""The connector contract: normalised calendar types and the `CalendarConnector` protocol."""

from __future__ import annotations

import enum
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from typing import ClassVar, Protocol, runtime_checkable

from connectors.errors import ConnectorError, RateLimited, ReauthRequired

__all__ = [
    "BlockSpec",
    "BlockTag",
    "CalendarConnector",
    "CalendarInfo",
    "Capability",
    "Event",
    "EventStatus",
    "EventType",
    "Response",
    "SaveCredentials",
    "SelfResponse",
    "SyncPage",
    "Watch",
    "as_utc",
    "create_each",
    "utc_midnight",
]

SaveCredentials = Callable[[bytes], None]
"""Called by a connector with its new credential blob whenever it refreshed it."""


class Capability(enum.Flag):
    """What a connector can do beyond reading calendars and events."""

    WRITE = enum.auto()  # create/update/delete growth blocks
    RESPOND = enum.auto()  # RSVP to invites
    PUSH = enum.auto()  # watch() returns a Watch
    INCREMENTAL_SYNC = enum.auto()  # sync() with a cursor returns only changes
    FOCUS_TIME = enum.auto()  # BlockSpec.focus_time creates a native focus-time event


class Response(enum.StrEnum):
    """An RSVP the user sends."""

    ACCEPT = "accepted"
    DECLINE = "declined"
    TENTATIVE = "tentative"


class EventType(enum.StrEnum):
    DEFAULT = "default"
    FOCUS_TIME = "focusTime"
    OUT_OF_OFFICE = "outOfOffice"
    WORKING_LOCATION = "workingLocation"


class EventStatus(enum.StrEnum):
    CONFIRMED = "confirmed"
    TENTATIVE = "tentative"
    CANCELLED = "cancelled"


class SelfResponse(enum.StrEnum):
    """The user's own attendee status on an event."""

    NEEDS_ACTION = "needsAction"
    ACCEPTED = "accepted"
    TENTATIVE = "tentative"
    DECLINED = "declined"


def as_utc(value: datetime, name: str = "datetime") -> datetime:
    """Return `value` converted to UTC; raise ValueError if it is naive."""
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{name} must be timezone-aware, got naive {value.isoformat()}")
    return value.astimezone(UTC)


def utc_midnight(day: date) -> datetime:
    """The UTC midnight that encodes the floating date `day` in an all-day `Event`."""
    return datetime.combine(day, time(0), tzinfo=UTC)


@dataclass(frozen=True, slots=True)
class BlockTag:
    """The private tag GrowthGuard stores on each growth block it creates."""

    plan_id: str
    slot_key: str


@dataclass(frozen=True, slots=True)
class Event:
    """A normalised calendar event (one concrete occurrence, never a series master).

    `start`/`end` are aware and normalised to UTC. For all-day events they are the UTC
    midnights of the floating dates `[start.date(), end.date())`, not instants in any zone.
    `self_response` is None when the user is not an attendee (e.g. their own events).
    """

    id: str
    calendar_id: str
    title: str
    start: datetime
    end: datetime
    all_day: bool = False
    busy: bool = True
    status: EventStatus = EventStatus.CONFIRMED
    ical_uid: str | None = None
    series_id: str | None = None
    organizer_email: str | None = None
    self_is_organizer: bool = False
    self_response: SelfResponse | None = None
    attendee_count: int = 0
    is_online_meeting: bool = False
    tag: BlockTag | None = None
    event_type: EventType = EventType.DEFAULT
    updated: datetime | None = None

    def __post_init__(self) -> None:
        start, end = as_utc(self.start, "start"), as_utc(self.end, "end")
        if end < start:
            raise ValueError(f"event {self.id!r} ends before it starts")
        if self.all_day and (start.time() != time(0) or end.time() != time(0)):
            raise ValueError(f"all-day event {self.id!r} must start and end at UTC midnight")
        # frozen dataclass: normalising in place is the only way short of a factory
        object.__setattr__(self, "start", start)
        object.__setattr__(self, "end", end)
        if self.updated is not None:
            object.__setattr__(self, "updated", as_utc(self.updated, "updated"))

    @property
    def is_growth_block(self) -> bool:
        return self.tag is not None

    @property
    def out_of_office(self) -> bool:
        """The person is away: Google `outOfOffice`, Graph `showAs: oof`, CalDAV
        `X-MICROSOFT-CDO-BUSYSTATUS:OOF` (each connector maps it to `event_type`)."""
        return self.event_type is EventType.OUT_OF_OFFICE


@dataclass(frozen=True, slots=True)
class BlockSpec:
    """What a growth block should look like; `start`/`end` are aware (normalised to UTC)."""

    tag: BlockTag
    title: str
    start: datetime
    end: datetime
    description: str = ""
    focus_time: bool = False  # native focus-time event where Capability.FOCUS_TIME
    auto_decline: str | None = None  # provider mode, e.g. "declineOnlyNewConflictingInvitations"
    # Shown busy (opaque) or free (transparent): a flexible block is written free until its
    # threshold. A focus-time event is always busy, so `busy=False` books a plain event.
    busy: bool = True

    def __post_init__(self) -> None:
        start, end = as_utc(self.start, "start"), as_utc(self.end, "end")
        if end <= start:
            raise ValueError(f"block {self.tag.slot_key!r} must end after it starts")
        object.__setattr__(self, "start", start)
        object.__setattr__(self, "end", end)


@dataclass(frozen=True, slots=True)
class CalendarInfo:
    id: str
    name: str
    primary: bool = False
    can_write: bool = True
    timezone: str | None = None  # IANA name, when the provider says
    owned: bool = True


@dataclass(frozen=True, slots=True)
class SyncPage:
    """One answer of `CalendarConnector.sync`."""

    changed: list[Event]
    removed_ids: list[str]
    next_cursor: str


@dataclass(frozen=True, slots=True)
class Watch:
    """A push subscription; `secret` is what the provider echoes back to authenticate a hint."""

    id: str
    calendar_id: str
    resource_id: str | None
    expires_at: datetime
    secret: str

    def __post_init__(self) -> None:
        object.__setattr__(self, "expires_at", as_utc(self.expires_at, "expires_at"))


@runtime_checkable
class CalendarConnector(Protocol):
    """One connected calendar account at one provider.

    A connector is built from a credential blob and a `SaveCredentials` callback; it knows nothing
    about the database, the web layer or users. Methods are synchronous (the service runs them in
    worker threads), take and return aware datetimes, and return `Event`s in UTC. Failures are
    raised as `connectors.errors` types only; provider exceptions never escape.

    Events are concrete occurrences: recurring series are expanded to instances whose
    `series_id` is the series id and whose own ids are stable and distinct. Cancelled events are
    treated as gone: never returned, reported by `sync` as removed, `NotFound` when addressed.

    Methods:

    - `list_calendars()`: the calendars visible in the account.
    - `list_events(calendar_id, start, end)`: events overlapping the half-open `[start, end)`
      (an event ending exactly at `start` or starting at `end` is outside), series expanded,
      sorted by start. All-day events overlap by their UTC-midnight encoding.
    - `sync(calendar_id, cursor)`: `cursor=None` is a full sync, all current events in
      `changed`. Otherwise only what changed since the cursor: added or modified events
      (including RSVP changes) in `changed`, ids of deleted or cancelled events in `removed_ids`
      (which may name ids the caller never saw). Always use the returned `next_cursor`.
      Raises `CursorExpired` when the provider rejects the cursor; the caller then full-syncs.
    - `create_block(calendar_id, spec)`: idempotent by `spec.tag.slot_key` - when a block with
      that slot key exists it is returned unchanged, never duplicated (use `update_block` to
      change it). The block is busy or free as `spec.busy` says, owned by the user and
      carries `spec.tag`.
    - `create_blocks(calendar_id, specs)`: `create_block` for several blocks of one calendar,
      in as few provider calls as the provider allows (Google and Graph batch them). Returns one
      entry per spec, in order: the block, or the `ConnectorError` that spec met (the others
      are unaffected; a failed one may still exist at the provider, and creating it again by
      its slot key adopts it). Connectors without batching loop (`create_each`).
    - `find_block(calendar_id, slot_key)`: the growth block with that slot key, or None.
    - `update_block(calendar_id, event_id, spec)`: reshape a block, keeping its id; its
      transparency follows `spec.busy` (how a flexible block turns busy).
    - `delete_block(calendar_id, event_id)`.
      Both raise `NotAGrowthBlock` for untagged events (left untouched) and `NotFound` for
      unknown ids.
    - `respond(calendar_id, event_id, response, message, propose)`: change only the user's own
      RSVP (optionally with a message and a proposed new time); for one instance of a series it
      touches that instance only. `PermissionDenied` when the user organizes the event or is not
      an attendee. Returns the updated event.
    - `watch(calendar_id, callback_url, secret)`: start push notifications, or return None when
      the connector lacks `Capability.PUSH`. `unwatch(watch)` stops one; unknown watches are
      ignored. `renew_watch(watch)` extends one in place where the provider can (Graph), else
      returns None (open a new one with `watch`); `NotFound` when the provider dropped it.
    - `focus_time_unsupported`: the calendars where the provider refused a focus-time block;
      the app remembers them so later blocks there are plain events.

    Writes on a calendar with `can_write=False` raise `PermissionDenied`.
    """

    provider: ClassVar[str]
    capabilities: ClassVar[Capability]

    def list_calendars(self) -> list[CalendarInfo]: ...

    def list_events(self, calendar_id: str, start: datetime, end: datetime) -> list[Event]: ...

    def sync(self, calendar_id: str, cursor: str | None) -> SyncPage: ...

    def create_block(self, calendar_id: str, spec: BlockSpec) -> Event: ...

    def create_blocks(
        self, calendar_id: str, specs: list[BlockSpec]
    ) -> list[Event | ConnectorError]: ...

    def find_block(self, calendar_id: str, slot_key: str) -> Event | None: ...

    def update_block(self, calendar_id: str, event_id: str, spec: BlockSpec) -> Event: ...

    def delete_block(self, calendar_id: str, event_id: str) -> None: ...

    def respond(
        self,
        calendar_id: str,
        event_id: str,
        response: Response,
        message: str | None = None,
        propose: tuple[datetime, datetime] | None = None,
    ) -> Event:
        """RSVP as the user; an answer the user already gives is not sent again."""
        ...

    def watch(
        self, calendar_id: str, callback_url: str, secret: str, channel_id: str | None = None
    ) -> Watch | None:
        """Open a push channel. `channel_id` names it where the client may choose (Google), so
        the caller can record the channel before the provider's first message arrives."""
        ...

    def unwatch(self, watch: Watch) -> None: ...

    def renew_watch(self, watch: Watch) -> Watch | None:
        """Extend a push channel in place; None where the provider cannot (watch() again)."""
        ...

    @property
    def focus_time_unsupported(self) -> frozenset[str]:
        """Calendars where a focus-time block was refused (later blocks there are plain)."""
        ...


def create_each(
    connector: CalendarConnector, calendar_id: str, specs: list[BlockSpec]
) -> list[Event | ConnectorError]:
    """`create_blocks` one `create_block` at a time (providers without batching).

    After a refused grant or a rate limit the rest are not tried: they get the same error."""
    out: list[Event | ConnectorError] = []
    for spec in specs:
        if out and isinstance(out[-1], ReauthRequired | RateLimited):
            out.append(out[-1])
            continue
        try:
            out.append(connector.create_block(calendar_id, spec))
        except ConnectorError as error:
            out.append(error)
    return out

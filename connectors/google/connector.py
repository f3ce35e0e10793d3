"""`GoogleConnector`: the connector contract over Google Calendar v3."""

from __future__ import annotations

import contextlib
import threading
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar

from connectors.base import (
    BlockSpec,
    CalendarConnector,
    CalendarInfo,
    Capability,
    Event,
    Response,
    SaveCredentials,
    SyncPage,
    Watch,
    as_utc,
)
from connectors.errors import (
    Collision,
    ConnectorError,
    CursorExpired,
    NotAGrowthBlock,
    NotFound,
    PermissionDenied,
    ReauthRequired,
    TransientError,
)
from connectors.google.client import JSON, MAX_BATCH, BadRequest, GoogleClient
from connectors.google.mapping import (
    LISTED_EVENT_TYPES,
    block_body,
    event_from_google,
    event_id_for_slot,
    iso_utc,
    self_attendee,
    tag_of,
)
from connectors.google.oauth import GoogleConfig
from connectors.recent import Recent
from connectors.registry import ConnectorFactory

__all__ = ["SYNCED", "FocusMemory", "GoogleConnector", "make_factory"]

# Events the last sync returned, by (calendar, event): answering one needs no events.get.
# "self" in an item refers to the calendar it appears on, whichever account synced it.
SYNCED: Recent[JSON] = Recent()

_PAGE = 250
# Google filters all-day events by the calendar's own zone; widen the query and filter here.
_SLACK = timedelta(days=1)
_WATCH_TTL = "604800"  # seven days, Google's default; channels are renewed before expiry


class FocusMemory:
    """Whether Google took focus time on a calendar, as far as it has answered (thread-safe).

    A registry factory shares one among the connectors it builds (they live for one task), so
    only a calendar's first booking probes with one block before batching the rest."""

    def __init__(self, limit: int = 100_000) -> None:
        self._answers: dict[str, bool] = {}
        self._limit = limit
        self._lock = threading.Lock()

    def get(self, calendar_id: str) -> bool | None:
        with self._lock:
            return self._answers.get(calendar_id)

    def learn(self, calendar_id: str, taken: bool) -> None:
        with self._lock:
            if len(self._answers) >= self._limit:
                self._answers.clear()  # rare: start over (a calendar then probes once more)
            self._answers[calendar_id] = taken


def _inserter(calendar_id: str, body: JSON) -> Callable[[Any], Any]:
    return lambda service: service.events().insert(calendarId=calendar_id, body=body)


def _by_start(events: list[Event]) -> list[Event]:
    return sorted(events, key=lambda e: (e.start, e.end, e.id))


class GoogleConnector:
    """One Google account. See `CalendarConnector` for the semantics of every method.

    Growth blocks get the event id `event_id_for_slot(slot_key)`, which makes creation idempotent
    (Google answers a repeated insert with 409). Native focus time is tried once per calendar;
    calendars where Google refuses it are remembered in `focus_time_unsupported`.
    """

    provider: ClassVar[str] = "google"
    capabilities: ClassVar[Capability] = (
        Capability.WRITE
        | Capability.RESPOND
        | Capability.PUSH
        | Capability.INCREMENTAL_SYNC
        | Capability.FOCUS_TIME
    )

    def __init__(
        self,
        config: GoogleConfig,
        credentials: bytes,
        save: SaveCredentials,
        focus: FocusMemory | None = None,
    ) -> None:
        self._client = GoogleClient(config, credentials, save)
        self._focus_unsupported: set[str] = set()
        self._focus = focus or FocusMemory()

    @property
    def focus_time_unsupported(self) -> frozenset[str]:
        """Calendars where Google refused a focus-time event; blocks there are plain events."""
        return frozenset(self._focus_unsupported)

    # --- reading -----------------------------------------------------------------------------

    def list_calendars(self) -> list[CalendarInfo]:
        """The account's calendar list."""
        calendars = []
        pages = self._client.pages(
            lambda s, token: s.calendarList().list(maxResults=_PAGE, pageToken=token),
            "calendarList.list",
        )
        for page in pages:
            for item in page.get("items") or []:
                role = item.get("accessRole", "reader")
                calendars.append(
                    CalendarInfo(
                        id=item["id"],
                        name=item.get("summaryOverride") or item.get("summary") or item["id"],
                        primary=bool(item.get("primary")),
                        can_write=role in ("owner", "writer"),
                        timezone=item.get("timeZone"),
                        owned=role == "owner",
                    )
                )
        return calendars

    def list_events(self, calendar_id: str, start: datetime, end: datetime) -> list[Event]:
        """Live events overlapping [start, end), instances expanded, by start."""
        start, end = as_utc(start, "start"), as_utc(end, "end")
        if end < start:
            raise ValueError("window ends before it starts")
        pages = self._client.pages(
            lambda s, token: s.events().list(
                calendarId=calendar_id,
                singleEvents=True,
                timeMin=iso_utc(start - _SLACK),
                timeMax=iso_utc(end + _SLACK),
                eventTypes=LISTED_EVENT_TYPES,
                maxResults=_PAGE,
                pageToken=token,
            ),
            "events.list",
        )
        events = [
            event_from_google(item, calendar_id)
            for page in pages
            for item in page.get("items") or []
            if item.get("status") != "cancelled"
        ]
        return _by_start([e for e in events if e.start < end and e.end > start])

    def sync(self, calendar_id: str, cursor: str | None) -> SyncPage:
        """Full sync (no time bounds, no ordering: the only way to get a sync token) or delta."""
        params: dict[str, Any] = {
            "calendarId": calendar_id,
            "singleEvents": True,
            "eventTypes": LISTED_EVENT_TYPES,
            "maxResults": _PAGE,
        }
        if cursor is not None:
            params["syncToken"] = cursor
        changed: dict[str, Event] = {}
        removed: set[str] = set()
        next_cursor: str | None = None
        pages = self._client.pages(
            lambda s, token: s.events().list(pageToken=token, **params),
            "events.list (sync)",
            gone=CursorExpired if cursor is not None else NotFound,
        )
        for page in pages:
            for item in page.get("items") or []:
                if item.get("status") == "cancelled":
                    changed.pop(item["id"], None)
                    SYNCED.forget((calendar_id, item["id"]))
                    if cursor is not None:
                        removed.add(item["id"])
                else:
                    removed.discard(item["id"])
                    changed[item["id"]] = event_from_google(item, calendar_id)
                    SYNCED.keep((calendar_id, item["id"]), item)
            next_cursor = page.get("nextSyncToken") or next_cursor
        if not next_cursor:
            raise TransientError("Google sync ended without a nextSyncToken")
        return SyncPage(
            changed=_by_start(list(changed.values())),
            removed_ids=sorted(removed),
            next_cursor=next_cursor,
        )

    # --- growth blocks -----------------------------------------------------------------------

    def create_block(self, calendar_id: str, spec: BlockSpec) -> Event:
        """Insert the block under its slot-derived id; an existing block is returned as is."""
        event_id = event_id_for_slot(spec.tag.slot_key)
        # focus time is always busy: a block written free is a plain event
        focus = spec.focus_time and spec.busy and calendar_id not in self._focus_unsupported
        try:
            item = self._insert(calendar_id, spec, event_id, focus)
        except BadRequest:
            if not focus:
                raise
            # Google does not say why (consumer account, secondary calendar): stop asking
            self._focus_unsupported.add(calendar_id)
            self._focus.learn(calendar_id, False)
            item = self._insert(calendar_id, spec, event_id, False)
        else:
            if focus:
                self._focus.learn(calendar_id, True)
        return event_from_google(item, calendar_id)

    def create_blocks(
        self, calendar_id: str, specs: list[BlockSpec]
    ) -> list[Event | ConnectorError]:
        """`create_block` for several blocks: the inserts go in batch requests (one HTTP call
        per `MAX_BATCH`); a part Google refused for an existing id (409) or focus time (400)
        is settled one by one as `create_block` settles it; other failures are returned."""
        out: list[Event | ConnectorError] = []
        known = self._focus.get(calendar_id)
        if known is False:
            self._focus_unsupported.add(calendar_id)
        if specs and specs[0].focus_time and known is None:
            # Whether Google takes focus time here is learnt from one block, not from a
            # batch of refusals: the first goes alone.
            try:
                out.append(self.create_block(calendar_id, specs[0]))
            except ConnectorError as error:
                out.append(error)
            specs = specs[1:]
        for first in range(0, len(specs), MAX_BATCH):
            out.extend(self._create_chunk(calendar_id, specs[first : first + MAX_BATCH]))
        return out

    def _create_chunk(
        self, calendar_id: str, specs: list[BlockSpec]
    ) -> list[Event | ConnectorError]:
        focus = calendar_id not in self._focus_unsupported
        bodies = [
            block_body(spec, event_id_for_slot(spec.tag.slot_key), spec.focus_time and focus)
            for spec in specs
        ]
        answers = self._client.execute_batch(
            [_inserter(calendar_id, body) for body in bodies], "events.insert"
        )
        sent_focus = focus and any(spec.focus_time for spec in specs)
        if sent_focus and any(isinstance(a, BadRequest) for a in answers):
            # refused after all: the parts settled alone below go plain at once
            self._focus_unsupported.add(calendar_id)
            self._focus.learn(calendar_id, False)
        out: list[Event | ConnectorError] = []
        for spec, answer in zip(specs, answers, strict=True):
            if isinstance(answer, Collision | BadRequest):
                try:  # an existing id, or focus time refused: as create_block does it
                    out.append(self.create_block(calendar_id, spec))
                except ConnectorError as error:
                    out.append(error)
            elif isinstance(answer, ConnectorError):
                out.append(answer)
            else:
                out.append(event_from_google(answer, calendar_id))
        return out

    def _insert(self, calendar_id: str, spec: BlockSpec, event_id: str, focus: bool) -> JSON:
        body = block_body(spec, event_id, focus)
        try:
            return self._client.execute(
                lambda s: s.events().insert(calendarId=calendar_id, body=body), "events.insert"
            )
        except Collision:
            existing = self._get(calendar_id, event_id)
        if existing.get("status") == "cancelled":
            # Google keeps deleted ids reserved; bring the old block back in the new shape.
            # Its type cannot change, so keep whatever it was created as.
            body = block_body(spec, event_id, existing.get("eventType") == "focusTime")
            body["status"] = "confirmed"
            return self._client.execute(
                lambda s: s.events().update(calendarId=calendar_id, eventId=event_id, body=body),
                "events.update",
            )
        tag = tag_of(existing)
        if tag is None or tag.slot_key != spec.tag.slot_key:
            raise Collision(f"event id {event_id!r} is taken by an event GrowthGuard did not tag")
        return existing

    def find_block(self, calendar_id: str, slot_key: str) -> Event | None:
        """The live block with this slot key (looked up by its derived id), or None."""
        try:
            item = self._get(calendar_id, event_id_for_slot(slot_key))
        except NotFound:
            return None
        tag = tag_of(item)
        if item.get("status") == "cancelled" or tag is None or tag.slot_key != slot_key:
            return None
        return event_from_google(item, calendar_id)

    def update_block(self, calendar_id: str, event_id: str, spec: BlockSpec) -> Event:
        """Patch time, title, description and tag of a block; its id and type stay.

        A block moved to another slot key keeps its old id, so `find_block` will not see it
        under the new key (the booking service never re-keys blocks).
        """
        current = self._block(calendar_id, event_id)
        rekeyed = tag_of(current) != spec.tag
        other = self.find_block(calendar_id, spec.tag.slot_key) if rekeyed else None
        if other is not None and other.id != event_id:
            raise Collision(f"slot {spec.tag.slot_key!r} is already booked as {other.id!r}")
        body = block_body(spec, event_id, current.get("eventType") == "focusTime")
        for fixed in ("id", "eventType", "reminders"):
            body.pop(fixed, None)
        item = self._client.execute(
            lambda s: s.events().patch(calendarId=calendar_id, eventId=event_id, body=body),
            "events.patch",
        )
        return event_from_google(item, calendar_id)

    def delete_block(self, calendar_id: str, event_id: str) -> None:
        """Delete a block (Google keeps it as cancelled)."""
        self._block(calendar_id, event_id)
        self._client.execute(
            lambda s: s.events().delete(calendarId=calendar_id, eventId=event_id),
            "events.delete",
        )

    # --- RSVPs and push ----------------------------------------------------------------------

    def respond(
        self,
        calendar_id: str,
        event_id: str,
        response: Response,
        message: str | None = None,
        propose: tuple[datetime, datetime] | None = None,
    ) -> Event:
        """Set only the user's own attendee status (and comment), telling the organizer.

        Google's API cannot propose a new time, so `propose` is validated and not sent.
        """
        if propose is not None and as_utc(propose[1]) <= as_utc(propose[0]):
            raise ValueError("proposed time must end after it starts")
        # what the sync that led to this answer returned, or else the event as it is now
        current = SYNCED.take((calendar_id, event_id)) or self._live(calendar_id, event_id)
        if (current.get("organizer") or {}).get("self"):
            raise PermissionDenied(f"event {event_id!r} is organized by the user")
        me = self_attendee(current)
        if me is None:
            raise PermissionDenied(f"the user is not an attendee of event {event_id!r}")
        if me.get("responseStatus") == response.value:
            # Already answered so (e.g. by a run that crashed before recording it): sending it
            # again would notify the organizer twice.
            return event_from_google(current, calendar_id)
        entry: JSON = {"email": me["email"], "responseStatus": response.value}
        if message is not None:
            entry["comment"] = message
        # attendeesOmitted: patching `attendees` would otherwise replace the whole guest list
        body = {"attendeesOmitted": True, "attendees": [entry]}
        item = self._client.execute(
            lambda s: s.events().patch(
                calendarId=calendar_id, eventId=event_id, body=body, sendUpdates="all"
            ),
            "events.patch (respond)",
        )
        if item.get("attendeesOmitted") or not item.get("attendees"):
            merged = [{**a, **entry} if a.get("self") else a for a in current["attendees"]]
            item = {**current, **item, "attendees": merged}
        return event_from_google(item, calendar_id)

    def watch(
        self, calendar_id: str, callback_url: str, secret: str, channel_id: str | None = None
    ) -> Watch:
        """Open a web_hook channel on the calendar's events; `secret` comes back as its token.

        `channel_id` (at most 64 characters) lets the caller record the channel first.
        """
        if channel_id is not None and not 1 <= len(channel_id) <= 64:
            raise ValueError("a Google channel id has 1-64 characters")
        body = {
            "id": channel_id or uuid.uuid4().hex,
            "type": "web_hook",
            "address": callback_url,
            "token": secret,
            "params": {"ttl": _WATCH_TTL},
        }
        item = self._client.execute(
            lambda s: s.events().watch(
                calendarId=calendar_id, body=body, eventTypes=LISTED_EVENT_TYPES
            ),
            "events.watch",
        )
        expiration = datetime.fromtimestamp(int(item["expiration"]) / 1000, UTC)
        return Watch(
            id=item.get("id", body["id"]),
            calendar_id=calendar_id,
            resource_id=item.get("resourceId"),
            expires_at=expiration,
            secret=secret,
        )

    def unwatch(self, watch: Watch) -> None:
        """Stop a channel; unknown or expired channels are ignored."""
        body = {"id": watch.id, "resourceId": watch.resource_id}
        with contextlib.suppress(NotFound):
            self._client.execute(lambda s: s.channels().stop(body=body), "channels.stop")

    # --- helpers -----------------------------------------------------------------------------

    def renew_watch(self, watch: Watch) -> Watch | None:
        """Google channels cannot be extended: a new channel replaces one near its end."""
        return None

    def _get(self, calendar_id: str, event_id: str) -> JSON:
        return self._client.execute(
            lambda s: s.events().get(calendarId=calendar_id, eventId=event_id), "events.get"
        )

    def _live(self, calendar_id: str, event_id: str) -> JSON:
        item = self._get(calendar_id, event_id)
        if item.get("status") == "cancelled":
            raise NotFound(f"event {event_id!r} was cancelled")
        return item

    def _block(self, calendar_id: str, event_id: str) -> JSON:
        item = self._live(calendar_id, event_id)
        if tag_of(item) is None:
            raise NotAGrowthBlock(f"event {event_id!r} is not a growth block")
        return item


def make_factory(config: GoogleConfig) -> ConnectorFactory:
    """A registry factory building `GoogleConnector`s with `config`."""

    focus = FocusMemory()

    def factory(credentials: bytes | None, save: SaveCredentials) -> CalendarConnector:
        if credentials is None:
            raise ReauthRequired("no Google credentials stored for this account")
        return GoogleConnector(config, credentials, save, focus)

    return factory

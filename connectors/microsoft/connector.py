"""`MicrosoftConnector`: the connector contract over Microsoft Graph (Outlook / Microsoft 365)."""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar
from urllib.parse import urlsplit, urlunsplit

from connectors.base import (
    BlockSpec,
    BlockTag,
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
)
from connectors.errors import (
    Collision,
    ConnectorError,
    CursorExpired,
    NotAGrowthBlock,
    NotFound,
    PermissionDenied,
    ReauthRequired,
)
from connectors.microsoft.client import MAX_BATCH, BatchPart, GraphClient, segment
from connectors.microsoft.mapping import (
    CATEGORY,
    block_body,
    calendar_info,
    event_from_graph,
    expand_tag,
    graph_datetime,
    parse_instant,
    slot_filter,
)
from connectors.microsoft.oauth import MicrosoftConfig, TokenSource
from connectors.recent import Recent
from connectors.registry import ConnectorFactory

__all__ = [
    "SYNCED",
    "SYNC_FUTURE",
    "SYNC_PAST",
    "WATCH_LIFETIME",
    "WRITTEN",
    "MicrosoftConnector",
    "make_factory",
]

# Graph's delta works over a window fixed when the cursor is started.
SYNC_PAST, SYNC_FUTURE = timedelta(days=7), timedelta(weeks=12)
# A full sync re-anchors the window once it has drifted this far behind the clock.
SYNC_REANCHOR = timedelta(days=7)
# Outlook event subscriptions live at most 4230 minutes; stay clear of the cap.
WATCH_LIFETIME = timedelta(hours=70)
_CURSOR_PREFIX = "ms1|"
_PAGE = 100
_ACTIONS = {
    Response.ACCEPT: "accept",
    Response.DECLINE: "decline",
    Response.TENTATIVE: "tentativelyAccept",
}
_AFTER = {
    Response.ACCEPT: SelfResponse.ACCEPTED,
    Response.DECLINE: SelfResponse.DECLINED,
    Response.TENTATIVE: SelfResponse.TENTATIVE,
}

# Invites the last sync returned, by (calendar, event): answering one needs no read first.
SYNCED: Recent[dict[str, Any]] = Recent()
# The tag of each block version we wrote or read, by (calendar, event): (changeKey, tag). Delta
# cannot expand the tag; when a block comes back with the changeKey we know, it is unchanged
# since, so its tag is known without a read. A changeKey never repeats, so this never goes stale.
WRITTEN: Recent[tuple[str, BlockTag]] = Recent(fresh=None)


def _iso(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _remember(calendar_id: str, item: dict[str, Any], tag: BlockTag | None) -> None:
    """Note the tag of this version of a block (see `WRITTEN`)."""
    change_key = item.get("changeKey")
    if tag is not None and isinstance(change_key, str) and change_key:
        WRITTEN.keep((calendar_id, str(item["id"])), (change_key, tag))


def _sorted(events: list[Event]) -> list[Event]:
    return sorted(events, key=lambda e: (e.start, e.end, e.id))


class MicrosoftConnector:
    """One Microsoft 365 / Outlook.com account via Graph (see `CalendarConnector`).

    `credentials` is a serialized MSAL token cache; `save` receives it whenever MSAL changed it.
    `clock` anchors the sync window and watch expiry. Growth blocks carry their tag in two
    single-value extended properties and the "Growth" category (which delta results show).
    """

    provider: ClassVar[str] = "microsoft"
    capabilities: ClassVar[Capability] = (
        Capability.WRITE | Capability.RESPOND | Capability.PUSH | Capability.INCREMENTAL_SYNC
    )

    def __init__(
        self,
        config: MicrosoftConfig,
        credentials: bytes,
        save: SaveCredentials,
        *,
        home_account_id: str | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.tokens = TokenSource(config, credentials, save, home_account_id)
        self.client = GraphClient(config, self.tokens)
        self._clock = clock

    def close(self) -> None:
        """Release the HTTP connection pool."""
        self.client.close()

    # --- reading ------------------------------------------------------------------------------

    def list_calendars(self) -> list[CalendarInfo]:
        """The account's calendars (`owned` when the signed-in user owns them)."""
        email = self.tokens.username
        return [
            calendar_info(item, email)
            for page in self.client.pages("/me/calendars")
            for item in page.get("value", [])
        ]

    def list_events(self, calendar_id: str, start: datetime, end: datetime) -> list[Event]:
        """Live occurrences overlapping [start, end), sorted (calendarView never has masters)."""
        start, end = as_utc(start, "start"), as_utc(end, "end")
        if end < start:
            raise ValueError("window ends before it starts")
        events = [
            e
            for e in self._view(calendar_id, start, end)
            if e.status is not EventStatus.CANCELLED and e.start < end and e.end > start
        ]
        return _sorted(events)

    def _view(self, calendar_id: str, start: datetime, end: datetime) -> list[Event]:
        params = {"startDateTime": _iso(start), "endDateTime": _iso(end), "$expand": expand_tag()}
        return [
            event_from_graph(item, calendar_id)
            for page in self.client.pages(f"{self._cal(calendar_id)}/calendarView", params, _PAGE)
            for item in page.get("value", [])
            if item.get("type") != "seriesMaster"
        ]

    def sync(self, calendar_id: str, cursor: str | None) -> SyncPage:
        """Full sync over [now - 7 days, now + 12 weeks) without a cursor, else the delta."""
        delta_path = f"{self._cal(calendar_id)}/calendarView/delta"
        if cursor is None:
            anchor = self._clock()
            start, end = anchor - SYNC_PAST, anchor + SYNC_FUTURE
            url = delta_path
            params: dict[str, str] | None = {"startDateTime": _iso(start), "endDateTime": _iso(end)}
        else:
            anchor, url = self._parse_cursor(cursor, calendar_id)
            params = None
        changed: dict[str, Event] = {}
        removed: set[str] = set()
        candidates: dict[str, str | None] = {}  # likely growth blocks → their changeKey
        while True:
            page: dict[str, Any] = self.client.request("GET", url, params=params, page_size=_PAGE)
            # Graph may replay items across pages and rounds: the last word on an id wins.
            for item in page.get("value", []):
                event_id = str(item["id"])
                if "@removed" in item:  # deleted, or moved out of the window
                    self._gone(calendar_id, event_id, changed, removed)
                    continue
                if item.get("type") == "seriesMaster":
                    continue
                event = event_from_graph(item, calendar_id)
                if event.status is EventStatus.CANCELLED:
                    self._gone(calendar_id, event_id, changed, removed)
                    continue
                removed.discard(event_id)
                changed[event_id] = event
                if CATEGORY in (item.get("categories") or []):
                    candidates[event_id] = item.get("changeKey")
                if event.self_response is not None:  # an invite: it may be answered next
                    SYNCED.keep((calendar_id, event_id), item)
            if "@odata.deltaLink" in page:
                link = page["@odata.deltaLink"]
                next_cursor = f"{_CURSOR_PREFIX}{calendar_id}|{_iso(anchor)}|{link}"
                break
            url, params = page["@odata.nextLink"], None
        self._read_tags(calendar_id, changed, candidates, removed)
        return SyncPage(
            changed=_sorted(list(changed.values())),
            removed_ids=sorted(removed) if cursor is not None else [],
            next_cursor=next_cursor,
        )

    def _parse_cursor(self, cursor: str, calendar_id: str) -> tuple[datetime, str]:
        # Our cursor wraps Graph's opaque deltaLink with the calendar and the window's anchor.
        if not cursor.startswith(_CURSOR_PREFIX):
            raise CursorExpired("malformed Microsoft sync cursor")
        try:
            owner, anchor_text, link = cursor.removeprefix(_CURSOR_PREFIX).split("|", 2)
            anchor = parse_instant(anchor_text)
        except ValueError:
            raise CursorExpired("malformed Microsoft sync cursor") from None
        if owner != calendar_id or not link.startswith(self.client.base + "/"):
            raise CursorExpired("the sync cursor belongs to another calendar")
        if self._clock() - anchor > SYNC_REANCHOR:
            raise CursorExpired("the sync window has drifted; a full sync re-anchors it")
        return anchor, link

    @staticmethod
    def _gone(
        calendar_id: str, event_id: str, changed: dict[str, Event], removed: set[str]
    ) -> None:
        changed.pop(event_id, None)
        removed.add(event_id)
        SYNCED.forget((calendar_id, event_id))

    def _read_tags(
        self,
        calendar_id: str,
        changed: dict[str, Event],
        candidates: dict[str, str | None],
        removed: set[str],
    ) -> None:
        # Delta cannot $expand extended properties: the tags of likely growth blocks (they carry
        # our category) come from what we wrote when unchanged since, else are read one by one.
        for event_id, change_key in sorted(candidates.items()):
            if event_id not in changed:  # a later item of the round removed it
                continue
            known = WRITTEN.peek((calendar_id, event_id))
            if known is not None and change_key is not None and known[0] == change_key:
                changed[event_id] = dataclasses.replace(changed[event_id], tag=known[1])
                continue
            try:
                event = self._get(calendar_id, event_id)
            except NotFound:  # deleted since the delta page was produced
                self._gone(calendar_id, event_id, changed, removed)
                continue
            changed[event_id] = dataclasses.replace(changed[event_id], tag=event.tag)

    # --- blocks -------------------------------------------------------------------------------

    def create_block(self, calendar_id: str, spec: BlockSpec) -> Event:
        """Create the block unless one with its slot key exists (then return that one).

        `focus_time` and `auto_decline` have no Graph equivalent and are ignored.
        """
        existing = self.find_block(calendar_id, spec.tag.slot_key)
        if existing is not None:
            return existing
        item = self.client.request(
            "POST", f"{self._cal(calendar_id)}/events", json=block_body(spec)
        )
        event = event_from_graph(item, calendar_id)
        # POST answers omit extended properties unless expanded; we know what we stored
        _remember(calendar_id, item, spec.tag)
        return dataclasses.replace(event, tag=spec.tag)

    def create_blocks(
        self, calendar_id: str, specs: list[BlockSpec]
    ) -> list[Event | ConnectorError]:
        """`create_block` for several blocks in two JSON batches per 20: one looks every slot
        key up, the other creates the blocks not found. Each block gets its own answer."""
        out: list[Event | ConnectorError] = []
        for first in range(0, len(specs), MAX_BATCH):
            out.extend(self._create_chunk(calendar_id, specs[first : first + MAX_BATCH]))
        return out

    def _create_chunk(
        self, calendar_id: str, specs: list[BlockSpec]
    ) -> list[Event | ConnectorError]:
        events = f"{self._cal(calendar_id)}/events"
        found = self.client.batch(
            [BatchPart("GET", events, params=self._slot_params(s.tag.slot_key)) for s in specs]
        )
        out: list[Event | ConnectorError | None] = []
        missing: list[int] = []
        for index, (spec, page) in enumerate(zip(specs, found, strict=True)):
            if isinstance(page, ConnectorError):
                out.append(page)
                continue
            existing = self._tagged(page or {}, calendar_id, spec.tag.slot_key)
            if existing is None and (page or {}).get("@odata.nextLink"):
                try:  # more than a page of look-alikes (rare): look it up the long way
                    existing = self.find_block(calendar_id, spec.tag.slot_key)
                except ConnectorError as error:
                    out.append(error)
                    continue
            out.append(existing)
            if existing is None:
                missing.append(index)
        first: dict[str, int] = {}  # a slot key asked for twice is created once
        for index in missing:
            first.setdefault(specs[index].tag.slot_key, index)
        creating = list(first.values())
        created = self.client.batch(
            [BatchPart("POST", events, json=block_body(specs[i])) for i in creating]
        )
        answers: dict[str, Event | ConnectorError] = {}
        for index, item in zip(creating, created, strict=True):
            tag = specs[index].tag
            if isinstance(item, ConnectorError):
                answers[tag.slot_key] = item
                continue
            _remember(calendar_id, item, tag)
            answers[tag.slot_key] = dataclasses.replace(
                event_from_graph(item, calendar_id), tag=tag
            )
        for index in missing:
            out[index] = answers[specs[index].tag.slot_key]
        done: list[Event | ConnectorError] = []
        for entry in out:
            if entry is None:  # cannot happen: every missing block got an answer above
                raise ConnectorError("a block of the batch got no answer")
            done.append(entry)
        return done

    def find_block(self, calendar_id: str, slot_key: str) -> Event | None:
        """The live growth block with this slot key, if any."""
        params = self._slot_params(slot_key)
        for page in self.client.pages(f"{self._cal(calendar_id)}/events", params):
            event = self._tagged(page, calendar_id, slot_key)
            if event is not None:
                return event
        return None

    @staticmethod
    def _slot_params(slot_key: str) -> dict[str, str]:
        return {"$filter": slot_filter(slot_key), "$expand": expand_tag()}

    @staticmethod
    def _tagged(page: dict[str, Any], calendar_id: str, slot_key: str) -> Event | None:
        for item in page.get("value", []):
            event = event_from_graph(item, calendar_id)
            # the value filter is case-insensitive at Graph: check the exact key here
            tagged = event.tag is not None and event.tag.slot_key == slot_key
            if tagged and event.status is not EventStatus.CANCELLED:
                _remember(calendar_id, item, event.tag)
                return event
        return None

    def update_block(self, calendar_id: str, event_id: str, spec: BlockSpec) -> Event:
        """Reshape a growth block in place (same id)."""
        current = self._block(calendar_id, event_id)
        if current.tag is not None and current.tag.slot_key != spec.tag.slot_key:
            other = self.find_block(calendar_id, spec.tag.slot_key)
            if other is not None and other.id != event_id:
                raise Collision(f"slot {spec.tag.slot_key!r} is already booked")
        path = f"{self._cal(calendar_id)}/events/{segment(event_id)}"
        item = self.client.request("PATCH", path, json=block_body(spec))
        _remember(calendar_id, item, spec.tag)
        return dataclasses.replace(event_from_graph(item, calendar_id), tag=spec.tag)

    def delete_block(self, calendar_id: str, event_id: str) -> None:
        """Delete a growth block; untagged events are refused."""
        self._block(calendar_id, event_id)
        self.client.request("DELETE", f"{self._cal(calendar_id)}/events/{segment(event_id)}")

    def _block(self, calendar_id: str, event_id: str) -> Event:
        event = self._get(calendar_id, event_id)
        if event.tag is None:
            raise NotAGrowthBlock("GrowthGuard only edits the growth blocks it created")
        return event

    def _get(self, calendar_id: str, event_id: str) -> Event:
        path = f"{self._cal(calendar_id)}/events/{segment(event_id)}"
        item = self.client.request("GET", path, params={"$expand": expand_tag()})
        event = event_from_graph(item, calendar_id)
        if event.status is EventStatus.CANCELLED:
            raise NotFound("the event was cancelled")
        _remember(calendar_id, item, event.tag)
        return event

    # --- RSVPs --------------------------------------------------------------------------------

    def respond(
        self,
        calendar_id: str,
        event_id: str,
        response: Response,
        message: str | None = None,
        propose: tuple[datetime, datetime] | None = None,
    ) -> Event:
        """RSVP as the user; an occurrence id answers that one only.

        The organizer is told unless they asked for no responses (`responseRequested: false`,
        where Graph refuses `sendResponse: true`); a new time is proposed only where the
        meeting allows proposals (and a response is sent), otherwise it is left out. The
        invite is read first unless a sync returned it moments ago; the answer is not read
        back (Graph answers 202 with no body): the event returned is the one read, answered.
        """
        item = SYNCED.take((calendar_id, event_id)) or self.client.request(
            "GET", f"{self._cal(calendar_id)}/events/{segment(event_id)}"
        )
        current = event_from_graph(item, calendar_id)
        if current.status is EventStatus.CANCELLED:
            raise NotFound("the event was cancelled")
        if current.self_is_organizer or current.self_response is None:
            raise PermissionDenied("only invitees can respond to an event")
        if current.self_response is _AFTER[response]:
            return current  # already answered so: the organizer is not told twice
        send = item.get("responseRequested", True) is not False
        body: dict[str, Any] = {"sendResponse": send}
        if message:
            body["comment"] = message
        if propose is not None:
            if response is Response.ACCEPT:
                raise ValueError("Graph proposes new times only when declining or tentative")
            if send and item.get("allowNewTimeProposals", True) is not False:
                body["proposedNewTime"] = {
                    "start": graph_datetime(as_utc(propose[0], "propose start")),
                    "end": graph_datetime(as_utc(propose[1], "propose end")),
                }
        path = f"/me/events/{segment(event_id)}/{_ACTIONS[response]}"
        self.client.request("POST", path, json=body)
        return dataclasses.replace(current, self_response=_AFTER[response])

    # --- push ---------------------------------------------------------------------------------

    def watch(
        self, calendar_id: str, callback_url: str, secret: str, channel_id: str | None = None
    ) -> Watch:
        """Subscribe to changes of the calendar's events (Graph names the subscription itself,
        so `channel_id` is ignored).

        Lifecycle notifications (reauthorizationRequired, subscriptionRemoved, missed) go to
        `callback_url` + "/lifecycle" by convention; Graph validates both URLs on creation.
        """
        parts = urlsplit(callback_url)
        lifecycle = urlunsplit(parts._replace(path=parts.path.rstrip("/") + "/lifecycle"))
        body = {
            "changeType": "created,updated,deleted",
            "notificationUrl": callback_url,
            "lifecycleNotificationUrl": lifecycle,
            "resource": f"{self._cal(calendar_id)}/events",
            "expirationDateTime": _iso(self._clock() + WATCH_LIFETIME),
            "clientState": secret,
        }
        item = self.client.request("POST", "/subscriptions", json=body)
        return Watch(
            id=str(item["id"]),
            calendar_id=calendar_id,
            resource_id=None,
            expires_at=parse_instant(str(item["expirationDateTime"])),
            secret=secret,
        )

    @property
    def focus_time_unsupported(self) -> frozenset[str]:
        """Graph has no focus-time event type: blocks are plain busy events everywhere."""
        return frozenset()

    def renew_watch(self, watch: Watch) -> Watch | None:
        """Extend a subscription; NotFound when Graph dropped it (then watch() again)."""
        body = {"expirationDateTime": _iso(self._clock() + WATCH_LIFETIME)}
        item = self.client.request("PATCH", f"/subscriptions/{segment(watch.id)}", json=body)
        return dataclasses.replace(watch, expires_at=parse_instant(str(item["expirationDateTime"])))

    def unwatch(self, watch: Watch) -> None:
        """Delete a subscription; unknown ones are ignored."""
        with contextlib.suppress(NotFound):
            self.client.request("DELETE", f"/subscriptions/{segment(watch.id)}")

    @staticmethod
    def _cal(calendar_id: str) -> str:
        return f"/me/calendars/{segment(calendar_id)}"


def make_factory(config: MicrosoftConfig, **options: Any) -> ConnectorFactory:
    """A registry factory: credentials are a serialized MSAL cache (None → ReauthRequired).

    `options` are passed on to `MicrosoftConnector` (e.g. `clock`).
    """

    def factory(credentials: bytes | None, save: SaveCredentials) -> MicrosoftConnector:
        if credentials is None:
            raise ReauthRequired("no Microsoft credentials stored; connect the account")
        return MicrosoftConnector(config, credentials, save, **options)

    return factory

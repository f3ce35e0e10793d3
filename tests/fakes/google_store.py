"""Calendar state of the fake Google server: events, recurrence expansion, sync tokens.

Pure Python (no HTTP); `tests.fakes.google_server` serves it. Callers hold `CalendarStore.lock`.
"""

from __future__ import annotations

import copy
import itertools
import re
import secrets
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time
from typing import Any
from zoneinfo import ZoneInfo

from dateutil.rrule import rrulestr

JSON = dict[str, Any]
_ID = re.compile(r"^[a-v0-9]{5,1024}$")
# An unbounded rule (no COUNT, no UNTIL) is cut here, like a client window would.
MAX_INSTANCES = 730


class ApiError(Exception):
    """An error the server answers with Google's error JSON."""

    def __init__(self, status: int, reason: str, message: str) -> None:
        super().__init__(message)
        self.status, self.reason, self.message = status, reason, message

    def body(self) -> JSON:
        error = {"domain": "global", "reason": self.reason, "message": self.message}
        return {"error": {"code": self.status, "message": self.message, "errors": [error]}}


def now_rfc3339() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def parse_when(node: JSON) -> datetime:
    """Start/end node as aware UTC (all-day dates at UTC midnight, like the connector).

    A dateTime without an offset is wall-clock time in the node's `timeZone` (Google)."""
    if "dateTime" in node:
        value = datetime.fromisoformat(node["dateTime"].replace("Z", "+00:00"))
        if value.tzinfo is None:
            if not node.get("timeZone"):
                raise ApiError(400, "invalid", "Missing time zone definition for start/end.")
            try:
                value = value.replace(tzinfo=ZoneInfo(node["timeZone"]))
            except (KeyError, ValueError):
                raise ApiError(400, "invalid", "Invalid time zone definition.") from None
        return value.astimezone(UTC)
    if "date" in node:
        return datetime.combine(date.fromisoformat(node["date"]), datetime.min.time(), UTC)
    raise ApiError(400, "required", "Missing start or end time.")


def new_id() -> str:
    return secrets.token_hex(13)  # hex digits are a subset of base32hex


@dataclass
class Calendar:
    id: str
    owner: str
    summary: str
    primary: bool = False
    access_role: str = "owner"
    time_zone: str = "UTC"
    events: dict[str, JSON] = field(default_factory=dict)  # masters, singles, exceptions


@dataclass
class _Snapshot:
    calendar_id: str
    items: list[JSON]
    seq: int


def _merge(target: JSON, patch: JSON) -> None:
    """PATCH semantics: objects merge, arrays and scalars replace."""
    for key, value in patch.items():
        if isinstance(value, dict) and isinstance(target.get(key), dict):
            _merge(target[key], value)
        else:
            target[key] = copy.deepcopy(value)


class CalendarStore:
    """Every calendar of every fake account, with a global change sequence for sync tokens."""

    def __init__(self) -> None:
        self.calendars: dict[str, Calendar] = {}
        self.seq = 0
        self.sync_tokens: dict[str, tuple[str, int]] = {}
        self.page_tokens: dict[str, _Snapshot] = {}
        self.rsvps: list[tuple[str, str, str, str | None]] = []  # cal, event, status, comment

    # --- events ------------------------------------------------------------------------------

    def _bump(self, event: JSON) -> None:
        self.seq += 1
        event["_seq"] = self.seq
        event["updated"] = now_rfc3339()
        event["etag"] = f'"{self.seq}"'

    def insert(self, cal: Calendar, body: JSON, organizer: str | None = None) -> JSON:
        event_id = body.get("id") or new_id()
        if not _ID.match(event_id):
            raise ApiError(400, "invalid", "Invalid resource id value.")
        if event_id in cal.events or self._instance(cal, event_id) is not None:
            raise ApiError(409, "duplicate", "The requested identifier already exists.")
        start, end = parse_when(body.get("start") or {}), parse_when(body.get("end") or {})
        if end < start:
            raise ApiError(400, "timeRangeEmpty", "The specified time range is empty.")
        event = copy.deepcopy(body)
        event.pop("attendeesOmitted", None)
        owner = organizer or cal.owner
        event.update(
            kind="calendar#event",
            id=event_id,
            status=body.get("status", "confirmed"),
            created=now_rfc3339(),
            iCalUID=f"{event_id}@google.com",
            organizer={"email": owner},
            creator={"email": owner},
            eventType=body.get("eventType", "default"),
            sequence=0,
        )
        event.setdefault("transparency", "opaque")
        self._check_recurrence(cal, event)
        self._bump(event)
        cal.events[event_id] = event
        return event

    def _check_recurrence(self, cal: Calendar, event: JSON) -> None:
        """Refuse a broken series now (Google does), not when somebody lists it."""
        if not event.get("recurrence"):
            return
        if "dateTime" in event["start"] and not event["start"].get("timeZone"):
            raise ApiError(400, "invalid", "start.timeZone is required for recurring events.")
        probe = {**event, "id": event.get("id") or "probe0", "_seq": 0}
        self._expand(cal, probe)

    def get(self, cal: Calendar, event_id: str) -> JSON:
        """A stored event or a generated instance (cancelled ones included, like Google)."""
        if event_id in cal.events:
            return cal.events[event_id]
        instance = self._instance(cal, event_id)
        if instance is None:
            raise ApiError(404, "notFound", "Not Found")
        return instance

    def _materialise(self, cal: Calendar, event_id: str) -> JSON:
        """The stored event for `event_id`; an instance becomes a stored exception."""
        event = self.get(cal, event_id)
        if event_id not in cal.events:
            cal.events[event_id] = event  # keeps the master's _seq until the change bumps it
        return cal.events[event_id]

    def patch(self, cal: Calendar, event_id: str, body: JSON, *, replace: bool = False) -> JSON:
        """events.patch (or events.update when `replace`)."""
        event = self._materialise(cal, event_id)
        body = copy.deepcopy(body)
        omitted = body.pop("attendeesOmitted", False)
        if "eventType" in body and body["eventType"] != event.get("eventType", "default"):
            raise ApiError(400, "invalid", "The event type cannot be changed.")
        for readonly in ("id", "iCalUID", "recurringEventId", "organizer", "creator", "created"):
            body.pop(readonly, None)
        attendees = body.pop("attendees", None)
        if replace:
            keep = {k: event[k] for k in event if k in _KEEP_ON_UPDATE}
            event.clear()
            event.update(keep)
        _merge(event, body)
        if attendees is not None:
            self._set_attendees(cal, event, attendees, omitted)
        start, end = parse_when(event["start"]), parse_when(event["end"])
        if end < start:
            raise ApiError(400, "timeRangeEmpty", "The specified time range is empty.")
        self._check_recurrence(cal, event)
        self._bump(event)
        return event

    def _set_attendees(self, cal: Calendar, event: JSON, given: list[JSON], omitted: bool) -> None:
        current = {a.get("email"): a for a in event.get("attendees") or []}
        before = dict(current.get(cal.owner) or {})
        if omitted:  # only the given guests' own answers change; the rest of the list stays
            for entry in given:
                target = current.get(entry.get("email"))
                if target is None:
                    raise ApiError(400, "invalid", "Attendee not on the guest list.")
                for key in ("responseStatus", "comment"):
                    if key in entry:
                        target[key] = entry[key]
        else:
            event["attendees"] = [
                {k: v for k, v in a.items() if k != "self"} for a in copy.deepcopy(given)
            ]
        after: JSON = next(
            (a for a in event.get("attendees") or [] if a.get("email") == cal.owner), {}
        )
        changed = (before.get("responseStatus"), before.get("comment")) != (
            after.get("responseStatus"),
            after.get("comment"),
        )
        if after and changed:
            self.rsvps.append(
                (cal.id, event["id"], after.get("responseStatus", ""), after.get("comment"))
            )

    def delete(self, cal: Calendar, event_id: str) -> None:
        """events.delete: the event stays as cancelled so sync reports it."""
        event = self._materialise(cal, event_id)
        if event.get("status") == "cancelled":
            raise ApiError(410, "deleted", "Resource has been deleted")
        event["status"] = "cancelled"
        self._bump(event)

    # --- recurrence --------------------------------------------------------------------------

    def _expand(self, cal: Calendar, master: JSON) -> list[JSON]:
        """Instances of a recurring event (RRULE/EXRULE/RDATE/EXDATE through dateutil):
        DAILY, WEEKLY, MONTHLY..., COUNT or UNTIL, timed (wall clock kept in the start's
        zone, across DST) or all-day. Unbounded rules stop after `MAX_INSTANCES`."""
        lines = list(master.get("recurrence") or [])
        for line in lines:
            if not line.startswith(("RRULE:", "EXRULE:", "RDATE", "EXDATE")):
                raise ApiError(400, "invalidRecurrence", f"Invalid recurrence rule: {line!r}")
        all_day = "date" in master["start"]
        zone: ZoneInfo | None = None
        if all_day:
            first = datetime.combine(date.fromisoformat(master["start"]["date"]), time(0))
        else:
            zone = ZoneInfo(master["start"].get("timeZone") or cal.time_zone)
            first = parse_when(master["start"]).astimezone(zone)
        try:
            rules = rrulestr("\n".join(lines), dtstart=first, forceset=True)
            starts = list(itertools.islice(iter(rules), MAX_INSTANCES))
        except (ValueError, TypeError) as error:
            raise ApiError(400, "invalidRecurrence", f"Invalid recurrence: {error}") from None
        duration = parse_when(master["end"]) - parse_when(master["start"])
        instances = []
        for local in starts:
            if all_day:
                day = local.date()
                instance_id = f"{master['id']}_{day:%Y%m%d}"
                start_node: JSON = {"date": day.isoformat()}
                end_node: JSON = {"date": (day + duration).isoformat()}
            else:
                assert zone is not None
                local = local.replace(tzinfo=zone) if local.tzinfo is None else local
                utc = local.astimezone(UTC)
                instance_id = f"{master['id']}_{utc:%Y%m%dT%H%M%SZ}"
                start_node = {"dateTime": local.isoformat(), "timeZone": zone.key}
                end_node = {"dateTime": (utc + duration).astimezone(zone).isoformat()}
            exception = cal.events.get(instance_id)
            if exception is not None:
                item = copy.deepcopy(exception)
                item["_seq"] = max(exception["_seq"], master["_seq"])
            else:
                item = copy.deepcopy(master)
                del item["recurrence"]
                item.update(
                    id=instance_id,
                    recurringEventId=master["id"],
                    originalStartTime=dict(start_node),
                    start=start_node,
                    end=end_node,
                )
            if master.get("status") == "cancelled":
                item["status"] = "cancelled"
            instances.append(item)
        return instances

    def _instance(self, cal: Calendar, event_id: str) -> JSON | None:
        master_id, _, _stamp = event_id.rpartition("_")
        master = cal.events.get(master_id)
        if not master_id or master is None or "recurrence" not in master:
            return None
        return next((i for i in self._expand(cal, master) if i["id"] == event_id), None)

    def concrete(self, cal: Calendar, single_events: bool) -> list[JSON]:
        """Every item a listing can return, cancelled ones included, in change order."""
        items: list[JSON] = []
        for event in cal.events.values():
            if "recurrence" in event and single_events:
                items.extend(self._expand(cal, event))
            elif not (single_events and event.get("recurringEventId")):
                items.append(event)
        return sorted(items, key=lambda e: (e["_seq"], e["id"]))

    # --- listing and sync --------------------------------------------------------------------

    def list_events(self, cal: Calendar, params: dict[str, list[str]], max_page: int) -> JSON:
        """events.list with pagination and sync tokens (snapshot per listing)."""
        one = {k: v[0] for k, v in params.items() if v}
        size = min(int(one.get("maxResults", "250")), max_page)
        if "pageToken" in one:
            snapshot = self.page_tokens.get(one["pageToken"])
            if snapshot is None or snapshot.calendar_id != cal.id:
                raise ApiError(400, "invalid", "Invalid page token.")
        else:
            snapshot = _Snapshot(cal.id, self._select(cal, params, one), self.seq)
        page, rest = snapshot.items[:size], snapshot.items[size:]
        result: JSON = {
            "kind": "calendar#events",
            "summary": cal.summary,
            "timeZone": cal.time_zone,
            "items": [self.render(cal, e) for e in page],
        }
        if rest:
            token = secrets.token_urlsafe(12)
            self.page_tokens[token] = _Snapshot(cal.id, rest, snapshot.seq)
            result["nextPageToken"] = token
        else:
            token = secrets.token_urlsafe(12)
            self.sync_tokens[token] = (cal.id, snapshot.seq)
            result["nextSyncToken"] = token
        return result

    def _select(
        self, cal: Calendar, params: dict[str, list[str]], one: dict[str, str]
    ) -> list[JSON]:
        single = one.get("singleEvents") == "true"
        types = set(params.get("eventTypes") or [])
        props = [p.split("=", 1) for p in params.get("privateExtendedProperty") or []]
        items = self.concrete(cal, single)
        if one.get("orderBy") == "startTime" and not single:
            raise ApiError(400, "invalid", "orderBy=startTime needs singleEvents=true.")
        if "syncToken" in one:
            for bad in _NOT_WITH_SYNC_TOKEN:
                if bad in one:
                    raise ApiError(400, "invalid", f"{bad} is not allowed with syncToken.")
            if one.get("showDeleted") == "false":
                raise ApiError(400, "invalid", "showDeleted=false is not allowed with syncToken.")
            known = self.sync_tokens.get(one["syncToken"])
            if known is None or known[0] != cal.id:
                raise ApiError(410, "fullSyncRequired", "Sync token is no longer valid.")
            items = [e for e in items if e["_seq"] > known[1]]
        elif one.get("showDeleted") != "true":
            items = [e for e in items if e.get("status") != "cancelled"]
        if "timeMin" in one:
            low = datetime.fromisoformat(one["timeMin"].replace("Z", "+00:00"))
            items = [e for e in items if parse_when(e["end"]) > low]
        if "timeMax" in one:
            high = datetime.fromisoformat(one["timeMax"].replace("Z", "+00:00"))
            items = [e for e in items if parse_when(e["start"]) < high]
        if types:
            items = [e for e in items if e.get("eventType", "default") in types]
        for key, value in props:
            items = [
                e
                for e in items
                if ((e.get("extendedProperties") or {}).get("private") or {}).get(key) == value
            ]
        return items

    def expire_sync_tokens(self, calendar_id: str) -> None:
        for token, (cal_id, _) in list(self.sync_tokens.items()):
            if cal_id == calendar_id:
                del self.sync_tokens[token]

    def render(self, cal: Calendar, event: JSON) -> JSON:
        """The event as `cal`'s owner sees it: internal keys dropped, `self` flags set."""
        out = {k: copy.deepcopy(v) for k, v in event.items() if not k.startswith("_")}
        if out.get("status") == "cancelled" and out.get("recurringEventId"):
            # Google guarantees only these for cancelled instances; clients must cope
            keys = ("kind", "etag", "id", "status", "recurringEventId", "originalStartTime")
            out = {k: out[k] for k in keys if k in out}
        if out.get("organizer", {}).get("email") == cal.owner:
            out["organizer"]["self"] = True
        for attendee in out.get("attendees") or []:
            if attendee.get("email") == cal.owner:
                attendee["self"] = True
        return out


# Google: "parameters not allowed with syncToken" (the incremental sync guide).
_NOT_WITH_SYNC_TOKEN = (
    "iCalUID",
    "orderBy",
    "privateExtendedProperty",
    "q",
    "sharedExtendedProperty",
    "timeMin",
    "timeMax",
    "updatedMin",
)

_KEEP_ON_UPDATE = {
    "kind",
    "id",
    "iCalUID",
    "created",
    "organizer",
    "creator",
    "recurringEventId",
    "originalStartTime",
    "eventType",
    "sequence",
    "_seq",
}

"""Graph v1.0 calendar endpoints of the fake server, over `GraphState` (sync, framework-free).

Semantics follow Graph: `/events` lists single instances and series masters, `calendarView`
expands occurrences, default page size 10 (`Prefer: odata.maxpagesize` overrides), extended
properties only with `$expand`, delta rejects `$expand`/`$select`/`$filter`, and deltas carry
only what changed since their token (`@removed` for deletions and changes leaving the window).
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from tests.fakes.graph_push import Push, Reply, graph_time, parse_instant
from tests.fakes.graph_rules import check_action, check_event
from tests.fakes.graph_state import FakeEvent, GraphState, new_id

GRAPH = "https://graph.microsoft.com/v1.0"
_ANY = re.compile(
    r"singleValueExtendedProperties/Any\(ep:\s*ep/id eq '((?:[^']|'')*)'"
    r"\s+and\s+ep/value eq '((?:[^']|'')*)'\)"
)
_EXPAND = re.compile(r"singleValueExtendedProperties\(\$filter=(.*)\)$")
_RESPONSES = {"accept", "decline", "tentativelyAccept"}


@dataclass
class ApiRequest:
    method: str
    path: str  # below /v1.0
    query: dict[str, str]
    prefer: list[str]
    body: dict[str, Any] | None
    email: str


def error(status: int, code: str, message: str) -> Reply:
    return status, {"error": {"code": code, "message": message}}


def _unquote(value: str) -> str:
    return value.replace("''", "'")


@dataclass
class DeltaRound:
    calendar_id: str
    start: datetime
    end: datetime
    items: list[dict[str, Any]]
    seq: int  # the state the round's deltaLink continues from


@dataclass
class GraphApi:
    state: GraphState
    push: Push
    default_page_size: int = 10
    delta_error: str = "syncStateNotFound"  # or "gone": how unknown/expired tokens fail
    _skip: dict[str, tuple[DeltaRound, int]] = field(default_factory=dict)
    _tokens: dict[str, DeltaRound] = field(default_factory=dict)

    def expire_delta_tokens(self, style: str = "syncStateNotFound") -> None:
        """Forget every delta and skip token; they then fail as `style` describes."""
        with self.state.lock:
            self._skip.clear()
            self._tokens.clear()
            self.delta_error = style

    # --- dispatch -----------------------------------------------------------------------------

    def handle(self, req: ApiRequest) -> Reply:
        parts = req.path.strip("/").split("/")
        m, email = req.method, req.email
        if parts[0] == "subscriptions":
            if len(parts) == 1 and m == "POST":
                return self.push.create(email, req.body or {})
            if len(parts) == 2 and m == "PATCH":
                return self.push.renew(email, parts[1], req.body or {})
            if len(parts) == 2 and m == "DELETE":
                return self.push.delete(email, parts[1])
            if len(parts) == 2 and m == "GET":
                return self.push.get(email, parts[1])
            return error(405, "BadRequest", "Unsupported subscription request")
        if parts[0] != "me":
            return error(400, "BadRequest", "Unsupported segment")
        with self.state.lock:
            return self._me(req, parts[1:])

    def _me(self, req: ApiRequest, parts: list[str]) -> Reply:
        user = self.state.user(req.email)
        if not parts and req.method == "GET":
            return 200, {
                "id": user.oid,
                "displayName": user.name,
                "mail": user.email,
                "userPrincipalName": user.email,
            }
        calendar_id: str | None = None
        if parts[:1] == ["calendars"]:
            if len(parts) == 1:
                return 200, {"value": list(user.calendars.values())}
            calendar_id = parts[1]
            if calendar_id not in user.calendars:
                return error(404, "ErrorItemNotFound", "The specified object was not found.")
            if len(parts) == 2:
                return 200, user.calendars[calendar_id]
            parts = parts[2:]
        elif parts[:1] in (["calendarView"], ["events"]):
            calendar_id = next(c for c, v in user.calendars.items() if v["isDefaultCalendar"])
        if parts == ["calendarView"] and req.method == "GET":
            return self._calendar_view(req, calendar_id)
        if parts == ["calendarView", "delta"] and req.method == "GET":
            return self._delta(req, calendar_id)
        if parts == ["events"]:
            if req.method == "GET":
                return self._list_events(req, calendar_id)
            if req.method == "POST":
                return self._create(req, calendar_id)
        if parts[:1] == ["events"] and len(parts) in (2, 3):
            event = self.state.get(req.email, parts[1])
            scoped = calendar_id if req.path.startswith("/me/calendars") else None
            if event is None or (scoped is not None and event.calendar_id != scoped):
                return error(404, "ErrorItemNotFound", "The specified object was not found.")
            if len(parts) == 3 and parts[2] in _RESPONSES and req.method == "POST":
                return self._respond(req, event, parts[2])
            if len(parts) == 2:
                return self._event(req, event)
        return error(400, "BadRequest", f"Unsupported request {req.method} {req.path}")

    # --- reading ------------------------------------------------------------------------------

    def render(self, req: ApiRequest, event: FakeEvent) -> dict[str, Any]:
        """An event as Graph returns it, honouring `Prefer: outlook.timezone`."""
        user = self.state.user(req.email)
        zone_name = "UTC"
        for value in req.prefer:
            if value.startswith("outlook.timezone="):
                zone_name = value.split("=", 1)[1].strip('"')
        zone = UTC if zone_name == "UTC" else ZoneInfo(zone_name)

        def when(value: datetime) -> dict[str, str]:
            local = value if event.is_all_day else value.astimezone(zone)  # all-day: floating
            return {"dateTime": local.strftime("%Y-%m-%dT%H:%M:%S.0000000"), "timeZone": zone_name}

        def person(address: str) -> dict[str, Any]:
            return {"emailAddress": {"name": address.split("@")[0], "address": address}}

        body: dict[str, Any] = {
            "@odata.etag": f'W/"{event.seq}"',
            "id": event.id,
            "changeKey": str(event.seq),  # changes with every change of the event, as at Graph
            "lastModifiedDateTime": graph_time(event.last_modified),
            "categories": list(event.categories),
            "iCalUId": event.ical_uid,
            "subject": event.subject,
            "bodyPreview": event.body[:255],
            "body": {"contentType": "text", "content": event.body},
            "start": when(event.start),
            "end": when(event.end),
            "isAllDay": event.is_all_day,
            "isCancelled": event.is_cancelled,
            "isOrganizer": event.organizer.lower() == user.email.lower(),
            "isReminderOn": event.is_reminder_on,
            "isOnlineMeeting": event.is_online_meeting,
            "responseRequested": event.response_requested,
            "allowNewTimeProposals": event.allow_new_time_proposals,
            "seriesMasterId": event.series_master_id,
            "showAs": event.show_as,
            "type": event.type,
            "responseStatus": {"response": event.own_response, "time": "0001-01-01T00:00:00Z"},
            "organizer": person(event.organizer),
            "attendees": [
                {
                    "type": "required",
                    "status": {"response": r, "time": graph_time(event.last_modified)},
                }
                | person(a)
                for a, r in event.attendees.items()
            ],
            "originalStartTimeZone": "UTC",
            "originalEndTimeZone": "UTC",
        }
        match = _EXPAND.match(req.query.get("$expand", ""))
        if match:
            wanted = {_unquote(i) for i in re.findall(r"id eq '((?:[^']|'')*)'", match[1])}
            body["singleValueExtendedProperties"] = [
                {"id": k, "value": v} for k, v in event.ext.items() if k in wanted
            ]
        return body

    def _page(self, req: ApiRequest, items: list[dict[str, Any]]) -> Reply:
        size = self._page_size(req)
        skip = int(req.query.get("$skip", "0"))
        answer: dict[str, Any] = {"value": items[skip : skip + size]}
        if skip + size < len(items):
            query = {k: v for k, v in req.query.items() if k != "$skip"} | {"$skip": skip + size}
            answer["@odata.nextLink"] = f"{GRAPH}{req.path}?{urlencode(query)}"
        return 200, answer

    def _page_size(self, req: ApiRequest) -> int:
        for value in req.prefer:
            if value.startswith("odata.maxpagesize="):
                return max(1, int(value.split("=", 1)[1]))
        return self.default_page_size

    def _window(self, req: ApiRequest) -> tuple[datetime, datetime] | None:
        try:
            start = parse_instant(req.query["startDateTime"])
            return start, parse_instant(req.query["endDateTime"])
        except (KeyError, ValueError):
            return None

    def _instances(self, email: str, calendar_id: str | None) -> list[FakeEvent]:
        return [e for e in self.state.events(email, calendar_id) if e.type != "seriesMaster"]

    def _calendar_view(self, req: ApiRequest, calendar_id: str | None) -> Reply:
        window = self._window(req)
        if window is None:
            return error(400, "ErrorInvalidParameter", "startDateTime and endDateTime required")
        start, end = window
        items = [
            self.render(req, e)
            for e in self._instances(req.email, calendar_id)
            if e.overlaps(start, end)
        ]
        return self._page(req, items)

    def _list_events(self, req: ApiRequest, calendar_id: str | None) -> Reply:
        events = [
            e
            for e in self.state.events(req.email, calendar_id)
            if e.type in ("singleInstance", "seriesMaster")
        ]
        if "$filter" in req.query:
            match = _ANY.fullmatch(req.query["$filter"].strip())
            if match is None:
                return error(400, "ErrorInvalidUrlQueryFilter", "Unsupported $filter")
            prop, value = _unquote(match[1]), _unquote(match[2]).lower()
            # Graph: the property id is exact, the value comparison case-insensitive
            events = [e for e in events if e.ext.get(prop, "\0").lower() == value]
        return self._page(req, [self.render(req, e) for e in events])

    def _delta(self, req: ApiRequest, calendar_id: str | None) -> Reply:
        assert calendar_id is not None
        if "$skiptoken" in req.query or "$deltatoken" in req.query:
            key = req.query.get("$skiptoken") or req.query["$deltatoken"]
            if "$skiptoken" in req.query and key in self._skip:
                current, offset = self._skip.pop(key)
                return self._delta_page(req, current, offset)
            previous = self._tokens.get(key)
            if previous is None or previous.calendar_id != calendar_id:
                if self.delta_error == "gone":
                    return 410, {"error": {"code": "SyncStateInvalid", "message": "Gone"}}
                return error(400, "syncStateNotFound", "The sync state is not found.")
            seq = self.state.current_seq()
            items = []
            for e in self.state.user(req.email).events.values():
                if (
                    e.calendar_id != calendar_id
                    or e.type == "seriesMaster"
                    or e.seq <= previous.seq
                ):
                    continue
                if e.deleted or not e.overlaps(previous.start, previous.end):
                    items.append({"id": e.id, "@removed": {"reason": "deleted"}})
                else:
                    items.append(self.render(req, e))
            current = DeltaRound(calendar_id, previous.start, previous.end, items, seq)
            return self._delta_page(req, current, 0)
        if {"$expand", "$select", "$filter", "$orderby"} & set(req.query):
            return error(400, "ErrorInvalidUrlQuery", "Delta does not support this query option")
        window = self._window(req)
        if window is None:
            return error(400, "ErrorInvalidParameter", "startDateTime and endDateTime required")
        start, end = window
        seq = self.state.current_seq()
        items = [
            self.render(req, e)
            for e in self._instances(req.email, calendar_id)
            if e.overlaps(start, end)
        ]
        return self._delta_page(req, DeltaRound(calendar_id, start, end, items, seq), 0)

    def _delta_page(self, req: ApiRequest, current: DeltaRound, offset: int) -> Reply:
        size = self._page_size(req)
        base = f"{GRAPH}/me/calendars/{current.calendar_id}/calendarView/delta"
        answer: dict[str, Any] = {"value": current.items[offset : offset + size]}
        key = secrets.token_urlsafe(16)
        if offset + size < len(current.items):
            self._skip[key] = (current, offset + size)
            answer["@odata.nextLink"] = f"{base}?{urlencode({'$skiptoken': key})}"
        else:
            self._tokens[key] = current
            answer["@odata.deltaLink"] = f"{base}?{urlencode({'$deltatoken': key})}"
        return 200, answer

    # --- writing ------------------------------------------------------------------------------

    def _event(self, req: ApiRequest, event: FakeEvent) -> Reply:
        if req.method == "GET":
            return 200, self.render(req, event)
        calendar = self.state.user(req.email).calendars[event.calendar_id]
        if not calendar["canEdit"]:
            return error(403, "ErrorAccessDenied", "Access is denied.")
        if req.method == "DELETE":
            self.state.delete(req.email, event.id)
            return 204, None
        if req.method == "PATCH":
            changes = self._fields(req.body or {})
            if isinstance(changes, tuple):
                return changes
            ext = dict(event.ext) | changes.pop("ext", {})
            updated = self.state.update(req.email, event.id, ext=ext, **changes)
            if updated.end < updated.start:
                return error(400, "ErrorInvalidRequest", "The end must be after the start.")
            return 200, self.render(req, updated)
        return error(405, "BadRequest", "Unsupported method")

    def _create(self, req: ApiRequest, calendar_id: str | None) -> Reply:
        assert calendar_id is not None
        user = self.state.user(req.email)
        if not user.calendars[calendar_id]["canEdit"]:
            return error(403, "ErrorAccessDenied", "Access is denied.")
        fields = self._fields(req.body or {})
        if isinstance(fields, tuple):
            return fields
        if "start" not in fields or "end" not in fields or fields["end"] < fields["start"]:
            return error(400, "ErrorInvalidRequest", "start and end are required, in order.")
        event = FakeEvent(id=new_id(), calendar_id=calendar_id, organizer=user.email, **fields)
        self.state.put(req.email, event)
        return 201, self.render(req, event)

    def _fields(self, body: dict[str, Any]) -> dict[str, Any] | Reply:
        refused = check_event(body)
        if refused is not None:
            return refused
        simple = {
            "subject": "subject",
            "showAs": "show_as",
            "categories": "categories",
            "isReminderOn": "is_reminder_on",
            "responseRequested": "response_requested",
            "isAllDay": "is_all_day",
            "isOnlineMeeting": "is_online_meeting",
        }
        out: dict[str, Any] = {simple[k]: v for k, v in body.items() if k in simple}
        if "body" in body:
            out["body"] = str(body["body"].get("content", ""))
        for key in ("start", "end"):
            if key in body:
                try:
                    naive = datetime.fromisoformat(body[key]["dateTime"][:26])
                    zone_name = body[key].get("timeZone", "UTC")
                    zone = UTC if zone_name == "UTC" else ZoneInfo(zone_name)
                except (KeyError, ValueError, ZoneInfoNotFoundError):
                    return error(400, "ErrorInvalidRequest", f"Invalid {key} dateTimeTimeZone")
                out[key] = naive.replace(tzinfo=zone).astimezone(UTC)
        if "singleValueExtendedProperties" in body:
            out["ext"] = {p["id"]: str(p["value"]) for p in body["singleValueExtendedProperties"]}
        return out

    def _respond(self, req: ApiRequest, event: FakeEvent, action: str) -> Reply:
        user = self.state.user(req.email)
        if event.organizer.lower() == user.email.lower():
            return error(
                400, "ErrorInvalidRequest", "You can't respond to a meeting you organized."
            )
        body = req.body or {}
        refused = check_action(action, body)
        if refused is not None:
            return refused
        send = bool(body.get("sendResponse", True))
        if send and not event.response_requested:
            # The organizer asked for no responses: Graph refuses to send one.
            return error(
                400,
                "ErrorInvalidRequest",
                "Your request can't be completed. The meeting organizer didn't request a "
                "response, so sendResponse must be false.",
            )
        proposed = None
        if "proposedNewTime" in body:
            if not send or action == "accept":
                return error(400, "ErrorInvalidRequest", "proposedNewTime needs sendResponse")
            if not event.allow_new_time_proposals:
                return error(
                    400,
                    "ErrorProposedNewTimeNotSupported",
                    "The organizer does not allow new time proposals for this meeting.",
                )
            slot = body["proposedNewTime"]
            start = parse_instant(slot["start"]["dateTime"])
            end = parse_instant(slot["end"]["dateTime"])
            proposed = (start, end)
        self.state.respond(req.email, event.id, action, body.get("comment"), send, proposed)
        return 202, None

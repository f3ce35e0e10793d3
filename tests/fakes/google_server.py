"""A stateful fake of Google's OAuth endpoints and the Calendar v3 subset GrowthGuard uses.

    with FakeGoogle() as google:           # serves on http://127.0.0.1:<random port>
        google.add_account("me@example.com")
        creds = google.mint_credentials("me@example.com")
        ...  # point GoogleConfig at google.base_url (see `google_config` in the tests)

Real protocol shapes (error JSON, token responses, push headers) because the real
google-api-python-client, google-auth and oauthlib talk to it. Control methods run in the test
process; the HTTP side runs in a uvicorn thread. Calendar semantics live in `google_store`.
"""

from __future__ import annotations

import email.parser
import email.policy
import http
import json
import random
import re
import secrets
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Self
from urllib.parse import parse_qs, unquote

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from tests.fakes.faults import Faults
from tests.fakes.google_discovery import check_body, check_params
from tests.fakes.google_oauth import (
    ALL_SCOPES,
    CLIENT_ID,
    CLIENT_SECRET,
    LIST_SCOPE,
    REDIRECT_URI,
    Account,
    OAuthServer,
    _Ctx,
)
from tests.fakes.google_push import Delivery, PushHub
from tests.fakes.google_store import JSON, ApiError, Calendar, CalendarStore
from tests.support.servers import AsgiServer, Startable

__all__ = [
    "ALL_SCOPES",
    "CLIENT_ID",
    "CLIENT_SECRET",
    "REDIRECT_URI",
    "Delivery",
    "FakeGoogle",
    "Recorded",
    "when",
]
_RATE_REASONS = {429: "rateLimitExceeded", 403: "rateLimitExceeded"}
BATCH_PATH = "/batch/calendar/v3"
MAX_BATCH = 1000  # Google's limit of calls per batch request


def _http_answer(response: Response) -> bytes:
    """A response as the `application/http` text of a batch part."""
    status = response.status_code
    lines = [f"HTTP/1.1 {status} {http.HTTPStatus(status).phrase}"]
    for name, value in response.headers.items():
        if name.lower() not in ("content-length",):
            lines.append(f"{name}: {value}")
    body = bytes(response.body)
    lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


@dataclass
class Recorded:
    """One request the fake received."""

    method: str
    path: str
    query: dict[str, list[str]]
    json: Any
    batched: bool = False  # a part of a batch request (the batch itself is recorded too)


def _error(status: int, reason: str, message: str) -> JSONResponse:
    return JSONResponse(ApiError(status, reason, message).body(), status_code=status)


class FakeGoogle(Startable):
    """Fake Google server; use as a context manager or call `start()`/`stop()`."""

    def __init__(
        self,
        client_id: str = CLIENT_ID,
        client_secret: str = CLIENT_SECRET,
        redirect_uris: tuple[str, ...] = (REDIRECT_URI,),
    ) -> None:
        self.lock = threading.RLock()
        self.store = CalendarStore()
        self.accounts: dict[str, Account] = {}
        self.requests: list[Recorded] = []
        self.max_page_size = 250
        self.oauth = OAuthServer(self.accounts, client_id, client_secret, redirect_uris)
        self.faults = Faults()  # planned failures: `fake.faults.fail_next(...)`
        # Called for every Calendar API request, "before" it takes effect and "after" (the
        # answer not yet sent): the crash tests SIGKILL their worker from here.
        self.crash_hook: Callable[[Recorded, str], None] | None = None
        self.push = PushHub(self.lock)
        self._server = AsgiServer(
            Starlette(
                routes=[
                    Route(
                        "/{p:path}", self._asgi, methods=["GET", "POST", "PUT", "PATCH", "DELETE"]
                    )
                ]
            )
        )
        self._routes: list[tuple[str, re.Pattern[str], Callable[[_Ctx], Response]]] = [
            ("GET", re.compile(r"/o/oauth2/auth"), self.oauth.authorize),
            ("POST", re.compile(r"/token"), self.oauth.token),
            ("POST", re.compile(r"/revoke"), self.oauth.revoke),
            ("GET", re.compile(r"/v1/userinfo"), self.oauth.userinfo),
            ("GET", re.compile(r"/calendar/v3/users/me/calendarList"), self._calendar_list),
            ("POST", re.compile(r"/calendar/v3/channels/stop"), self._stop_channel),
            (
                "POST",
                re.compile(r"/calendar/v3/calendars/(?P<cal>[^/]+)/events/watch"),
                self._watch,
            ),
            ("GET", re.compile(r"/calendar/v3/calendars/(?P<cal>[^/]+)/events"), self._list),
            ("POST", re.compile(r"/calendar/v3/calendars/(?P<cal>[^/]+)/events"), self._insert),
            (
                "*",
                re.compile(r"/calendar/v3/calendars/(?P<cal>[^/]+)/events/(?P<eid>[^/]+)"),
                self._event,
            ),
        ]

    # --- lifecycle ---------------------------------------------------------------------------

    @property
    def base_url(self) -> str:
        return self._server.base_url

    def endpoints(self) -> dict[str, str]:
        """Client settings for this fake: `GoogleConfig(**fake.endpoints())`."""
        base = self.base_url
        return {
            "client_id": self.oauth.client_id,
            "client_secret": self.oauth.client_secret,
            "redirect_uri": self.oauth.redirect_uris[0],
            "auth_uri": f"{base}/o/oauth2/auth",
            "token_uri": f"{base}/token",
            "revoke_uri": f"{base}/revoke",
            "userinfo_uri": f"{base}/v1/userinfo",
            "api_endpoint": f"{base}/calendar/v3/",
        }

    def start(self) -> Self:
        self._server.start()
        self.push.start()
        return self

    def stop(self) -> None:
        self.push.stop()
        self._server.stop()

    # --- test control ------------------------------------------------------------------------

    def add_account(
        self, email: str, *, workspace: bool = True, verified: bool = True, time_zone: str = "UTC"
    ) -> str:
        """A user with a primary calendar (id = email); returns the calendar id."""
        with self.lock:
            self.accounts[email] = Account(
                email, str(random.randrange(10**20)), verified, workspace
            )
            self.store.calendars[email] = Calendar(email, email, email, True, "owner", time_zone)
            return email

    def add_calendar(self, email: str, summary: str = "Team", access_role: str = "owner") -> str:
        """A secondary calendar of `email` (access_role owner/writer/reader); returns its id."""
        cal_id = f"{secrets.token_hex(8)}@group.calendar.google.com"
        with self.lock:
            self.store.calendars[cal_id] = Calendar(cal_id, email, summary, False, access_role)
        return cal_id

    def set_consent(
        self, email: str, *, scopes: list[str] | None = None, deny: bool = False
    ) -> None:
        """Who approves the consent screen next; `scopes` limits what they grant."""
        with self.lock:
            self.oauth.set_consent(email, scopes=scopes, deny=deny)

    @property
    def requested_scopes(self) -> list[list[str]]:
        """The scopes each consent screen was asked for, oldest first."""
        with self.lock:
            return [list(s) for s in self.oauth.requested_scopes]

    def mint_credentials(
        self, email: str, scopes: list[str] | None = None, *, expired: bool = False
    ) -> dict[str, Any]:
        """Tokens as if the OAuth dance had happened: token, refresh_token, expiry, scopes."""
        with self.lock:
            return self.oauth.mint_credentials(email, scopes, expired=expired)

    def expire_access_tokens(self, email: str) -> None:
        """Make every access token of `email` expired so the next call refreshes."""
        with self.lock:
            self.oauth.expire_access_tokens(email)

    def revoke_grant(self, email: str) -> None:
        """The user removed the app's access: calls get 401, refreshes invalid_grant."""
        with self.lock:
            self.oauth.revoke_grant(email)

    def expire_sync_tokens(self, calendar_id: str) -> None:
        with self.lock:
            self.store.expire_sync_tokens(calendar_id)

    def insert_event(self, calendar_id: str, body: JSON, organizer: str | None = None) -> str:
        """Insert as the calendar's owner (or `organizer`); returns the id."""
        with self.lock:
            cal = self.store.calendars[calendar_id]
            event = self.store.insert(cal, body, organizer)
            self.push.notify(calendar_id)
            return str(event["id"])

    def insert_invite(
        self,
        calendar_id: str,
        title: str,
        start: datetime,
        end: datetime,
        *,
        organizer: str = "boss@example.com",
        attendee_count: int = 3,
        recurrence: list[str] | None = None,
    ) -> str:
        """A meeting `organizer` invited the calendar's owner to (owner needsAction)."""
        owner = self.store.calendars[calendar_id].owner
        guests = [{"email": organizer, "organizer": True, "responseStatus": "accepted"}]
        guests.append({"email": owner, "responseStatus": "needsAction"})
        for n in range(max(attendee_count - 2, 0)):
            guests.append({"email": f"guest{n}@example.com", "responseStatus": "needsAction"})
        body: JSON = {"summary": title, "start": when(start), "end": when(end)}
        body["attendees"] = guests
        if recurrence:
            body["recurrence"] = recurrence
        return self.insert_event(calendar_id, body, organizer)

    def patch_event(self, calendar_id: str, event_id: str, body: JSON) -> None:
        with self.lock:
            self.store.patch(self.store.calendars[calendar_id], event_id, body)
            self.push.notify(calendar_id)

    def delete_event(self, calendar_id: str, event_id: str) -> None:
        with self.lock:
            self.store.delete(self.store.calendars[calendar_id], event_id)
            self.push.notify(calendar_id)

    def events(self, calendar_id: str) -> list[JSON]:
        """Stored events (masters, singles, exceptions) as the owner sees them."""
        with self.lock:
            cal = self.store.calendars[calendar_id]
            return [self.store.render(cal, e) for e in cal.events.values()]

    def event(self, calendar_id: str, event_id: str) -> JSON:
        with self.lock:
            cal = self.store.calendars[calendar_id]
            return self.store.render(cal, self.store.get(cal, event_id))

    def rsvps(self, calendar_id: str, event_id: str) -> list[tuple[str, str | None]]:
        """(responseStatus, comment) the owner sent for the event, oldest first."""
        with self.lock:
            return [
                (s, c) for cal, ev, s, c in self.store.rsvps if (cal, ev) == (calendar_id, event_id)
            ]

    def deliver_to(self, base_url: str | None) -> None:
        """Deliver push notifications to `base_url` instead of the registered scheme and host."""
        with self.lock:
            self.push.deliver_base = base_url

    def wait_for_deliveries(self, count: int, timeout: float = 5.0) -> list[Delivery]:
        """Block until at least `count` notifications were sent; returns all of them."""
        return self.push.wait_for(count, timeout)

    @property
    def deliveries(self) -> list[Delivery]:
        """Push notifications sent so far, oldest first."""
        with self.lock:
            return list(self.push.deliveries)

    def channels(self) -> list[str]:
        with self.lock:
            return self.push.channel_ids()

    # --- HTTP plumbing -----------------------------------------------------------------------

    async def _asgi(self, request: Request) -> Response:
        body = await request.body()
        path = request.scope["path"]
        ctx = _Ctx(request.method, path, parse_qs(request.url.query), dict(request.headers), body)
        if body and "json" in request.headers.get("content-type", ""):
            ctx.json = json.loads(body)
        with self.lock:
            self.requests.append(Recorded(ctx.method, path, ctx.query, ctx.json))
            failed = self._failure(ctx)
            if failed is not None:
                return failed
            if ctx.method == "POST" and path == BATCH_PATH:
                return self._batch(ctx)
            return self._route(ctx)

    def _route(self, ctx: _Ctx) -> Response:
        api = ctx.path.startswith("/calendar/v3/") and self.crash_hook is not None
        if api and self.crash_hook is not None:
            self.crash_hook(self.requests[-1], "before")
        for method, pattern, handler in self._routes:
            found = pattern.fullmatch(ctx.path)
            if found and method in ("*", ctx.method):
                ctx.match = found.groupdict()
                try:
                    answer = handler(ctx)
                except ApiError as error:
                    answer = JSONResponse(error.body(), status_code=error.status)
                if api and self.crash_hook is not None:
                    self.crash_hook(self.requests[-1], "after")
                return answer
        return _error(404, "notFound", "Not Found")

    def _failure(self, ctx: _Ctx) -> Response | None:
        fault = self.faults.take(ctx.method, ctx.path, ctx.body)
        if fault is None:
            return None
        body = fault.body
        if body is None:
            reason = _RATE_REASONS.get(fault.status, "backendError")
            body = ApiError(fault.status, reason, "Injected failure").body()
        return JSONResponse(body, status_code=fault.status, headers=fault.response_headers())

    def _batch(self, ctx: _Ctx) -> Response:
        """Google's batch endpoint: a multipart/mixed body of `application/http` parts, each
        run as its own request (with the batch's headers unless the part overrides them) and
        answered in a multipart/mixed body of the same order, each with its own status."""
        content_type = ctx.headers.get("content-type", "")
        if not content_type.startswith("multipart/mixed"):
            return _error(400, "badRequest", "Batch requests must be multipart/mixed.")
        message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(
            f"Content-Type: {content_type}\r\n\r\n".encode() + ctx.body
        )
        parts = message.get_payload() if message.is_multipart() else None
        if not isinstance(parts, list) or not parts:
            return _error(400, "badRequest", "Batch request has no parts.")
        if len(parts) > MAX_BATCH:
            return _error(400, "badRequest", f"A batch holds at most {MAX_BATCH} requests.")
        boundary = f"batch_{secrets.token_hex(8)}"
        out: list[bytes] = []
        for part in parts:
            content_id = str(part.get("Content-ID", ""))
            raw = part.get_payload(decode=True) or b""
            inner = self._batch_part(ctx, raw)
            reply_id = f"<response-{content_id.strip('<>')}>" if content_id else ""
            out.append(
                f"--{boundary}\r\nContent-Type: application/http\r\n".encode()
                + (f"Content-ID: {reply_id}\r\n" if reply_id else "").encode()
                + b"\r\n"
                + _http_answer(inner)
                + b"\r\n"
            )
        out.append(f"--{boundary}--\r\n".encode())
        return Response(
            b"".join(out), status_code=200, media_type=f"multipart/mixed; boundary={boundary}"
        )

    def _batch_part(self, outer: _Ctx, raw: bytes) -> Response:
        head, _, body = raw.replace(b"\r\n", b"\n").partition(b"\n\n")
        lines = head.decode("latin-1").split("\n")
        try:
            method, target, _version = lines[0].split(" ", 2)
        except ValueError:
            return _error(400, "badRequest", "Malformed batch part.")
        headers = dict(outer.headers)
        headers.pop("content-type", None)
        headers.pop("content-length", None)
        for line in lines[1:]:
            name, _, value = line.partition(":")
            if name.strip():
                headers[name.strip().lower()] = value.strip()
        raw_path, _, query = target.partition("?")
        path = unquote(raw_path)  # as the server decodes a request's own path
        ctx = _Ctx(method.upper(), path, parse_qs(query), headers, body)
        if body and "json" in headers.get("content-type", ""):
            ctx.json = json.loads(body)
        self.requests.append(Recorded(ctx.method, path, ctx.query, ctx.json, batched=True))
        return self._failure(ctx) or self._route(ctx)

    # --- Calendar v3 -------------------------------------------------------------------------

    def _calendar(self, ctx: _Ctx, *, write: bool = False) -> tuple[Account, Calendar]:
        account = self.oauth.bearer(ctx, None)
        cal_id = account.email if ctx.match["cal"] == "primary" else ctx.match["cal"]
        cal = self.store.calendars.get(cal_id)
        if cal is None or cal.owner != account.email:
            raise ApiError(404, "notFound", "Not Found")
        # The token's scopes decide next: `.owned` scopes reach only calendars the person owns.
        self.oauth.events_access(ctx, owner=cal.access_role == "owner", write=write)
        if write and cal.access_role not in ("owner", "writer"):
            raise ApiError(403, "requiredAccessLevel", "You need to have writer access.")
        return account, cal

    def _calendar_list(self, ctx: _Ctx) -> Response:
        account = self.oauth.bearer(ctx, LIST_SCOPE)
        check_params("calendarList", "list", ctx.query)
        items = [
            {
                "kind": "calendar#calendarListEntry",
                "id": c.id,
                "summary": c.summary,
                "timeZone": c.time_zone,
                "accessRole": c.access_role,
                **({"primary": True} if c.primary else {}),
            }
            for c in self.store.calendars.values()
            if c.owner == account.email
        ]
        return JSONResponse({"kind": "calendar#calendarList", "items": items})

    def _list(self, ctx: _Ctx) -> Response:
        _, cal = self._calendar(ctx)
        check_params("events", "list", ctx.query)
        return JSONResponse(self.store.list_events(cal, ctx.query, self.max_page_size))

    def _insert(self, ctx: _Ctx) -> Response:
        account, cal = self._calendar(ctx, write=True)
        check_params("events", "insert", ctx.query)
        body = ctx.json or {}
        check_body("Event", body)
        if body.get("eventType") == "focusTime" and not (account.workspace and cal.primary):
            raise ApiError(400, "invalid", "Focus time events are not supported on this calendar.")
        if body.get("eventType") in ("fromGmail", "birthday"):
            raise ApiError(400, "invalid", "This event type cannot be created.")
        if body.get("eventType") == "outOfOffice":
            # Google: out-of-office only on a primary calendar, and only as a timed event.
            if not cal.primary:
                raise ApiError(400, "invalid", "Out of office events can only be on primary.")
            if "date" in (body.get("start") or {}):
                raise ApiError(400, "invalid", "Out of office events cannot be all-day events.")
        event = self.store.insert(cal, body)
        self.push.notify(cal.id)
        return JSONResponse(self.store.render(cal, event))

    def _event(self, ctx: _Ctx) -> Response:
        event_id = ctx.match["eid"]
        if ctx.method == "GET":
            _, cal = self._calendar(ctx)
            check_params("events", "get", ctx.query)
            return JSONResponse(self.store.render(cal, self.store.get(cal, event_id)))
        _, cal = self._calendar(ctx, write=True)
        if ctx.method == "DELETE":
            check_params("events", "delete", ctx.query)
            self.store.delete(cal, event_id)
            self.push.notify(cal.id)
            return Response(status_code=204)
        name = {"PUT": "update", "PATCH": "patch"}.get(ctx.method)
        if name is None:
            raise ApiError(405, "methodNotAllowed", "Method not allowed")
        check_params("events", name, ctx.query)
        body = ctx.json or {}
        check_body("Event", body)
        _attendee_may_change(cal, self.store.get(cal, event_id), body, replace=name == "update")
        event = self.store.patch(cal, event_id, body, replace=ctx.method == "PUT")
        self.push.notify(cal.id)
        return JSONResponse(self.store.render(cal, event))

    # --- push --------------------------------------------------------------------------------

    def _watch(self, ctx: _Ctx) -> Response:
        _, cal = self._calendar(ctx)
        check_params("events", "watch", ctx.query)
        body = ctx.json or {}
        check_body("Channel", body)
        return JSONResponse(self.push.watch(cal.id, body))

    def _stop_channel(self, ctx: _Ctx) -> Response:
        self.oauth.bearer(ctx, None)
        check_body("Channel", ctx.json or {})
        self.push.stop_channel(ctx.json or {})
        return Response(status_code=204)


# What an attendee may send about an event someone else organizes: their own answer.
_ATTENDEE_FIELDS = {"attendees", "attendeesOmitted"}
_OWN_ENTRY_FIELDS = {"email", "responseStatus", "comment", "self", "displayName"}


def _attendee_may_change(cal: Calendar, event: JSON, body: JSON, *, replace: bool) -> None:
    """Google: a guest changes only their own response; anything else is 403."""
    organizer = (event.get("organizer") or {}).get("email")
    if organizer in (None, cal.owner):
        return
    refused = ApiError(
        403, "forbiddenForNonOrganizer", "Shared properties can only be changed by the organizer."
    )
    if replace or set(body) - _ATTENDEE_FIELDS:
        raise refused
    current = {a.get("email"): a for a in event.get("attendees") or []}
    for entry in body.get("attendees") or []:
        email = entry.get("email")
        if email == cal.owner:
            if set(entry) - _OWN_ENTRY_FIELDS:
                raise refused
        elif email not in current or entry.get("responseStatus") != current[email].get(
            "responseStatus"
        ):
            raise refused  # somebody else's answer, or a new guest


def when(value: datetime) -> JSON:
    """A start/end node for an aware datetime, keeping its IANA zone when it has one."""
    zone = getattr(value.tzinfo, "key", None)
    if zone is None and value.utcoffset() == timedelta(0):
        zone = "UTC"
    node: JSON = {"dateTime": value.isoformat()}
    if zone:
        node["timeZone"] = zone
    return node

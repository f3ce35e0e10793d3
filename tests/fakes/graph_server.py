"""A stateful fake of the Microsoft identity platform + Graph v1.0 calendar API, served locally.

Usage::

    with FakeGraphServer() as fake:
        fake.add_user("ada@contoso.example", "Calendar")
        fake.identity.approve_as = "ada@contoso.example"
        session, transport = fake.routing_session(), fake.routing_transport()

Production URLs stay in the code under test: `RoutingSession` (for MSAL) and `RoutingTransport`
(for httpx) rewrite https://login.microsoftonline.com and https://graph.microsoft.com to this
server's plain-http address. Every Graph call needs a valid bearer token. See `graph_state`,
`graph_identity`, `graph_api` and `graph_push` for the semantics of each part.
"""

from __future__ import annotations

import html
import json
import re
import threading
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Self
from urllib.parse import parse_qsl, unquote, urlsplit

import anyio
import httpx
import requests
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from tests.fakes.faults import Faults
from tests.fakes.graph_api import ApiRequest, GraphApi
from tests.fakes.graph_identity import Identity
from tests.fakes.graph_push import Delivery, Push
from tests.fakes.graph_state import FakeEvent, FakeUser, GraphState, RecordedResponse
from tests.support.servers import AsgiServer, Startable

REROUTED_HOSTS = ("login.microsoftonline.com", "graph.microsoft.com")
CLIENT_ID = "6731de76-14a6-49ae-97bc-6eba6914391e"
CLIENT_SECRET = "fake-client-secret"  # not a real credential
REDIRECT_URI = "https://growthguard.example/auth/microsoft/callback"
# Outlook: 4 concurrent requests per app and mailbox; the fifth gets 429.
MAILBOX_CONCURRENCY = 4
MAX_BATCH = 20  # Graph's limit of requests in one JSON batch


@dataclass(frozen=True)
class RecordedRequest:
    method: str
    path: str
    query: dict[str, str]
    prefer: list[str]
    authorized: bool  # a bearer token was sent (the token itself is not kept)
    body: Any
    batched: bool = False  # a part of a `$batch` request (which is recorded too)


class FakeGraphServer(Startable):
    """The fake identity + Graph server; start with `with` or `start()`/`stop()`."""

    def __init__(self) -> None:
        self.state = GraphState()
        self.identity = Identity(self.state)
        self.identity.register_app(CLIENT_ID, CLIENT_SECRET, REDIRECT_URI)
        self.push = Push(self.state)
        self.api = GraphApi(self.state, self.push)
        self.requests: list[RecordedRequest] = []
        self.latency = 0.0  # seconds each Graph call takes (to observe concurrency)
        self.throttled = 0  # requests refused for going over the mailbox concurrency
        self.faults = Faults()  # planned failures: `fake.faults.fail_next(...)`
        self._lock = threading.Lock()
        self._in_flight: dict[str, int] = {}
        self._max_in_flight: dict[str, int] = {}
        idp = self.identity
        self.app = Starlette(
            routes=[
                Route("/{tenant}/v2.0/.well-known/openid-configuration", idp.openid_configuration),
                Route("/common/discovery/instance", idp.instance_discovery),
                Route("/{tenant}/oauth2/v2.0/authorize", idp.authorize),
                Route("/{tenant}/oauth2/v2.0/token", self._token, methods=["POST"]),
                Route("/v1.0/{rest:path}", self._graph, methods=["GET", "POST", "PATCH", "DELETE"]),
            ]
        )
        self._server = AsgiServer(self.app)
        self.base_url = self._server.base_url

    # --- running ------------------------------------------------------------------------------

    def start(self) -> Self:
        self.push.start()
        self._server.start()
        return self

    def stop(self) -> None:
        self._server.stop()
        self.push.stop()

    def routing_session(self) -> RoutingSession:
        return RoutingSession(self.base_url)

    def routing_transport(self) -> RoutingTransport:
        return RoutingTransport(self.base_url)

    # --- test control -------------------------------------------------------------------------

    def add_user(self, email: str, *calendars: str) -> FakeUser:
        """A user with these calendars (the first is the default); approves the next sign-in."""
        user = self.state.add_user(email, *calendars)
        self.identity.approve_as = email
        return user

    def calendar_id(self, email: str, name: str = "Calendar") -> str:
        return self.state.calendar_by_name(email, name)

    def add_calendar(self, email: str, name: str, **kwargs: Any) -> str:
        return self.state.add_calendar(email, name, **kwargs)

    def add_event(
        self, email: str, calendar_id: str, subject: str, start: datetime, end: datetime, **kw: Any
    ) -> str:
        return self.state.add_event(email, calendar_id, subject, start, end, **kw)

    def insert_invite(
        self,
        email: str,
        calendar_id: str,
        title: str,
        start: datetime,
        end: datetime,
        organizer: str,
        attendees: list[str] | tuple[str, ...] = (),
        **fields: Any,
    ) -> str:
        """A meeting organized by someone else; the user's response is `notResponded`.

        `fields` set other event properties, e.g. `response_requested=False` or
        `allow_new_time_proposals=False` (the fake then refuses RSVPs that ignore them)."""
        return self.state.insert_invite(
            email, calendar_id, title, start, end, organizer, attendees, **fields
        )

    def add_weekly_series(
        self,
        email: str,
        calendar_id: str,
        title: str,
        first_start: datetime,
        duration: timedelta,
        count: int,
        **kw: Any,
    ) -> str:
        return self.state.add_weekly_series(
            email, calendar_id, title, first_start, duration, count, **kw
        )

    def update_event(self, email: str, event_id: str, **changes: Any) -> FakeEvent:
        return self.state.update(email, event_id, **changes)

    def delete_event(self, email: str, event_id: str) -> None:
        self.state.delete(email, event_id)

    def cancel_event(self, email: str, event_id: str) -> None:
        self.state.cancel(email, event_id)

    def events(self, email: str, calendar_id: str | None = None) -> list[FakeEvent]:
        return self.state.events(email, calendar_id)

    def occurrences(self, email: str, master_id: str) -> list[FakeEvent]:
        return sorted(
            (e for e in self.state.events(email) if e.series_master_id == master_id),
            key=lambda e: e.start,
        )

    def responses(self, email: str, event_id: str | None = None) -> list[RecordedResponse]:
        return self.state.responses(email, event_id)

    def expire_delta_tokens(self, style: str = "syncStateNotFound") -> None:
        """Invalidate every delta token: 400 `syncStateNotFound`, or 410 with style "gone"."""
        self.api.expire_delta_tokens(style)

    def revoke_grant(self, email: str) -> None:
        self.identity.revoke_grant(email)

    def deliver_to(self, base_url: str | None) -> None:
        """Deliver validation and notifications to `base_url` instead of the registered host."""
        self.push.deliver_base = base_url

    def send_lifecycle(self, subscription_id: str, lifecycle_event: str) -> None:
        self.push.lifecycle(subscription_id, lifecycle_event)

    def wait_for_deliveries(self, count: int, timeout: float = 5.0) -> list[Delivery]:
        return self.push.wait_for(count, timeout)

    def max_concurrency(self, email: str) -> int:
        """The most Graph requests of this mailbox that were in flight at once."""
        with self._lock:
            return self._max_in_flight.get(email.lower(), 0)

    def graph_requests(self, fragment: str = "") -> list[RecordedRequest]:
        with self._lock:
            return [r for r in self.requests if fragment in r.path]

    # --- request handling ---------------------------------------------------------------------

    def _failure(self, method: str, path: str, raw: bytes = b"") -> Response | None:
        fault = self.faults.take(method, path, raw)
        if fault is None:
            return None
        code = {429: "TooManyRequests", 503: "ServiceUnavailable"}.get(fault.status, "Error")
        body = fault.body or {"error": {"code": code, "message": "Injected failure"}}
        return JSONResponse(body, fault.status, headers=fault.response_headers())

    async def _token(self, request: Request) -> Response:
        return self._failure("POST", request.url.path) or await self.identity.token(request)

    async def _graph(self, request: Request) -> Response:
        raw = await request.body()
        prefer = [
            part.strip()
            for header in request.headers.getlist("prefer")
            for part in header.split(",")
            if part.strip()
        ]
        auth = request.headers.get("authorization", "")
        return await anyio.to_thread.run_sync(
            self._graph_sync,
            request.method,
            "/" + request.path_params["rest"],
            dict(request.query_params),
            prefer,
            auth,
            raw,
        )

    def _graph_sync(
        self,
        method: str,
        path: str,
        query: dict[str, str],
        prefer: list[str],
        auth: str,
        raw: bytes,
    ) -> Response:
        body = json.loads(raw) if raw else None
        with self._lock:
            self.requests.append(RecordedRequest(method, path, query, prefer, bool(auth), body))
        failure = self._failure(method, path, raw)
        if failure is not None:
            return failure
        email = self.identity.user_for(auth.removeprefix("Bearer ")) if auth else None
        if email is None:
            return JSONResponse(
                {"error": {"code": "InvalidAuthenticationToken", "message": "Token invalid."}},
                401,
                headers={"WWW-Authenticate": 'Bearer realm="", error="invalid_token"'},
            )
        refused = _scope_refusal(
            method, path, self.identity.scopes_for(auth.removeprefix("Bearer "))
        )
        if refused is not None:
            return refused
        with self._lock:
            now = self._in_flight[email] = self._in_flight.get(email, 0) + 1
            self._max_in_flight[email] = max(self._max_in_flight.get(email, 0), now)
            if now > MAILBOX_CONCURRENCY:
                self._in_flight[email] -= 1
                self.throttled += 1
                return JSONResponse(
                    {
                        "error": {
                            "code": "ApplicationThrottled",
                            "message": "Application is over its MailboxConcurrency limit.",
                        }
                    },
                    429,
                    headers={"Retry-After": "1"},
                )
        try:
            if self.latency:
                time.sleep(self.latency)
            if method == "POST" and path == "/$batch":
                status, answer = self._batch(body, email)
            else:
                status, answer = self.api.handle(
                    ApiRequest(method, path, query, prefer, body, email)
                )
        finally:
            with self._lock:
                self._in_flight[email] -= 1
        if answer is None:
            return Response(status_code=status)
        return JSONResponse(answer, status)

    def _batch(self, body: Any, email: str) -> tuple[int, Any]:
        """JSON batching: up to 20 requests, each answered with its own status, headers and
        body; `dependsOn` runs a request after the ones it names and fails it with 424 when
        one of them failed. Answers come back in no particular order (here: reversed), so
        clients must match them by id."""
        parts = body.get("requests") if isinstance(body, dict) else None
        if not isinstance(parts, list) or not parts:
            return 400, _graph_error("BadRequest", "Invalid batch payload format.")
        if len(parts) > MAX_BATCH:
            return 400, _graph_error(
                "BadRequest", f"Number of batch requests exceeds the maximum of {MAX_BATCH}."
            )
        statuses: dict[str, int] = {}
        answers: list[dict[str, Any]] = []
        for part in parts:
            if not isinstance(part, dict) or not all(
                isinstance(part.get(k), str) and part.get(k) for k in ("id", "method", "url")
            ):
                return 400, _graph_error("BadRequest", "Each request needs id, method and url.")
            if part["id"] in statuses:
                return 400, _graph_error("BadRequest", "Batch request ids must be unique.")
            depends = part.get("dependsOn") or []
            if not isinstance(depends, list) or any(d not in statuses for d in depends):
                return 400, _graph_error("BadRequest", "dependsOn names an unknown request.")
            if any(statuses[d] >= 400 for d in depends):
                status, headers, answer = 424, {}, _graph_error("FailedDependency", "Failed.")
            else:
                status, headers, answer = self._batch_part(part, email)
            statuses[part["id"]] = status
            reply: dict[str, Any] = {"id": part["id"], "status": status, "headers": headers}
            if answer is not None:
                reply["body"] = answer
            answers.append(reply)
        return 200, {"responses": answers[::-1]}

    def _batch_part(self, part: dict[str, Any], email: str) -> tuple[int, dict[str, str], Any]:
        url = urlsplit(part["url"])
        path = "/" + unquote(url.path).lstrip("/")
        query = dict(parse_qsl(url.query))
        headers = {str(k).lower(): str(v) for k, v in (part.get("headers") or {}).items()}
        prefer = [p.strip() for p in headers.get("prefer", "").split(",") if p.strip()]
        method, body = part["method"].upper(), part.get("body")
        with self._lock:
            self.requests.append(RecordedRequest(method, path, query, prefer, True, body, True))
        raw = json.dumps(body).encode() if body is not None else b""
        failure = self._failure(method, path, raw)
        if failure is not None:
            failed_headers = {k: v for k, v in failure.headers.items() if k == "retry-after"}
            return failure.status_code, failed_headers, json.loads(bytes(failure.body))
        status, answer = self.api.handle(ApiRequest(method, path, query, prefer, body, email))
        return status, {"Content-Type": "application/json"} if answer is not None else {}, answer

    # --- the "browser" ------------------------------------------------------------------------

    def authorize(self, auth_uri: str) -> dict[str, str]:
        """Follow an authorize URL like a browser; the parameters it sends back to the app."""
        with self.routing_session() as session:
            reply = session.get(auth_uri, allow_redirects=False)
        if reply.status_code == 302:
            return dict(parse_qsl(urlsplit(reply.headers["location"]).query))
        if reply.status_code == 200 and "<form" in reply.text:  # response_mode=form_post
            fields = re.findall(r'name="([^"]*)" value="([^"]*)"', reply.text)
            return {html.unescape(k): html.unescape(v) for k, v in fields}
        raise AssertionError(f"authorize answered {reply.status_code}: {reply.text}")


def _graph_error(code: str, message: str) -> dict[str, Any]:
    return {"error": {"code": code, "message": message}}


_READ = {"Calendars.ReadBasic", "Calendars.Read", "Calendars.ReadWrite"}
_WRITE = {"Calendars.ReadWrite"}


def _scope_refusal(method: str, path: str, scopes: frozenset[str]) -> Response | None:
    """403 like Graph when the token's permissions do not cover the call: reading calendars
    and events needs one of the Calendars.Read* permissions, any change Calendars.ReadWrite."""
    needed = _READ if method == "GET" or path.startswith("/subscriptions") else _WRITE
    if scopes & needed:
        return None
    return JSONResponse(
        _graph_error("ErrorAccessDenied", "Access is denied. Check credentials and try again."),
        403,
    )


def _reroute(url: str, base_url: str) -> str:
    parts = urlsplit(url)
    if parts.scheme == "https" and parts.hostname in REROUTED_HOSTS:
        rest = url[len(f"https://{parts.netloc}") :]
        return base_url + rest
    return url


class RoutingSession(requests.Session):
    """A `requests.Session` (MSAL's `http_client`) sending Microsoft hosts to the fake."""

    def __init__(self, base_url: str) -> None:
        super().__init__()
        self.base_url = base_url
        self.trust_env = False  # REQUESTS_CA_BUNDLE / proxies from the environment stay out

    def request(self, method: str | bytes, url: str | bytes, *args: Any, **kwargs: Any) -> Any:
        text = url.decode() if isinstance(url, bytes) else url
        verb = method.decode() if isinstance(method, bytes) else method
        return super().request(verb, _reroute(text, self.base_url), *args, **kwargs)


class RoutingTransport(httpx.BaseTransport):
    """An httpx transport sending Microsoft hosts to the fake (plain http on 127.0.0.1)."""

    def __init__(self, base_url: str) -> None:
        self.target = httpx.URL(base_url)
        self._inner = httpx.HTTPTransport()

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        if request.url.scheme == "https" and request.url.host in REROUTED_HOSTS:
            request.url = request.url.copy_with(
                scheme="http", host=self.target.host, port=self.target.port
            )
        return self._inner.handle_request(request)

    def close(self) -> None:
        self._inner.close()

"""A stateful fake of the Slack Web API parts quiet mode uses, served on loopback.

Usage::

    with FakeSlackServer(clock=lambda: clock.now) as slack:
        person = slack.add_user("U1", status=("In a meeting", ":calendar:"))
        token = slack.issue_token("U1")            # or the OAuth flow through /oauth/v2/authorize
        Settings(slack_base_url=slack.base_url)    # the real slack_sdk client talks to it

Real semantics: `POST /api/<method>` with a form or JSON body (or GET with a query),
`Authorization: Bearer` or a `token` parameter, answers `{"ok": false, "error": ...}` with
HTTP 200 for refusals, per-method scopes (`missing_scope` with `needed`), `oauth.v2.access`
with client authentication (HTTP Basic or parameters) and single-use codes bound to their
redirect URI, status text over 100 characters refused, a status cleared when its expiration
passes, snoozes ending on their own, `snooze_not_active`, revoked tokens (`token_revoked`),
and planned failures through the shared `Faults` (`fake.faults.fail_next(path="users.profile.set",
status=429, retry_after=30)`): a 429 answers `ratelimited` with `Retry-After`, a 200 an
`ok: false` with the fault's `body["error"]`, a 5xx an HTML page.
"""

from __future__ import annotations

import base64
import json
import secrets
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Self
from urllib.parse import parse_qsl, urlencode

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from tests.fakes.faults import Fault, Faults
from tests.support.servers import AsgiServer, Startable

CLIENT_ID = "1111.2222"
CLIENT_SECRET = "fake-slack-secret"  # not a real credential
ALL_USER_SCOPES = ("users.profile:read", "users.profile:write", "dnd:read", "dnd:write")
# method -> the scope it needs (None: any valid token)
METHOD_SCOPES: dict[str, str | None] = {
    "users.profile.get": "users.profile:read",
    "users.profile.set": "users.profile:write",
    "dnd.setSnooze": "dnd:write",
    "dnd.endSnooze": "dnd:write",
    "dnd.info": "dnd:read",
    "auth.test": None,
    "auth.revoke": None,
}


@dataclass
class FakeSlackUser:
    id: str
    team_id: str = "T0GROWTH"
    status_text: str = ""
    status_emoji: str = ""
    status_expiration: int = 0
    snooze_endtime: int = 0  # Unix seconds; 0 = not snoozed


@dataclass
class Grant:
    user_id: str
    scopes: frozenset[str]
    revoked: bool = False


@dataclass
class Call:
    """One API call as the fake saw it (without the token)."""

    method: str
    params: dict[str, Any]
    ok: bool


@dataclass
class SlackState:
    users: dict[str, FakeSlackUser] = field(default_factory=dict)
    tokens: dict[str, Grant] = field(default_factory=dict)
    codes: dict[str, tuple[str, frozenset[str], str]] = field(default_factory=dict)
    calls: list[Call] = field(default_factory=list)


class SlackError(Exception):
    def __init__(self, error: str, **extra: Any) -> None:
        self.error, self.extra = error, extra
        super().__init__(error)


class FakeSlackServer(Startable):
    """The fake Slack; start with `with` or `start()` / `stop()`."""

    def __init__(self, clock: Callable[[], datetime] | None = None) -> None:
        self.state = SlackState()
        self.clock = clock or (lambda: datetime.now(UTC))
        # Who "approves" on the consent page, and with which scopes (None: what was asked).
        self.approve_as: str | None = None
        self.grant_scopes: tuple[str, ...] | None = None
        self.redirect_uris: set[str] = set()
        self.faults = Faults()  # planned failures: `fake.faults.fail_next(...)`
        self._lock = threading.Lock()
        self._server = AsgiServer(self.app())
        self.base_url = self._server.base_url

    # --- test controls -------------------------------------------------------------------

    def add_user(self, user_id: str, status: tuple[str, str] = ("", "")) -> FakeSlackUser:
        user = FakeSlackUser(user_id, status_text=status[0], status_emoji=status[1])
        self.state.users[user_id] = user
        return user

    def user(self, user_id: str) -> FakeSlackUser:
        with self._lock:
            person = self.state.users[user_id]
            self._expire(person)
            return person

    def issue_token(self, user_id: str, scopes: tuple[str, ...] = ALL_USER_SCOPES) -> str:
        token = "xoxp-" + secrets.token_hex(12)
        self.state.tokens[token] = Grant(user_id, frozenset(scopes))
        return token

    def revoke_all(self, user_id: str) -> None:
        for grant in self.state.tokens.values():
            if grant.user_id == user_id:
                grant.revoked = True

    def writes(self, method: str | None = None) -> list[Call]:
        """Successful calls that change something (status or snooze)."""
        names = {"users.profile.set", "dnd.setSnooze", "dnd.endSnooze"}
        return [
            c
            for c in self.state.calls
            if c.ok and c.method in names and (method is None or c.method == method)
        ]

    # --- server ----------------------------------------------------------------------------

    def app(self) -> Starlette:
        return Starlette(
            routes=[
                Route("/api/{method}", self._api, methods=["GET", "POST"]),
                Route("/oauth/v2/authorize", self._authorize, methods=["GET"]),
            ]
        )

    def start(self) -> Self:
        self._server.start()
        return self

    def stop(self) -> None:
        self._server.stop()

    # --- consent ---------------------------------------------------------------------------

    async def _authorize(self, request: Request) -> Response:
        query = request.query_params
        if query.get("client_id") != CLIENT_ID:
            return HTMLResponse("<p>Invalid client_id parameter</p>", status_code=400)
        redirect = query.get("redirect_uri", "")
        if self.redirect_uris and redirect not in self.redirect_uris:
            return HTMLResponse("<p>redirect_uri did not match</p>", status_code=400)
        if self.approve_as is None:
            refusal = {"error": "access_denied", "state": query.get("state", "")}
            return RedirectResponse(f"{redirect}?{urlencode(refusal)}", status_code=302)
        asked = tuple(s for s in query.get("user_scope", "").split(",") if s)
        scopes = frozenset(self.grant_scopes if self.grant_scopes is not None else asked)
        code = secrets.token_hex(8)
        self.state.codes[code] = (self.approve_as, scopes, redirect)
        return RedirectResponse(
            f"{redirect}?{urlencode({'code': code, 'state': query.get('state', '')})}", 302
        )

    # --- Web API ---------------------------------------------------------------------------

    async def _api(self, request: Request) -> Response:
        method = request.path_params["method"]
        params: dict[str, Any] = dict(request.query_params)
        body = await request.body()
        kind = request.headers.get("content-type", "")
        if body and kind.startswith("application/json"):
            params.update(json.loads(body))
        elif body:
            params.update(parse_qsl(body.decode()))
        fault = self.faults.take(request.method, request.url.path, body)
        with self._lock:
            if fault is not None:
                self.state.calls.append(Call(method, params, False))
                return self._failure(fault)
            try:
                result = self._handle(method, params, request.headers)
            except SlackError as error:
                self.state.calls.append(Call(method, params, False))
                return JSONResponse({"ok": False, "error": error.error, **error.extra})
            self.state.calls.append(Call(method, params, True))
            return JSONResponse({"ok": True, **result})

    @staticmethod
    def _failure(fault: Fault) -> Response:
        headers = fault.response_headers()
        if fault.status >= 500:
            page = "<html><body>Slack is having trouble</body></html>"
            return HTMLResponse(page, fault.status, headers=headers)
        error = (fault.body or {}).get("error") or (
            "ratelimited" if fault.status == 429 else "internal_error"
        )
        return JSONResponse({"ok": False, "error": error}, fault.status, headers=headers)

    def _handle(self, method: str, params: dict[str, Any], headers: Any) -> dict[str, Any]:
        if method == "oauth.v2.access":
            return self._exchange(params, headers)
        if method not in METHOD_SCOPES:
            raise SlackError("unknown_method")
        grant = self._grant(params, headers)
        needed = METHOD_SCOPES[method]
        if needed is not None and needed not in grant.scopes:
            raise SlackError(
                "missing_scope", needed=needed, provided=",".join(sorted(grant.scopes))
            )
        person = self.state.users[grant.user_id]
        self._expire(person)
        now = int(self.clock().timestamp())
        if method == "auth.test":
            return {"user_id": person.id, "team_id": person.team_id}
        if method == "auth.revoke":
            grant.revoked = True
            return {"revoked": True}
        if method == "users.profile.get":
            return {"profile": self._profile(person)}
        if method == "users.profile.set":
            return {"profile": self._set_profile(person, params)}
        if method == "dnd.setSnooze":
            minutes = str(params.get("num_minutes", ""))
            if not minutes.isdigit() or int(minutes) < 1:
                raise SlackError("invalid_arguments")
            person.snooze_endtime = now + int(minutes) * 60
            return {
                "snooze_enabled": True,
                "snooze_endtime": person.snooze_endtime,
                "snooze_remaining": int(minutes) * 60,
            }
        if method == "dnd.endSnooze":
            if not person.snooze_endtime:
                raise SlackError("snooze_not_active")
            person.snooze_endtime = 0
            return {"dnd_enabled": True, "snooze_enabled": False}
        # dnd.info
        return {
            "dnd_enabled": True,
            "snooze_enabled": bool(person.snooze_endtime),
            "snooze_endtime": person.snooze_endtime or None,
        }

    def _grant(self, params: dict[str, Any], headers: Any) -> Grant:
        auth = headers.get("authorization", "")
        token = auth.removeprefix("Bearer ").strip() if auth.startswith("Bearer ") else ""
        token = token or str(params.pop("token", ""))
        if not token:
            raise SlackError("not_authed")
        grant = self.state.tokens.get(token)
        if grant is None:
            raise SlackError("invalid_auth")
        if grant.revoked:
            raise SlackError("token_revoked")
        return grant

    def _exchange(self, params: dict[str, Any], headers: Any) -> dict[str, Any]:
        client_id, client_secret = params.get("client_id", ""), params.get("client_secret", "")
        auth = headers.get("authorization", "")
        if auth.startswith("Basic "):
            client_id, _, client_secret = base64.b64decode(auth[6:]).decode().partition(":")
        if client_id != CLIENT_ID or client_secret != CLIENT_SECRET:
            raise SlackError("invalid_client_id" if client_id != CLIENT_ID else "bad_client_secret")
        issued = self.state.codes.pop(str(params.get("code", "")), None)
        if issued is None:
            raise SlackError("invalid_code")
        user_id, scopes, redirect = issued
        if params.get("redirect_uri", "") != redirect:
            raise SlackError("bad_redirect_uri")
        self.state.users.setdefault(user_id, FakeSlackUser(user_id))
        token = self.issue_token(user_id, tuple(sorted(scopes)))
        person = self.state.users[user_id]
        return {
            "app_id": "A0GROWTH",
            "authed_user": {
                "id": user_id,
                "scope": ",".join(sorted(scopes)),
                "access_token": token,
                "token_type": "user",
            },
            "team": {"id": person.team_id, "name": "Growth Team"},
            "enterprise": None,
            "is_enterprise_install": False,
        }

    def _expire(self, person: FakeSlackUser) -> None:
        now = int(self.clock().timestamp())
        if person.status_expiration and person.status_expiration <= now:
            person.status_text, person.status_emoji, person.status_expiration = "", "", 0
        if person.snooze_endtime and person.snooze_endtime <= now:
            person.snooze_endtime = 0

    @staticmethod
    def _profile(person: FakeSlackUser) -> dict[str, Any]:
        return {
            "status_text": person.status_text,
            "status_emoji": person.status_emoji,
            "status_expiration": person.status_expiration,
        }

    def _set_profile(self, person: FakeSlackUser, params: dict[str, Any]) -> dict[str, Any]:
        profile = params.get("profile")
        if isinstance(profile, str):
            try:
                profile = json.loads(profile)
            except ValueError:
                raise SlackError("invalid_profile") from None
        if not isinstance(profile, dict):
            raise SlackError("invalid_profile")
        text = profile.get("status_text", person.status_text)
        if not isinstance(text, str) or len(text) > 100:
            raise SlackError("too_long", field="status_text")
        person.status_text = text
        person.status_emoji = str(profile.get("status_emoji", person.status_emoji))
        person.status_expiration = int(profile.get("status_expiration", 0) or 0)
        return self._profile(person)

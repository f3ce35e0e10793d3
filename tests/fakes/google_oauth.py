"""OAuth side of the fake Google server: consent, codes with PKCE, tokens, revocation."""

from __future__ import annotations

import base64
import hashlib
import secrets
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs, urlencode

from starlette.responses import JSONResponse, PlainTextResponse, RedirectResponse, Response

from tests.fakes.google_store import JSON, ApiError

__all__ = ["ALL_SCOPES", "CLIENT_ID", "CLIENT_SECRET", "REDIRECT_URI", "Account", "OAuthServer"]

CLIENT_ID = "fake-client.apps.googleusercontent.com"
CLIENT_SECRET = "fake-client-secret"
REDIRECT_URI = "https://growthguard.test/oauth/google/callback"
EVENTS_SCOPE = "https://www.googleapis.com/auth/calendar.events"
EVENTS_OWNED_SCOPE = "https://www.googleapis.com/auth/calendar.events.owned"
_AUTH = "https://www.googleapis.com/auth/"
# Which scopes let a token read or write events, as Google describes them: `calendar` and
# `calendar.events` on every calendar the person can open; the `.owned` ones only on
# calendars they own. Anything else is 403 insufficientPermissions.
READ_ANY = {
    _AUTH + s
    for s in ("calendar", "calendar.readonly", "calendar.events", "calendar.events.readonly")
}
READ_OWNED = {EVENTS_OWNED_SCOPE, _AUTH + "calendar.events.owned.readonly"}
WRITE_ANY = {_AUTH + "calendar", EVENTS_SCOPE}
WRITE_OWNED = {EVENTS_OWNED_SCOPE}
LIST_SCOPE = "https://www.googleapis.com/auth/calendar.calendarlist.readonly"
EMAIL_SCOPE = "https://www.googleapis.com/auth/userinfo.email"
ALL_SCOPES = [EVENTS_SCOPE, LIST_SCOPE, "openid", EMAIL_SCOPE]
_SHORT = {"email": EMAIL_SCOPE, "profile": "https://www.googleapis.com/auth/userinfo.profile"}


@dataclass
class Account:
    email: str
    sub: str
    verified: bool = True
    workspace: bool = True


@dataclass
class _Grant:
    email: str
    scopes: list[str]
    revoked: bool = False


@dataclass
class _Access:
    refresh_token: str | None
    email: str
    scopes: list[str]
    expires: float
    revoked: bool = False


@dataclass
class _Ctx:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: bytes
    json: Any = None
    match: dict[str, str] = field(default_factory=dict)

    def q(self, name: str, default: str | None = None) -> str | None:
        values = self.query.get(name)
        return values[0] if values else default

    def form(self) -> dict[str, str]:
        return {k: v[0] for k, v in parse_qs(self.body.decode()).items()}


class OAuthServer:
    """Grants and tokens of the fake; `accounts` is shared with the calendar side."""

    def __init__(
        self, accounts: dict[str, Account], client_id: str, secret: str, redirects: tuple[str, ...]
    ) -> None:
        self.accounts = accounts
        self.client_id, self.client_secret, self.redirect_uris = client_id, secret, redirects
        self.access_ttl = 3599
        self._consent: tuple[str | None, list[str] | None, bool] = (None, None, False)
        self._codes: dict[str, dict[str, Any]] = {}
        self._grants: dict[str, _Grant] = {}
        self._access: dict[str, _Access] = {}
        # The scopes each consent screen asked for, in order (tests check least privilege).
        self.requested_scopes: list[list[str]] = []

    def set_consent(
        self, email: str, *, scopes: list[str] | None = None, deny: bool = False
    ) -> None:
        """Who approves the consent screen next; `scopes` limits what they grant."""
        self._consent = (email, scopes, deny)

    def mint_credentials(
        self, email: str, scopes: list[str] | None = None, *, expired: bool = False
    ) -> dict[str, Any]:
        """Tokens as if the OAuth dance had happened: access_token, refresh_token, expiry."""
        refresh = "1//r-" + secrets.token_urlsafe(24)
        self._grants[refresh] = _Grant(email, list(scopes or ALL_SCOPES))
        token = self._issue_access(refresh, expired=expired)
        expiry = datetime.fromtimestamp(self._access[token].expires, UTC)
        return {
            "token": token,
            "refresh_token": refresh,
            "expiry": expiry.isoformat(),
            "scopes": self._grants[refresh].scopes,
        }

    def expire_access_tokens(self, email: str) -> None:
        for access in self._access.values():
            if access.email == email:
                access.expires = 0

    def revoke_grant(self, email: str) -> None:
        """The user removed the app's access: refreshes then get invalid_grant."""
        for grant in self._grants.values():
            grant.revoked |= grant.email == email
        for access in self._access.values():
            access.revoked |= access.email == email

    def _issue_access(self, refresh: str, *, expired: bool = False) -> str:
        grant = self._grants[refresh]
        token = "ya29.a-" + secrets.token_urlsafe(24)
        expires = time.time() + (-60 if expired else self.access_ttl)
        self._access[token] = _Access(refresh, grant.email, grant.scopes, expires)
        return token

    def authorize(self, ctx: _Ctx) -> Response:
        if ctx.q("client_id") != self.client_id:
            return PlainTextResponse("Error 401: invalid_client", status_code=401)
        redirect = ctx.q("redirect_uri")
        if redirect not in self.redirect_uris:
            return PlainTextResponse("Error 400: redirect_uri_mismatch", status_code=400)
        state = ctx.q("state")
        email, limit, deny = self._consent

        def back(**params: str | None) -> Response:
            query = urlencode({k: v for k, v in {**params, "state": state}.items() if v})
            return RedirectResponse(f"{redirect}?{query}", status_code=302)

        if ctx.q("response_type") != "code":
            return back(error="unsupported_response_type")
        if not ctx.q("code_challenge") or ctx.q("code_challenge_method") != "S256":
            return back(error="invalid_request")
        if deny or email is None or email not in self.accounts:
            return back(error="access_denied")
        asked = [_SHORT.get(s, s) for s in (ctx.q("scope") or "").split()]
        self.requested_scopes.append(asked)
        granted = [s for s in asked if limit is None or s in limit]
        code = "4/0A-" + secrets.token_urlsafe(24)
        self._codes[code] = {
            "email": email,
            "scopes": granted,
            "redirect_uri": redirect,
            "challenge": ctx.q("code_challenge"),
            "offline": ctx.q("access_type") == "offline",
        }
        return back(code=code, scope=" ".join(granted))

    def _client_ok(self, ctx: _Ctx, form: dict[str, str]) -> bool:
        client_id, secret = form.get("client_id"), form.get("client_secret")
        auth = ctx.headers.get("authorization", "")
        if auth.startswith("Basic "):
            client_id, _, secret = base64.b64decode(auth[6:]).decode().partition(":")
        return (client_id, secret) == (self.client_id, self.client_secret)

    def token(self, ctx: _Ctx) -> Response:
        form = ctx.form()
        if not self._client_ok(ctx, form):
            return JSONResponse({"error": "invalid_client"}, status_code=401)
        bad = JSONResponse({"error": "invalid_grant", "error_description": "Bad Request"}, 400)
        grant_type = form.get("grant_type")
        if grant_type == "authorization_code":
            code = self._codes.pop(form.get("code", ""), None)  # one-time, even when it fails
            if code is None or form.get("redirect_uri") != code["redirect_uri"]:
                return bad
            verifier = form.get("code_verifier", "").encode()
            digest = hashlib.sha256(verifier).digest()
            if base64.urlsafe_b64encode(digest).decode().rstrip("=") != code["challenge"]:
                return bad
            refresh = "1//r-" + secrets.token_urlsafe(24)
            self._grants[refresh] = _Grant(code["email"], code["scopes"])
            answer = self._token_answer(refresh)
            if code["offline"]:
                answer["refresh_token"] = refresh
            return JSONResponse(answer)
        if grant_type == "refresh_token":
            grant = self._grants.get(form.get("refresh_token", ""))
            if grant is None or grant.revoked:
                return JSONResponse(
                    {
                        "error": "invalid_grant",
                        "error_description": "Token has been expired or revoked.",
                    },
                    status_code=400,
                )
            return JSONResponse(self._token_answer(form["refresh_token"]))
        return JSONResponse({"error": "unsupported_grant_type"}, status_code=400)

    def _token_answer(self, refresh: str) -> JSON:
        return {
            "access_token": self._issue_access(refresh),
            "expires_in": self.access_ttl,
            "scope": " ".join(self._grants[refresh].scopes),
            "token_type": "Bearer",
        }

    def revoke(self, ctx: _Ctx) -> Response:
        token = ctx.form().get("token", "") or ctx.q("token", "") or ""
        refresh = token if token in self._grants else None
        if refresh is None and token in self._access:
            refresh = self._access[token].refresh_token
            self._access[token].revoked = True
        if refresh is None or self._grants[refresh].revoked:
            return JSONResponse(
                {"error": "invalid_token", "error_description": "Token expired or revoked"}, 400
            )
        self._grants[refresh].revoked = True
        for access in self._access.values():
            access.revoked |= access.refresh_token == refresh
        return JSONResponse({})

    def bearer(self, ctx: _Ctx, scope: str | None) -> Account:
        auth = ctx.headers.get("authorization", "")
        access = self._access.get(auth[7:]) if auth.startswith("Bearer ") else None
        if access is None or access.revoked or access.expires < time.time():
            raise ApiError(401, "authError", "Invalid Credentials")
        if scope is not None and scope not in access.scopes:
            raise ApiError(403, "insufficientPermissions", "Insufficient Permission")
        return self.accounts[access.email]

    def events_access(self, ctx: _Ctx, *, owner: bool, write: bool) -> Account:
        """The token's account, if its scopes allow reading (or writing) events on a calendar
        the person owns (`owner`) or only shares; 403 like Google otherwise."""
        account = self.bearer(ctx, None)
        auth = ctx.headers.get("authorization", "")
        scopes = set(self._access[auth[7:]].scopes)
        allowed = (
            (WRITE_ANY | (WRITE_OWNED if owner else set()))
            if write
            else (READ_ANY | WRITE_ANY | ((READ_OWNED | WRITE_OWNED) if owner else set()))
        )
        if not scopes & allowed:
            raise ApiError(
                403, "insufficientPermissions", "Request had insufficient authentication scopes."
            )
        return account

    def userinfo(self, ctx: _Ctx) -> Response:
        account = self.bearer(ctx, None)
        return JSONResponse(
            {"sub": account.sub, "email": account.email, "email_verified": account.verified}
        )

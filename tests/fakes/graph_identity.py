"""The fake Microsoft identity platform (v2.0 endpoints) behind the fake Graph server.

It serves what MSAL talks to: the tenant's openid-configuration (advertising the *production*
https://login.microsoftonline.com URLs, since tests reroute that host), the authorize endpoint
(auto-approves as `approve_as`, answers by 302 or `form_post`, checks client id, exact redirect
URI and an S256 challenge) and the token endpoint (one-time codes, client secret, PKCE
verifier, refresh tokens, revocation).
"""

from __future__ import annotations

import base64
import hashlib
import html
import json
import secrets
import threading
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import (
    HTMLResponse,
    JSONResponse,
    PlainTextResponse,
    RedirectResponse,
    Response,
)

from tests.fakes.graph_state import GraphState

LOGIN = "https://login.microsoftonline.com"


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def unsigned_jwt(claims: dict[str, Any]) -> str:
    """A well-formed JWT with `alg: none` (MSAL only decodes id tokens, never verifies them)."""
    header = b64url(json.dumps({"typ": "JWT", "alg": "none"}).encode())
    return f"{header}.{b64url(json.dumps(claims).encode())}."


@dataclass
class AccessToken:
    email: str
    grant: str
    expires_at: float
    scopes: frozenset[str] = frozenset({"Calendars.ReadWrite"})


GRAPH_RESOURCE = "https://graph.microsoft.com/"
RESERVED = {"openid", "profile", "offline_access", "email"}


def graph_scopes(scope: str) -> frozenset[str]:
    """The Graph permissions in an OAuth `scope` string (resource prefix and OIDC dropped)."""
    return frozenset(s.removeprefix(GRAPH_RESOURCE) for s in scope.split() if s not in RESERVED)


@dataclass
class Identity:
    """Registered apps, issued codes and tokens, and what the "user" does at the consent page."""

    state: GraphState
    apps: dict[str, tuple[str, set[str]]] = field(default_factory=dict)  # id -> secret, URIs
    approve_as: str | None = None
    deny_with: str | None = None  # an OAuth error code the next authorization ends with
    # The token carries exactly these permissions, whatever was asked (what a tenant admin
    # consented to); None: everything asked is granted.
    grant_only: frozenset[str] | None = None
    access_token_lifetime: int = 3600
    codes: dict[str, dict[str, Any]] = field(default_factory=dict)
    refresh_tokens: dict[str, tuple[str, str]] = field(default_factory=dict)  # rt -> email, grant
    access_tokens: dict[str, AccessToken] = field(default_factory=dict)
    revoked_grants: set[str] = field(default_factory=set)
    nonce_override: str | None = None  # put this nonce into id tokens (nonce mismatch tests)
    token_requests: list[dict[str, str]] = field(default_factory=list)
    # The scopes each authorization asked for, in order (tests check least privilege).
    requested_scopes: list[list[str]] = field(default_factory=list)
    grant_scopes: dict[str, frozenset[str]] = field(default_factory=dict)  # grant -> scopes
    lock: threading.Lock = field(default_factory=threading.Lock)

    def register_app(self, client_id: str, secret: str, *redirect_uris: str) -> None:
        self.apps[client_id] = (secret, set(redirect_uris))

    def revoke_grant(self, email: str) -> None:
        """Revoke every grant of the user: refresh fails, issued access tokens stop working."""
        with self.lock:
            grants = {g for e, g in self.refresh_tokens.values() if e == email.lower()}
            grants |= {t.grant for t in self.access_tokens.values() if t.email == email.lower()}
            self.revoked_grants |= grants

    def expire_access_tokens(self, email: str | None = None) -> None:
        """Make the server reject current access tokens as expired (MSAL still holds them)."""
        with self.lock:
            for token in self.access_tokens.values():
                if email is None or token.email == email.lower():
                    token.expires_at = 0

    def scopes_for(self, bearer: str) -> frozenset[str]:
        """The Graph permissions an access token carries."""
        with self.lock:
            token = self.access_tokens.get(bearer)
            return token.scopes if token is not None else frozenset()

    def user_for(self, bearer: str) -> str | None:
        """The email an access token belongs to, if it is valid now."""
        with self.lock:
            token = self.access_tokens.get(bearer)
            if token is None or token.grant in self.revoked_grants:
                return None
            return token.email if token.expires_at > time.time() else None

    # --- endpoints ----------------------------------------------------------------------------

    async def openid_configuration(self, request: Request) -> Response:
        tenant = request.path_params["tenant"]
        base = f"{LOGIN}/{tenant}"
        issuer_tenant = "{tenantid}" if tenant in {"common", "organizations"} else tenant
        return JSONResponse(
            {
                "issuer": f"{LOGIN}/{issuer_tenant}/v2.0",
                "authorization_endpoint": f"{base}/oauth2/v2.0/authorize",
                "token_endpoint": f"{base}/oauth2/v2.0/token",
                "end_session_endpoint": f"{base}/oauth2/v2.0/logout",
                "jwks_uri": f"{base}/discovery/v2.0/keys",
                "response_types_supported": ["code", "id_token", "code id_token"],
                "scopes_supported": ["openid", "profile", "email", "offline_access"],
                "token_endpoint_auth_methods_supported": ["client_secret_post"],
                "code_challenge_methods_supported": ["S256"],
                "tenant_region_scope": None,
            }
        )

    async def instance_discovery(self, request: Request) -> Response:
        host = "login.microsoftonline.com"
        return JSONResponse(
            {
                "tenant_discovery_endpoint": (
                    f"{LOGIN}/common/v2.0/.well-known/openid-configuration"
                ),
                "api-version": "1.1",
                "metadata": [
                    {"preferred_network": host, "preferred_cache": host, "aliases": [host]}
                ],
            }
        )

    async def authorize(self, request: Request) -> Response:
        q = request.query_params
        app = self.apps.get(q.get("client_id", ""))
        redirect_uri = q.get("redirect_uri", "")
        # Never redirect to an unregistered URI: that would be an open redirector.
        if app is None or redirect_uri not in app[1]:
            return PlainTextResponse("AADSTS50011: unknown client or redirect URI", 400)

        def back(**params: str) -> Response:
            params = {k: v for k, v in params.items() if v}
            if q.get("response_mode") == "form_post":  # an auto-submitting form, as Entra does
                fields = "".join(
                    f'<input type="hidden" name="{html.escape(k)}" value="{html.escape(v)}"/>'
                    for k, v in params.items()
                )
                return HTMLResponse(
                    f'<html><body onload="document.forms[0].submit()"><form method="POST" '
                    f'action="{html.escape(redirect_uri)}">{fields}</form></body></html>'
                )
            return RedirectResponse(f"{redirect_uri}?{urlencode(params)}", status_code=302)

        state = q.get("state", "")
        if q.get("response_type") != "code":
            return back(error="unsupported_response_type", state=state)
        if q.get("code_challenge_method") != "S256" or not q.get("code_challenge"):
            return back(
                error="invalid_request", error_description="PKCE S256 required", state=state
            )
        if self.deny_with is not None:
            error, self.deny_with = self.deny_with, None
            return back(error=error, error_description="The user denied consent", state=state)
        if self.approve_as is None:
            return back(error="login_required", state=state)
        code = "M.C" + secrets.token_urlsafe(24)
        asked = graph_scopes(q.get("scope", ""))
        with self.lock:
            self.requested_scopes.append(q.get("scope", "").split())
            self.codes[code] = {
                "scopes": asked if self.grant_only is None else self.grant_only,
                "client_id": q["client_id"],
                "redirect_uri": redirect_uri,
                "challenge": q["code_challenge"],
                "nonce": q.get("nonce"),
                "email": self.approve_as.lower(),
                "tenant": request.path_params["tenant"],
            }
        return back(code=code, state=state, session_state=secrets.token_hex(8))

    async def token(self, request: Request) -> Response:
        form = {k: str(v) for k, v in (await request.form()).items()}
        with self.lock:
            self.token_requests.append({k: v for k, v in form.items() if k == "grant_type"})
        app = self.apps.get(form.get("client_id", ""))
        if app is None or not secrets.compare_digest(app[0], form.get("client_secret", "")):
            return self._error(401, "invalid_client", "AADSTS7000215: Invalid client secret.")
        grant_type = form.get("grant_type")
        if grant_type == "authorization_code":
            return self._redeem_code(form)
        if grant_type == "refresh_token":
            with self.lock:
                found = self.refresh_tokens.get(form.get("refresh_token", ""))
            if found is None or found[1] in self.revoked_grants:
                return self._error(400, "invalid_grant", "AADSTS70008: the refresh token expired")
            return self._issue(found[0], found[1], form, nonce=None)
        return self._error(400, "unsupported_grant_type", "unsupported grant type")

    # --- helpers ------------------------------------------------------------------------------

    def _redeem_code(self, form: dict[str, str]) -> Response:
        with self.lock:
            code = self.codes.pop(form.get("code", ""), None)  # one-time, even when it fails
        if code is None or code["client_id"] != form.get("client_id"):
            return self._error(400, "invalid_grant", "AADSTS70000: the code is invalid or used")
        if code["redirect_uri"] != form.get("redirect_uri"):
            return self._error(400, "invalid_grant", "AADSTS50011: redirect URI mismatch")
        verifier = form.get("code_verifier", "")
        if b64url(hashlib.sha256(verifier.encode("ascii")).digest()) != code["challenge"]:
            return self._error(400, "invalid_grant", "AADSTS501481: code verifier mismatch")
        grant = secrets.token_hex(8)
        with self.lock:
            self.grant_scopes[grant] = code["scopes"]
        return self._issue(code["email"], grant, form, nonce=code["nonce"])

    def _issue(self, email: str, grant: str, form: dict[str, str], nonce: str | None) -> Response:
        user = self.state.user(email)
        now = int(time.time())
        access, refresh = "EwB" + secrets.token_urlsafe(32), "M.R3" + secrets.token_urlsafe(32)
        with self.lock:
            # What was consented to (all of it: the fake's user grants everything asked).
            scopes = self.grant_scopes.get(grant, frozenset({"Calendars.ReadWrite"}))
            self.access_tokens[access] = AccessToken(
                email.lower(), grant, now + self.access_token_lifetime, scopes
            )
            self.refresh_tokens[refresh] = (email.lower(), grant)
        claims = {
            "iss": f"{LOGIN}/{user.tid}/v2.0",
            "aud": form["client_id"],
            "iat": now,
            "nbf": now,
            "exp": now + 3600,
            "oid": user.oid,
            "sub": b64url(hashlib.sha256(user.oid.encode()).digest()),
            "tid": user.tid,
            "name": user.name,
            "preferred_username": user.email,
            "ver": "2.0",
        }
        if nonce or self.nonce_override:
            claims["nonce"] = self.nonce_override or nonce
        client_info = b64url(json.dumps({"uid": user.oid, "utid": user.tid}).encode())
        return JSONResponse(
            {
                "token_type": "Bearer",
                "scope": " ".join(sorted(scopes | {"openid", "profile", "offline_access"})),
                "expires_in": self.access_token_lifetime,
                "ext_expires_in": self.access_token_lifetime,
                "access_token": access,
                "refresh_token": refresh,
                "id_token": unsigned_jwt(claims),
                "client_info": client_info,
            },
            headers={"Cache-Control": "no-store", "Pragma": "no-cache"},
        )

    @staticmethod
    def _error(status: int, code: str, description: str) -> Response:
        return JSONResponse(
            {"error": code, "error_description": description, "error_codes": [0]}, status
        )

"""Google OAuth: authorization URL (PKCE S256), code exchange, stored credentials, revocation."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import requests
from google.oauth2.credentials import Credentials
from google_auth_oauthlib.flow import Flow
from oauthlib.oauth2.rfc6749.errors import OAuth2Error  # type: ignore[import-untyped]

from connectors.errors import ConnectorError, ReauthRequired, TransientError

__all__ = [
    "BOOK_ONLY_SCOPES",
    "CALENDAR_SCOPES",
    "SCOPES",
    "AuthorizationFailed",
    "AuthorizationStart",
    "GoogleConfig",
    "GoogleGrant",
    "MissingScopes",
    "dump_credentials",
    "finish_authorization",
    "load_credentials",
    "normalise_scopes",
    "revoke",
    "start_authorization",
]

EVENTS_SCOPE = "https://www.googleapis.com/auth/calendar.events"
# "See, create, change, and delete events on Google calendars you own": nothing on calendars
# others share with the person, which `calendar.events` would cover as well.
EVENTS_OWNED_SCOPE = "https://www.googleapis.com/auth/calendar.events.owned"
CALENDAR_LIST_SCOPE = "https://www.googleapis.com/auth/calendar.calendarlist.readonly"
EMAIL_SCOPE = "https://www.googleapis.com/auth/userinfo.email"
IDENTITY_SCOPES = ["openid", EMAIL_SCOPE]
CALENDAR_SCOPES = [EVENTS_SCOPE, CALENDAR_LIST_SCOPE]
# Book only: the person's own calendars' events (to read busy time and write blocks) and the
# calendar list. Declines are never attempted in this mode (the policy only flags).
BOOK_ONLY_SCOPES = [EVENTS_OWNED_SCOPE, CALENDAR_LIST_SCOPE]
SCOPES = [*CALENDAR_SCOPES, *IDENTITY_SCOPES]

# Google reports some scopes in a short form and others in the URL form, depending on the request.
_ALIASES = {
    "email": EMAIL_SCOPE,
    "profile": "https://www.googleapis.com/auth/userinfo.profile",
}


@dataclass(frozen=True)
class GoogleConfig:
    """The OAuth client and endpoints; tests point the URIs at a fake server."""

    client_id: str
    client_secret: str
    redirect_uri: str
    auth_uri: str = "https://accounts.google.com/o/oauth2/auth"
    token_uri: str = "https://oauth2.googleapis.com/token"
    revoke_uri: str = "https://oauth2.googleapis.com/revoke"
    userinfo_uri: str = "https://openidconnect.googleapis.com/v1/userinfo"
    api_endpoint: str = "https://www.googleapis.com/calendar/v3/"
    timeout: float = 30.0

    def __repr__(self) -> str:  # keep the client secret out of logs and tracebacks
        return f"GoogleConfig(client_id={self.client_id!r}, redirect_uri={self.redirect_uri!r})"


@dataclass(frozen=True)
class AuthorizationStart:
    """Where to send the browser; keep `state` and `code_verifier` server-side."""

    url: str
    state: str
    code_verifier: str

    def __repr__(self) -> str:
        return "AuthorizationStart(url=..., state=..., code_verifier=...)"


@dataclass(frozen=True)
class GoogleGrant:
    """The result of a successful code exchange; `credentials` is the blob to store encrypted."""

    credentials: bytes
    email: str
    email_verified: bool
    subject: str
    scopes: list[str]

    def __repr__(self) -> str:
        return f"GoogleGrant(email={self.email!r}, subject={self.subject!r}, scopes={self.scopes})"


class AuthorizationFailed(ConnectorError):
    """The authorization code could not be exchanged (bad or reused code, wrong verifier)."""


class MissingScopes(ConnectorError):
    """The user unticked calendar permissions on the consent screen (granular consent)."""

    def __init__(self, missing: list[str]) -> None:
        self.missing = missing
        super().__init__("Google grant lacks required scopes: " + " ".join(missing))


def normalise_scopes(scopes: str | list[str] | None) -> list[str]:
    """Scopes as sorted URL forms, whatever separator or short forms Google used."""
    if scopes is None:
        return []
    items = scopes.split() if isinstance(scopes, str) else scopes
    return sorted({_ALIASES.get(s, s) for s in items})


def _flow(config: GoogleConfig, calendar_scopes: list[str], **kwargs: Any) -> Any:
    client = {
        "web": {
            "client_id": config.client_id,
            "client_secret": config.client_secret,
            "auth_uri": config.auth_uri,
            "token_uri": config.token_uri,
            "redirect_uris": [config.redirect_uri],
        }
    }
    scopes = [*calendar_scopes, *IDENTITY_SCOPES]
    return Flow.from_client_config(client, scopes, redirect_uri=config.redirect_uri, **kwargs)


def start_authorization(
    config: GoogleConfig, calendar_scopes: list[str] | None = None
) -> AuthorizationStart:
    """A consent URL with a fresh state and PKCE verifier, asking for a refresh token and
    `calendar_scopes` (default: full access)."""
    wanted = CALENDAR_SCOPES if calendar_scopes is None else calendar_scopes
    flow = _flow(config, wanted, autogenerate_code_verifier=True)
    extra = {}
    if wanted == CALENDAR_SCOPES:
        # Only for full access: with it, Google adds every scope granted before (a narrower
        # connect after a full one would silently be full again).
        extra["include_granted_scopes"] = "true"
    url, state = flow.authorization_url(access_type="offline", prompt="consent", **extra)
    return AuthorizationStart(url=url, state=state, code_verifier=flow.code_verifier)


def finish_authorization(
    config: GoogleConfig,
    *,
    state: str,
    code_verifier: str,
    code: str,
    granted_scope: str | None,
    calendar_scopes: list[str] | None = None,
) -> GoogleGrant:
    """Exchange `code`, check the granted scopes (those of `calendar_scopes`, default full
    access) and read the account's identity.

    Raises `AuthorizationFailed`, `MissingScopes` or `TransientError`.
    """
    wanted = CALENDAR_SCOPES if calendar_scopes is None else calendar_scopes
    flow = _flow(config, wanted, state=state, code_verifier=code_verifier)
    try:
        token: dict[str, Any] = dict(flow.fetch_token(code=code))
    except Warning as changed:
        # oauthlib raises "Scope has changed" when the user granted fewer scopes than asked;
        # the token is still good and the scope check below decides.
        token = dict(getattr(changed, "token", None) or {})
        if "access_token" not in token:
            raise AuthorizationFailed("Google token response had no access token") from None
    except OAuth2Error as error:
        raise AuthorizationFailed(f"Google refused the code exchange ({error.error})") from None
    except requests.RequestException:
        raise TransientError("could not reach Google's token endpoint") from None
    scopes = normalise_scopes(token.get("scope") or granted_scope)
    missing = [s for s in wanted if s not in scopes]
    if missing:
        raise MissingScopes(missing)
    info = _userinfo(config, token["access_token"])
    expires_at = token.get("expires_at")
    credentials = Credentials(  # type: ignore[no-untyped-call]
        token=token["access_token"],
        refresh_token=token.get("refresh_token"),
        token_uri=config.token_uri,
        client_id=config.client_id,
        client_secret=config.client_secret,
        scopes=scopes,
    )
    if isinstance(expires_at, int | float):
        # google-auth compares expiry against naive UTC, so it stores it naive
        credentials.expiry = datetime.fromtimestamp(expires_at, UTC).replace(tzinfo=None)
    return GoogleGrant(
        credentials=dump_credentials(credentials),
        email=str(info.get("email", "")),
        email_verified=bool(info.get("email_verified", False)),
        subject=str(info.get("sub", "")),
        scopes=scopes,
    )


def _userinfo(config: GoogleConfig, access_token: str) -> dict[str, Any]:
    try:
        response = requests.get(
            config.userinfo_uri,
            headers={"Authorization": f"Bearer {access_token}"},
            timeout=config.timeout,
        )
    except requests.RequestException:
        raise TransientError("could not reach Google's userinfo endpoint") from None
    if response.status_code >= 500:
        raise TransientError(f"Google userinfo failed with HTTP {response.status_code}")
    if response.status_code != 200:
        raise AuthorizationFailed(
            f"Google userinfo refused the token (HTTP {response.status_code})"
        )
    body = response.json()
    if not isinstance(body, dict) or not body.get("sub"):
        raise AuthorizationFailed("Google userinfo returned no subject")
    return body


def dump_credentials(credentials: Credentials) -> bytes:
    """The stored blob: tokens, expiry and scopes; never the client secret."""
    expiry = credentials.expiry
    blob = {
        "v": 1,
        "token": credentials.token,
        "refresh_token": credentials.refresh_token,
        "expiry": expiry.replace(tzinfo=UTC).isoformat() if expiry else None,
        "scopes": list(credentials.scopes or []),
    }
    return json.dumps(blob, sort_keys=True).encode()


def load_credentials(config: GoogleConfig, blob: bytes) -> Credentials:
    """Credentials from a stored blob, pointed at `config.token_uri`.

    Built directly because `Credentials.from_authorized_user_info` forces Google's token URI.
    """
    try:
        data = json.loads(blob)
        expiry = data.get("expiry")
        credentials = Credentials(  # type: ignore[no-untyped-call]
            token=data.get("token"),
            refresh_token=data.get("refresh_token"),
            token_uri=config.token_uri,
            client_id=config.client_id,
            client_secret=config.client_secret,
            scopes=data.get("scopes") or None,
        )
        if expiry:
            # google-auth compares expiry against naive UTC
            credentials.expiry = datetime.fromisoformat(expiry).astimezone(UTC).replace(tzinfo=None)
    except (ValueError, TypeError, AttributeError):
        # only reconnecting the account can replace a corrupt blob
        raise ReauthRequired("stored Google credentials are unreadable") from None
    return credentials


def revoke(config: GoogleConfig, credentials: bytes) -> None:
    """Revoke the grant at Google; an already revoked or unknown token counts as done."""
    try:
        data = json.loads(credentials)
        token = data.get("refresh_token") or data.get("token")
    except (ValueError, AttributeError):
        return  # nothing usable to revoke
    if not token:
        return
    try:
        response = requests.post(
            config.revoke_uri,
            data={"token": token},
            headers={"Content-Type": "application/x-www-form-urlencoded"},
            timeout=config.timeout,
        )
    except requests.RequestException:
        raise TransientError("could not reach Google's revoke endpoint") from None
    if response.status_code == 200:
        return
    if response.status_code == 400:
        try:
            error = response.json().get("error")
        except ValueError:
            error = None
        if error == "invalid_token":
            return
    if response.status_code >= 500:
        raise TransientError(f"Google revoke failed with HTTP {response.status_code}")
    raise ConnectorError(f"Google revoke failed with HTTP {response.status_code}")

"""Microsoft sign-in with MSAL: auth-code flow with PKCE + nonce, silent tokens, disconnect.

The credential blob GrowthGuard stores for a Microsoft account is a serialized MSAL token cache
(encrypted by the caller). Production URLs stay here; tests reroute them through the
`msal_http_client` / `graph_transport` seams of `MicrosoftConfig`.
"""

from __future__ import annotations

import threading
import warnings
from dataclasses import dataclass, field
from typing import Any

import httpx
import msal
import requests

from connectors.base import SaveCredentials
from connectors.errors import ConnectorError, ReauthRequired, TransientError

__all__ = [
    "SCOPES",
    "AuthorizationFailed",
    "MicrosoftConfig",
    "MicrosoftGrant",
    "MissingScopes",
    "TokenSource",
    "finish_authorization",
    "forget_tokens",
    "start_authorization",
]

# MSAL adds the reserved offline_access/openid/profile itself (and refuses them if passed).
# Graph has no narrower permission that can create events: Calendars.ReadWrite is the only
# delegated write permission for calendars (Calendars.ReadBasic / Calendars.Read only read),
# so a book-only connect asks for the same scope; the narrowing is GrowthGuard's own.
SCOPES = ["Calendars.ReadWrite"]
GRAPH_RESOURCE = "https://graph.microsoft.com/"
_TRANSIENT_ERRORS = {"temporarily_unavailable", "server_error", "service_unavailable"}


class AuthorizationFailed(ConnectorError):
    """The authorization response was refused (state, nonce, PKCE, consent denied...)."""


class MissingScopes(ConnectorError):
    """The token lacks permissions asked for (an admin or the person held some back)."""

    def __init__(self, missing: list[str]) -> None:
        self.missing = missing
        super().__init__("Microsoft grant lacks required scopes: " + " ".join(missing))


def missing_scopes(granted: str | None) -> list[str]:
    """Which of SCOPES the token response's `scope` lacks (Graph may prefix its resource);
    nothing when the response did not say."""
    if not granted:
        return []
    have = {s.removeprefix(GRAPH_RESOURCE).lower() for s in granted.split()}
    return [s for s in SCOPES if s.lower() not in have]


@dataclass(frozen=True)
class MicrosoftConfig:
    """The app registration, plus two seams tests use to reach a local fake."""

    client_id: str
    client_secret: str = field(repr=False)
    redirect_uri: str
    authority: str = "https://login.microsoftonline.com/common"  # or organizations / tenant id
    graph_base: str = "https://graph.microsoft.com/v1.0"
    timeout: float = 30.0
    msal_http_client: Any = None  # passed to MSAL as `http_client` when set
    graph_transport: httpx.BaseTransport | None = None  # used by the Graph httpx client


@dataclass(frozen=True)
class MicrosoftGrant:
    """What a finished sign-in yields; `token_cache` is the credential blob to store."""

    token_cache: bytes = field(repr=False)
    email: str
    home_account_id: str
    name: str
    # The person's stable identity: "<oid>.<tid>" from the id token (never the email, which
    # a tenant's admin or user can set to anything).
    subject: str = ""
    # Only when the token says the email's domain owner verified it (the optional `xms_edov`
    # claim); `email` and `preferred_username` alone prove nothing.
    email_verified: bool = False


def _application(config: MicrosoftConfig, cache: msal.SerializableTokenCache | None = None) -> Any:
    kwargs: dict[str, Any] = {"timeout": config.timeout}
    if config.msal_http_client is not None:
        kwargs["http_client"] = config.msal_http_client
    try:
        return msal.ConfidentialClientApplication(
            config.client_id,
            client_credential=config.client_secret,
            authority=config.authority,
            token_cache=cache,
            **kwargs,
        )
    except (requests.RequestException, OSError):
        # MSAL fetches the authority's openid-configuration while it is being built
        raise TransientError("could not reach the Microsoft identity platform") from None


def start_authorization(
    config: MicrosoftConfig, *, login_hint: str | None = None
) -> dict[str, Any]:
    """Begin the auth-code flow; keep the returned dict server-side, redirect to `auth_uri`.

    The flow holds the state, nonce and PKCE verifier. The answer comes back in the query
    string, not as `form_post`: browsers do not send SameSite=Lax cookies on a cross-site POST,
    and the state is bound to such a cookie. The code stays safe in a URL because it is
    single-use, bound to the PKCE verifier and redeemable only with the client secret.
    """
    try:
        with warnings.catch_warnings():
            # MSAL nudges towards form_post; query is a deliberate choice (see above).
            warnings.filterwarnings("ignore", message="response_mode='form_post'")
            flow: dict[str, Any] = _application(config).initiate_auth_code_flow(
                SCOPES,
                redirect_uri=config.redirect_uri,
                response_mode="query",
                login_hint=login_hint,
            )
    except (requests.RequestException, OSError):
        raise TransientError("could not reach the Microsoft identity platform") from None
    return flow


def finish_authorization(
    config: MicrosoftConfig, flow: dict[str, Any], auth_response: dict[str, str]
) -> MicrosoftGrant:
    """Redeem the authorization response (the callback's form fields) for a token cache."""
    cache = msal.SerializableTokenCache()
    app = _application(config, cache)
    try:
        result = app.acquire_token_by_auth_code_flow(flow, auth_response, scopes=SCOPES)
    except ValueError:  # state mismatch or a malformed flow; the message echoes both states
        raise AuthorizationFailed("authorization response does not match this sign-in") from None
    except RuntimeError:  # nonce mismatch; the message contains the id token's claims
        raise AuthorizationFailed("id token nonce does not match this sign-in") from None
    except (requests.RequestException, OSError):
        raise TransientError("could not reach the Microsoft identity platform") from None
    if "error" in result:
        # error codes are safe to show; descriptions may echo request data, so leave them out
        raise AuthorizationFailed(f"Microsoft refused the sign-in ({result['error']})")
    missing = missing_scopes(result.get("scope"))
    if missing:
        raise MissingScopes(missing)
    claims = result.get("id_token_claims") or {}
    email = claims.get("email") or claims.get("preferred_username")
    oid, tid = claims.get("oid"), claims.get("tid")
    accounts = app.get_accounts(username=claims.get("preferred_username")) if email else []
    if not email or not accounts or not oid or not tid:
        raise AuthorizationFailed("Microsoft did not say which account signed in")
    return MicrosoftGrant(
        token_cache=cache.serialize().encode(),
        email=str(email),
        home_account_id=str(accounts[0]["home_account_id"]),
        name=str(claims.get("name", "")),
        subject=f"{oid}.{tid}",
        email_verified=claims.get("xms_edov") in (True, 1, "1", "true"),
    )


def forget_tokens(config: MicrosoftConfig, cache: bytes) -> bytes:
    """Forget every account in `cache`; returns the emptied cache.

    Microsoft has no revocation endpoint for delegated auth-code grants: disconnecting means the
    caller deletes the stored cache (the refresh token then is never used again; the user can
    also remove the app at https://myapps.microsoft.com). This scrubs the blob for good measure
    and needs no network.
    """
    del config  # kept for symmetry with Google's oauth.revoke(config, credentials)
    token_cache = msal.SerializableTokenCache()
    token_cache.deserialize(cache.decode())
    kinds = token_cache.CredentialType
    for kind, remove in (
        (kinds.REFRESH_TOKEN, token_cache.remove_rt),
        (kinds.ACCESS_TOKEN, token_cache.remove_at),
        (kinds.ID_TOKEN, token_cache.remove_idt),
        (kinds.ACCOUNT, token_cache.remove_account),
    ):
        for item in list(token_cache.search(kind)):
            remove(item)
    return str(token_cache.serialize()).encode()


class TokenSource:
    """Access tokens for one account of a serialized MSAL cache; saves the cache when it changes.

    Thread-safe: connectors share one per account across worker threads.
    """

    def __init__(
        self,
        config: MicrosoftConfig,
        cache: bytes,
        save: SaveCredentials,
        home_account_id: str | None = None,
    ) -> None:
        self._config = config
        self._cache = msal.SerializableTokenCache()
        try:
            self._cache.deserialize(cache.decode())
        except ValueError:
            raise ReauthRequired("the stored Microsoft credentials are unreadable") from None
        self._save = save
        self._home_account_id = home_account_id
        self._app: Any = None
        self._lock = threading.Lock()

    def _account(self) -> dict[str, Any]:
        accounts = self._app.get_accounts()
        if self._home_account_id is not None:
            accounts = [a for a in accounts if a["home_account_id"] == self._home_account_id]
        if len(accounts) != 1:
            raise ReauthRequired("the Microsoft token cache does not hold exactly this account")
        account: dict[str, Any] = accounts[0]
        return account

    @property
    def username(self) -> str:
        """The signed-in account's email (from the cache, no network)."""
        for account in self._cache.search(self._cache.CredentialType.ACCOUNT):
            if self._home_account_id in (None, account.get("home_account_id")):
                return str(account.get("username", ""))
        raise ReauthRequired("the Microsoft token cache holds no account")

    @property
    def home_account_id(self) -> str:
        if self._home_account_id is None:
            with self._lock:
                self._app = self._app or _application(self._config, self._cache)
                self._home_account_id = str(self._account()["home_account_id"])
        return self._home_account_id

    def access_token(self, *, force_refresh: bool = False) -> str:
        """A valid access token, refreshed by MSAL when needed; ReauthRequired if it cannot."""
        with self._lock:
            if self._app is None:
                self._app = _application(self._config, self._cache)
            account = self._account()
            try:
                result = self._app.acquire_token_silent_with_error(
                    SCOPES, account=account, force_refresh=force_refresh
                )
            except (requests.RequestException, OSError):
                raise TransientError("could not reach the Microsoft identity platform") from None
            finally:
                if self._cache.has_state_changed:
                    self._save(str(self._cache.serialize()).encode())
            if not result:
                raise ReauthRequired("no usable Microsoft token; reconnect the account")
            if "error" in result:
                code = str(result["error"])
                if code in _TRANSIENT_ERRORS:
                    raise TransientError(f"Microsoft token refresh failed ({code})")
                raise ReauthRequired(f"Microsoft refused the token refresh ({code})")
            return str(result["access_token"])

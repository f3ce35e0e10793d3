"""The Microsoft 365 / Outlook registry entry: MSAL auth-code flow (PKCE + nonce)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from connectors.errors import ConnectorError
from connectors.microsoft import oauth, push
from connectors.microsoft.connector import make_factory
from connectors.registry import ConnectKind, ConnectRefused, Grant, OAuthStart, ProviderEntry

__all__ = ["entry"]


def entry(config: oauth.MicrosoftConfig) -> ProviderEntry:
    """Outlook / Microsoft 365 with the app registration in `config`."""

    def begin() -> OAuthStart:
        flow = oauth.start_authorization(config)
        return OAuthStart(str(flow["auth_uri"]), str(flow["state"]), dict(flow))

    def finish(flow: Mapping[str, Any], params: Mapping[str, str]) -> Grant:
        if "error" in params:
            said = params.get("error_description") or params["error"]
            raise ConnectRefused(f"Microsoft said: {said}")
        try:
            grant = oauth.finish_authorization(config, dict(flow), dict(params))
        except ConnectorError as error:
            raise ConnectRefused(f"Microsoft sign-in failed: {error}") from None
        return Grant.by_email(grant.token_cache, grant.email, grant.email_verified, grant.subject)

    def refresh(blob: bytes) -> bytes:
        saved: list[bytes] = []
        oauth.TokenSource(config, blob, saved.append).access_token(force_refresh=True)
        return saved[-1] if saved else blob

    def revoke(blob: bytes) -> None:
        oauth.forget_tokens(config, blob)  # Microsoft has nothing to revoke: forget only

    return ProviderEntry(
        name="microsoft",
        label="Outlook / Microsoft 365",
        kind=ConnectKind.OAUTH,
        build=make_factory(config),
        begin=begin,
        finish=finish,
        revoke=revoke,
        refresh=refresh,
        sign_in=True,
        push=push.parse,
    )

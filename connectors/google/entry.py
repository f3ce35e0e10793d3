"""The Google registry entry: OAuth (PKCE) sign-in and connect."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import google.auth.exceptions
from google.auth.transport.requests import Request

from connectors.errors import ConnectorError, ReauthRequired, TransientError
from connectors.google import oauth, push
from connectors.google.connector import make_factory
from connectors.registry import (
    ConnectKind,
    ConnectRefused,
    Grant,
    MissingPermissions,
    OAuthStart,
    ProviderEntry,
)

__all__ = ["entry"]


def entry(config: oauth.GoogleConfig) -> ProviderEntry:
    """Google Calendar with the OAuth client in `config`."""

    def begin() -> OAuthStart:
        start = oauth.start_authorization(config)
        return OAuthStart(start.url, start.state, {"code_verifier": start.code_verifier})

    def finish(secrets: Mapping[str, Any], params: Mapping[str, str]) -> Grant:
        if "error" in params:
            said = params.get("error_description") or params["error"]
            raise ConnectRefused(f"Google said: {said}")
        try:
            grant = oauth.finish_authorization(
                config,
                state=params.get("state", ""),
                code_verifier=str(secrets.get("code_verifier", "")),
                code=params.get("code", ""),
                granted_scope=params.get("scope"),
            )
        except oauth.MissingScopes as error:
            raise MissingPermissions(list(error.missing)) from None
        except ConnectorError as error:
            raise ConnectRefused(f"Google sign-in failed: {error}") from None
        return Grant.by_email(grant.credentials, grant.email, grant.email_verified, grant.subject)

    def refresh(blob: bytes) -> bytes:
        credentials = oauth.load_credentials(config, blob)
        try:
            credentials.refresh(Request())  # type: ignore[no-untyped-call]
        except google.auth.exceptions.RefreshError:
            raise ReauthRequired("Google refused to refresh the grant") from None
        except google.auth.exceptions.TransportError:
            raise TransientError("could not reach Google's token endpoint") from None
        return oauth.dump_credentials(credentials)

    return ProviderEntry(
        name="google",
        label="Google Calendar",
        kind=ConnectKind.OAUTH,
        build=make_factory(config),
        begin=begin,
        finish=finish,
        revoke=lambda blob: oauth.revoke(config, blob),
        refresh=refresh,
        sign_in=True,
        push=push.parse,
        requires_verified_email=True,
    )

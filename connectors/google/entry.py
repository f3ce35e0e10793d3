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
    BOOK_ONLY,
    FULL,
    AccessModeInfo,
    ConnectKind,
    ConnectRefused,
    Grant,
    MissingPermissions,
    OAuthStart,
    ProviderEntry,
)

__all__ = ["ACCESS_MODES", "entry"]

_SCOPES = {FULL: oauth.CALENDAR_SCOPES, BOOK_ONLY: oauth.BOOK_ONLY_SCOPES}

ACCESS_MODES = (
    AccessModeInfo(
        name=FULL,
        label="Full access",
        scopes=tuple(oauth.CALENDAR_SCOPES),
        can=(
            "see your meetings on every calendar you can open, including shared ones",
            "book growth blocks and move them when a meeting lands on one",
            "decline invites on your behalf when your boundary policy says so",
        ),
        cannot=("change or delete events it did not create, other than your own answer",),
    ),
    AccessModeInfo(
        name=BOOK_ONLY,
        label="Book only",
        scopes=tuple(oauth.BOOK_ONLY_SCOPES),
        can=(
            "see events on the calendars you own (to find your busy time)",
            "book growth blocks on your own calendar",
            "flag conflicts and tell you what it would have done",
        ),
        cannot=(
            "decline invites or move blocks: those rules only flag",
            "read calendars others share with you (they do not count as busy)",
        ),
        note="Google enforces this: the grant covers only the calendars you own.",
    ),
)


def entry(config: oauth.GoogleConfig) -> ProviderEntry:
    """Google Calendar with the OAuth client in `config`."""

    def begin(mode: str) -> OAuthStart:
        start = oauth.start_authorization(config, _SCOPES[mode])
        secrets = {"code_verifier": start.code_verifier, "mode": mode}
        return OAuthStart(start.url, start.state, secrets)

    def finish(secrets: Mapping[str, Any], params: Mapping[str, str]) -> Grant:
        if "error" in params:
            said = params.get("error_description") or params["error"]
            raise ConnectRefused(f"Google said: {said}")
        mode = str(secrets.get("mode", FULL))
        if mode not in _SCOPES:
            raise ConnectRefused("unknown access mode; please start again")
        try:
            grant = oauth.finish_authorization(
                config,
                state=params.get("state", ""),
                code_verifier=str(secrets.get("code_verifier", "")),
                code=params.get("code", ""),
                granted_scope=params.get("scope"),
                calendar_scopes=_SCOPES[mode],
            )
        except oauth.MissingScopes as error:
            raise MissingPermissions(list(error.missing)) from None
        except ConnectorError as error:
            raise ConnectRefused(f"Google sign-in failed: {error}") from None
        return Grant.by_email(
            grant.credentials, grant.email, grant.email_verified, grant.subject, access_mode=mode
        )

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
        access_modes=ACCESS_MODES,
    )

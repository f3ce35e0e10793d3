"""The Microsoft 365 / Outlook registry entry: MSAL auth-code flow (PKCE + nonce)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from connectors.errors import ConnectorError
from connectors.microsoft import oauth, push
from connectors.microsoft.connector import make_factory
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

_MODE_KEY = "gg_access_mode"  # kept beside MSAL's flow, taken out before MSAL sees it

ACCESS_MODES = (
    AccessModeInfo(
        name=FULL,
        label="Full access",
        scopes=tuple(oauth.SCOPES),
        can=(
            "see your meetings",
            "book growth blocks and move them when a meeting lands on one",
            "decline invites on your behalf when your boundary policy says so",
        ),
        cannot=("change or delete events it did not create, other than your own answer",),
    ),
    AccessModeInfo(
        name=BOOK_ONLY,
        label="Book only",
        scopes=tuple(oauth.SCOPES),
        can=(
            "see your meetings (to find your busy time)",
            "book growth blocks",
            "flag conflicts and tell you what it would have done",
        ),
        cannot=("decline invites or move blocks: those rules only flag",),
        note=(
            "Microsoft has no narrower permission that can create events: the grant is the "
            "same Calendars.ReadWrite as full access, and it is GrowthGuard, not Microsoft, "
            "that holds back from declining and moving."
        ),
    ),
)


def entry(config: oauth.MicrosoftConfig) -> ProviderEntry:
    """Outlook / Microsoft 365 with the app registration in `config`."""

    def begin(mode: str) -> OAuthStart:
        if mode not in (FULL, BOOK_ONLY):
            raise ConnectRefused("unknown access mode")
        flow = oauth.start_authorization(config)
        secrets = {**flow, _MODE_KEY: mode}
        return OAuthStart(str(flow["auth_uri"]), str(flow["state"]), secrets)

    def finish(kept: Mapping[str, Any], params: Mapping[str, str]) -> Grant:
        if "error" in params:
            said = params.get("error_description") or params["error"]
            raise ConnectRefused(f"Microsoft said: {said}")
        flow = dict(kept)
        mode = str(flow.pop(_MODE_KEY, FULL))
        try:
            grant = oauth.finish_authorization(config, flow, dict(params))
        except oauth.MissingScopes as error:
            raise MissingPermissions(list(error.missing)) from None
        except ConnectorError as error:
            raise ConnectRefused(f"Microsoft sign-in failed: {error}") from None
        return Grant.by_email(
            grant.token_cache, grant.email, grant.email_verified, grant.subject, access_mode=mode
        )

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
        access_modes=ACCESS_MODES,
    )

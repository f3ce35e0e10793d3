"""Connecting Slack with OAuth v2: a user token with the least scopes quiet mode needs."""

from __future__ import annotations

from dataclasses import dataclass

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackClientError
from slack_sdk.oauth import AuthorizeUrlGenerator

from connectors.errors import ConnectorError, TransientError
from connectors.slack.client import api_url, map_slack_error

__all__ = ["USER_SCOPES", "GrantRefused", "SlackApp", "SlackGrant", "authorize_url", "exchange"]

# users.profile:write sets the status, users.profile:read remembers the one before it,
# dnd:write pauses notifications. No bot scopes: GrowthGuard acts only as the person.
USER_SCOPES = ("users.profile:read", "users.profile:write", "dnd:write")


class GrantRefused(ConnectorError):
    """Slack did not hand out a usable user token (bad code, missing scopes, ...)."""


@dataclass(frozen=True)
class SlackApp:
    """The Slack app GrowthGuard connects through."""

    client_id: str
    client_secret: str
    redirect_uri: str
    base_url: str = "https://slack.com"


@dataclass(frozen=True)
class SlackGrant:
    """What a completed connect yields: the user token and whose it is."""

    token: str
    user_id: str
    team_id: str
    team_name: str
    scopes: frozenset[str]


def authorize_url(app: SlackApp, state: str) -> str:
    """Slack's consent page for the person (user scopes only), carrying our `state`."""
    generator = AuthorizeUrlGenerator(
        client_id=app.client_id,
        redirect_uri=app.redirect_uri,
        scopes=[],
        user_scopes=list(USER_SCOPES),
        authorization_url=app.base_url.rstrip("/") + "/oauth/v2/authorize",
    )
    return generator.generate(state)


def exchange(app: SlackApp, code: str) -> SlackGrant:
    """Trade the callback's code for the person's token (`oauth.v2.access`)."""
    web = WebClient(base_url=api_url(app.base_url), timeout=10, retry_handlers=[])
    try:
        response = web.oauth_v2_access(
            client_id=app.client_id,
            client_secret=app.client_secret,
            code=code,
            redirect_uri=app.redirect_uri,
        )
    except SlackApiError as error:
        mapped = map_slack_error(error)
        if isinstance(mapped, TransientError):
            raise mapped from None
        raise GrantRefused(f"Slack refused the connection ({mapped})") from None
    except (SlackClientError, OSError) as error:
        raise TransientError(f"Slack cannot be reached: {type(error).__name__}") from None
    user = response.get("authed_user") or {}
    team = response.get("team") or {}
    token = str(user.get("access_token") or "")
    scopes = frozenset(s for s in str(user.get("scope") or "").split(",") if s)
    if not token or not user.get("id"):
        raise GrantRefused("Slack did not grant a user token")
    missing = [s for s in USER_SCOPES if s not in scopes]
    if missing:
        raise GrantRefused(f"Slack did not grant: {', '.join(missing)}")
    return SlackGrant(
        token=token,
        user_id=str(user["id"])[:32],
        team_id=str(team.get("id") or "")[:32],
        team_name=str(team.get("name") or "")[:200],
        scopes=scopes,
    )

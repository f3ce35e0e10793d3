"""The Slack client and app from the settings (tests point the base URL at a fake)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Protocol

from app.config import Settings
from app.domain.quiet import ChatStatus
from connectors.slack.client import ProfileStatus, SlackClient
from connectors.slack.oauth import SlackApp

REDIRECT_PATH = "/dashboard/quiet/callback"


class ChatApi(Protocol):
    """What quiet mode does with a person's chat: the calls `SlackClient` makes."""

    def status(self) -> ChatStatus: ...

    def set_status(self, status: ChatStatus) -> None: ...

    def snooze_until(self, end: datetime, now: datetime) -> datetime: ...

    def end_snooze(self) -> bool: ...

    def revoke(self) -> None: ...


class _SlackChat:
    """`SlackClient` speaking the domain's `ChatStatus`."""

    def __init__(self, client: SlackClient) -> None:
        self._client = client

    def status(self) -> ChatStatus:
        s = self._client.status()
        return ChatStatus(s.text, s.emoji, s.expiration)

    def set_status(self, status: ChatStatus) -> None:
        self._client.set_status(ProfileStatus(status.text, status.emoji, status.expiration))

    def snooze_until(self, end: datetime, now: datetime) -> datetime:
        return self._client.snooze_until(end, now)

    def end_snooze(self) -> bool:
        return self._client.end_snooze()

    def revoke(self) -> None:
        self._client.revoke()


ChatFactory = Callable[[str], ChatApi]


def chat_factory(settings: Settings) -> ChatFactory:
    """Token -> client of the configured Slack."""
    return lambda token: _SlackChat(SlackClient(token, settings.slack_base_url))


def slack_app(settings: Settings) -> SlackApp | None:
    """The configured Slack app, or None when Slack is not set up on this server."""
    if not settings.slack_enabled:
        return None
    return SlackApp(
        client_id=settings.slack_client_id,
        client_secret=settings.slack_client_secret.get_secret_value(),
        redirect_uri=settings.public_url + REDIRECT_PATH,
        base_url=settings.slack_base_url,
    )

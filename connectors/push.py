"""What a provider's push request says, parsed by the provider's own code (pure, no I/O).

The application verifies each notice against the channel it created (secret, resource,
dedupe) without knowing which provider sent it.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from connectors.errors import ConnectorError

__all__ = ["PushMalformed", "PushNotice", "PushParse", "PushParser", "PushRequest", "WatchState"]


@dataclass(frozen=True)
class PushRequest:
    headers: Mapping[str, str]  # lower-case names
    query: Mapping[str, str]
    body: bytes


class WatchState(enum.StrEnum):
    GONE = "gone"  # the channel no longer exists: create a new one
    DUE = "due"  # renew it now


@dataclass(frozen=True)
class PushNotice:
    """One notification: which channel, its secret, and what it asks for."""

    channel_id: str
    secret: str | None
    message_key: str | None = None  # deduplication key; None: never deduplicated
    # The provider's increasing message number on the channel (Google): a notice not above the
    # highest seen is a repeat, so no key per notice needs to be kept.
    sequence: int | None = None
    # For notices whose repeats look the same as new ones (no message number; lifecycle
    # events): the same key within `repeat_window_seconds` is a repeat (one receipt, and an
    # incremental sync at most).
    repeat_key: str | None = None
    repeat_window_seconds: int = 60
    resource_id: str | None = None  # must match the channel's when both are known
    sync: bool = True  # False: a hello that announces no change
    recreate_watch: bool = False
    full: bool = False
    watch: WatchState | None = None


@dataclass(frozen=True)
class PushParse:
    notices: list[PushNotice] = field(default_factory=list)
    reply: str | None = None  # answer this text at once and do nothing else (handshakes)
    status: int = 200  # what to answer after the notices were recorded


class PushMalformed(ConnectorError):
    """The request is not a notification of this provider (answer 400)."""


PushParser = Callable[[PushRequest], PushParse]

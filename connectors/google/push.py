"""Google Calendar push notifications (events.watch channels): headers only, no body."""

from __future__ import annotations

import secrets

from connectors.push import PushNotice, PushParse, PushRequest

__all__ = ["parse"]


def parse(request: PushRequest) -> PushParse:
    """One notice from the X-Goog-* headers; the channel's "sync" hello asks for nothing."""
    headers = request.headers
    number = headers.get("x-goog-message-number", "")
    notice = PushNotice(
        channel_id=headers.get("x-goog-channel-id", ""),
        secret=headers.get("x-goog-channel-token"),
        message_key=number or secrets.token_hex(8),
        resource_id=headers.get("x-goog-resource-id"),
        sync=headers.get("x-goog-resource-state") != "sync",
    )
    return PushParse(notices=[notice], status=200)

"""Google Calendar push notifications (events.watch channels): headers only, no body."""

from __future__ import annotations

from connectors.push import PushNotice, PushParse, PushRequest

__all__ = ["parse"]


def parse(request: PushRequest) -> PushParse:
    """One notice from the X-Goog-* headers; the channel's "sync" hello asks for nothing."""
    headers = request.headers
    number = headers.get("x-goog-message-number", "")
    state = headers.get("x-goog-resource-state", "")
    notice = PushNotice(
        channel_id=headers.get("x-goog-channel-id", ""),
        secret=headers.get("x-goog-channel-token"),
        # Google numbers every message; without a number, repeats cannot be told apart.
        message_key=number or None,
        # Google's numbers are int64 and grow per channel; anything else is no number.
        sequence=int(number)
        if number.isascii() and number.isdigit() and len(number) <= 18
        else None,
        repeat_key=None if number else f"unnumbered:{state}",
        resource_id=headers.get("x-goog-resource-id"),
        sync=state != "sync",
    )
    return PushParse(notices=[notice], status=200)

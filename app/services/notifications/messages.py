"""What a notification says on each kind of channel (email, Slack, signed webhook)."""

from __future__ import annotations

import hashlib
import hmac
import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

TITLES = {
    "conflict.decided": "A meeting conflict was decided",
    "block.moved": "A growth block was moved",
    "block.lost": "A growth block was removed",
    "plan.target_missed": "A weekly plan target was missed",
    "account.needs_reauth": "A calendar account needs reconnecting",
    "calendar.gone": "A calendar was deleted at the provider",
    "booking.failed": "Growth blocks could not be booked",
    "report.weekly": "Your weekly report",
    "review.quarterly": "Your quarterly review",
    "growth.log": "What did you do in your growth block?",
    "slack.needs_reauth": "Slack needs reconnecting",
    "slack.failed": "Slack status could not be changed",
    "test": "Test notification",
}
TEST_MESSAGE = "This is a test notification from GrowthGuard: this channel works."


@dataclass(frozen=True)
class Message:
    """What is announced, independent of the channel."""

    id: int | None
    kind: str
    created_at: datetime
    payload: dict[str, Any]


def title_of(message: Message) -> str:
    return TITLES.get(message.kind, message.kind)


def text_of(message: Message) -> str:
    text = message.payload.get("message")
    return text if isinstance(text, str) and text else title_of(message)


def email_content(message: Message) -> tuple[str, str]:
    """Subject and plain-text body: the message, then every other payload field."""
    lines = [
        text_of(message),
        "",
        f"Event: {message.kind}",
        f"Time: {message.created_at:%Y-%m-%d %H:%M %Z}",
    ]
    for key, value in message.payload.items():
        if key == "message":
            continue
        shown = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
        lines.append(f"{key.replace('_', ' ').capitalize()}: {shown}")
    lines += ["", "-- ", "GrowthGuard"]
    return f"[GrowthGuard] {title_of(message)}", "\n".join(lines) + "\n"


def _slack_escape(text: str) -> str:
    # Slack's mrkdwn treats these three as control characters.
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def slack_body(message: Message) -> bytes:
    """A Slack-compatible incoming-webhook body."""
    text = f"*{_slack_escape(title_of(message))}*\n{_slack_escape(text_of(message))}"
    return json.dumps({"text": text}, ensure_ascii=False).encode()


def webhook_signature(body: bytes, secret: bytes) -> str:
    """The X-GrowthGuard-Signature value for a body."""
    return "sha256=" + hmac.new(secret, body, hashlib.sha256).hexdigest()


def webhook_request(
    message: Message, secret: bytes, delivery_ref: str
) -> tuple[bytes, dict[str, str]]:
    """Body and headers of a generic webhook; the signature covers exactly these bytes."""
    document = {
        "id": message.id,
        "kind": message.kind,
        "created_at": message.created_at.isoformat(),
        "payload": message.payload,
    }
    body = json.dumps(document, ensure_ascii=False, separators=(",", ":")).encode()
    headers = {
        "Content-Type": "application/json",
        "X-GrowthGuard-Event": message.kind,
        "X-GrowthGuard-Delivery": delivery_ref,
        "X-GrowthGuard-Signature": webhook_signature(body, secret),
    }
    return body, headers

"""Quiet during blocks, the pure part: what GrowthGuard writes to a chat status, and when a
quiet period should end or what to put back.

Nothing here reads a block's title: a title is whatever a calendar (or a stranger's invite)
says, and a chat status is seen by the person's whole workspace.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

STATUS_LIMIT = 100  # Slack's limit for status text
STATUS_EMOJI = ":seedling:"
LABEL = "Growth work"


@dataclass(frozen=True)
class ChatStatus:
    """A chat status: text, emoji and its expiry (Unix seconds; 0 = none)."""

    text: str = ""
    emoji: str = ""
    expiration: int = 0

    @property
    def empty(self) -> bool:
        return not self.text and not self.emoji


def status_for(end: datetime, zone: ZoneInfo, label: str = LABEL) -> ChatStatus:
    """ "Growth work until 11:00" (the block's end on the person's wall clock), expiring at the
    end so the status clears itself even if GrowthGuard is down then."""
    if end.tzinfo is None:
        raise ValueError("end must be timezone-aware")
    text = f"{label} until {end.astimezone(zone):%H:%M}"
    return ChatStatus(text[:STATUS_LIMIT], STATUS_EMOJI, int(end.timestamp()))


def is_ours(current: ChatStatus, ours: ChatStatus) -> bool:
    """The status is still the one we set (text and emoji; Slack may round the expiry)."""
    return current.text == ours.text and current.emoji == ours.emoji


def to_restore(
    current: ChatStatus, ours: ChatStatus, previous: ChatStatus, now: datetime
) -> ChatStatus | None:
    """What to set when a quiet period ends, or None to leave the status alone.

    Restored when the status is still ours, or empty because ours expired (the end was
    missed while GrowthGuard was down). A status the person set meanwhile is theirs: left.
    A previous status whose own expiry has passed comes back empty.
    """
    expired_ours = current.empty and ours.expiration and now.timestamp() >= ours.expiration
    if not is_ours(current, ours) and not expired_ours:
        return None
    if previous.expiration and previous.expiration <= now.timestamp():
        previous = ChatStatus()
    if current.empty and previous.empty:
        return None  # nothing to put back, nothing to clear
    return previous

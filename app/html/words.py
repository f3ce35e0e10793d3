"""The words a person reads on the pages: labels for actions, rules, weeks, hours and times.

The stored names (flag, decline_after, plan.target_missed, 2026-W49) stay what the API and
YAML use; only the pages translate them, here, in one place.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from app.domain.time import IsoWeek

ACTION_LABELS = {
    "flag": "Tell me",
    "decline": "Decline",
    "decline_after": "Decline after a grace time unless I keep it",
    "move_block": "Move my block",
    "allow": "Let it through",
}

NOTIFICATION_LABELS = {
    "conflict.decided": "Meeting conflict decided",
    "block.moved": "Growth block moved",
    "block.lost": "Growth block removed",
    "plan.target_missed": "Weekly target missed",
    "account.needs_reauth": "Calendar needs reconnecting",
    "calendar.gone": "Calendar deleted",
    "booking.failed": "Booking failed",
    "report.weekly": "Weekly report",
    "review.quarterly": "Quarterly review",
    "slack.needs_reauth": "Slack needs reconnecting",
    "slack.failed": "Slack status not changed",
    "test": "Test message",
}


def action_label(action: str, grace_hours: float | None = None) -> str:
    """ "Tell me", "Decline after 4 h unless I keep it", ..."""
    if action == "decline_after" and grace_hours:
        return f"Decline after {hours_number(grace_hours)} h unless I keep it"
    return ACTION_LABELS.get(action, action)


def hours_number(value: float) -> str:
    """4.0 → "4", 1.5 → "1.5"."""
    return f"{round(value, 1):g}"


def hours(minutes: float) -> str:
    """Minutes as hours for a table cell: 240 → "4", 90 → "1.5", 0 → "0"."""
    return hours_number(minutes / 60)


def _yes_no(value: bool) -> str:
    return "yes" if value else "no"


def _listed(value: Any) -> str:
    return ", ".join(str(v) for v in value) if isinstance(value, list | tuple) else str(value)


def condition_text(key: str, value: Any) -> str:
    """One matcher of a rule's `when`, as a sentence part."""
    phrases: Mapping[str, str] = {
        "organizer_in": "Organizer is {}",
        "attendees_at_least": "At least {} attendees",
        "attendees_at_most": "At most {} attendees",
        "title_matches": "Title matches “{}”",
        "starts_within_hours": "Invite arrives less than {} h ahead",
        "overlap_minutes_at_least": "Overlaps my block by at least {} min",
        "response": "My answer is {}",
        "calendar": "On calendar {}",
        "weekday": "On {}",
    }
    if key == "external":
        return "Organizer is outside my domains" if value else "Organizer is inside my domains"
    if key == "recurring":
        return "Recurring meeting" if value else "One-off meeting"
    if isinstance(value, float):
        value = hours_number(value)
    template = phrases.get(key, key.replace("_", " ") + ": {}")
    return template.format(_listed(value))


def week_label(text: str) -> str:
    """ "2026-W49" → "Week of 30 Nov" (unparsable text is shown as it is)."""
    try:
        return IsoWeek.parse(text).label()
    except ValueError:
        return text


# Our own stored messages name weeks like "2026-W48"; a fixed, linear pattern.
_ISO_WEEK = re.compile(r"\b\d{4}-W\d{2}\b")


def weeks_in_words(text: str) -> str:
    """ "Only 0 of 240 minutes fit in 2026-W48" → "... fit in the week of 23 Nov"."""
    return _ISO_WEEK.sub(lambda m: week_label(m.group(0)).replace("Week", "the week", 1), text)


def local_time(moment: datetime, zone: ZoneInfo) -> str:
    """A stored time as the person's wall clock: "Mon 30 Nov 14:05"."""
    return moment.astimezone(zone).strftime("%a %d %b %H:%M")


def notification_label(kind: str) -> str:
    return NOTIFICATION_LABELS.get(kind, kind)


def defense_words(block: Any) -> str:
    """A block's defense as the week view says it (level and whether it is shown busy)."""
    if block.level == "flexible":
        if block.busy:
            return "Flexible, now shown busy"
        return "Flexible: shown free until shortly before"
    if block.level == "locked":
        return "Locked: busy, invites over it are declined"
    return "Firm: shown busy"


GLOBALS: dict[str, Any] = {
    "defense_words": defense_words,
    "action_label": action_label,
    "action_labels": ACTION_LABELS,
    "condition_text": condition_text,
    "hours": hours,
    "week_label": week_label,
    "weeks_in_words": weeks_in_words,
    "local_time": local_time,
    "notification_label": notification_label,
    "yes_no": _yes_no,
}

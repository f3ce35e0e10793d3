"""Pure conversions between Google Calendar v3 event JSON and `connectors.base` types."""

from __future__ import annotations

import base64
from datetime import UTC, date, datetime
from typing import Any

from connectors.base import (
    BlockSpec,
    BlockTag,
    Event,
    EventStatus,
    EventType,
    SelfResponse,
    utc_midnight,
)

__all__ = [
    "LISTED_EVENT_TYPES",
    "PLAN_KEY",
    "SLOT_KEY",
    "block_body",
    "event_from_google",
    "event_id_for_slot",
    "iso_utc",
    "parse_time",
    "self_attendee",
    "tag_of",
]

PLAN_KEY = "gg_plan"
SLOT_KEY = "gg_slot"

# workingLocation, birthday and fromGmail events never make anyone busy, so we never ask for them.
LISTED_EVENT_TYPES = ["default", "focusTime", "outOfOffice"]

_EVENT_TYPES = {t.value: t for t in EventType}
_STATUSES = {s.value: s for s in EventStatus}
_RESPONSES = {r.value: r for r in SelfResponse}

JSON = dict[str, Any]


def event_id_for_slot(slot_key: str) -> str:
    """The Google event id of the block for `slot_key`: lowercase unpadded base32hex.

    Google ids use the alphabet a-v0-9 and are 5-1024 characters long, so the key must be
    3-640 bytes of UTF-8.
    """
    raw = slot_key.encode()
    if not 3 <= len(raw) <= 640:
        raise ValueError(f"slot key must be 3-640 bytes to make a Google event id: {slot_key!r}")
    return base64.b32hexencode(raw).decode("ascii").rstrip("=").lower()


def iso_utc(value: datetime) -> str:
    """RFC 3339 in UTC with a Z suffix (aware datetimes only)."""
    if value.tzinfo is None:
        raise ValueError("naive datetime")
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_time(value: str) -> datetime:
    """An RFC 3339 timestamp as an aware UTC datetime."""
    parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    if parsed.tzinfo is None:  # Google always sends an offset; be strict rather than guess
        raise ValueError(f"timestamp without offset: {value!r}")
    return parsed.astimezone(UTC)


def _when(node: JSON) -> tuple[datetime, bool]:
    if "dateTime" in node:
        return parse_time(node["dateTime"]), False
    return utc_midnight(date.fromisoformat(node["date"])), True


def tag_of(item: JSON) -> BlockTag | None:
    """The GrowthGuard tag in the private extended properties, if both keys are there."""
    private = (item.get("extendedProperties") or {}).get("private") or {}
    plan, slot = private.get(PLAN_KEY), private.get(SLOT_KEY)
    if isinstance(plan, str) and isinstance(slot, str) and plan and slot:
        return BlockTag(plan_id=plan, slot_key=slot)
    return None


def self_attendee(item: JSON) -> JSON | None:
    """The user's own attendee entry (`self: true`), if they are on the guest list."""
    for attendee in item.get("attendees") or []:
        if attendee.get("self"):
            return dict(attendee)
    return None


def _is_online(item: JSON) -> bool:
    if item.get("hangoutLink"):
        return True
    entry_points = (item.get("conferenceData") or {}).get("entryPoints") or []
    return any(ep.get("entryPointType") == "video" for ep in entry_points)


def event_from_google(item: JSON, calendar_id: str) -> Event:
    """Normalise one (non-cancelled, concrete) Google event."""
    start, all_day = _when(item["start"])
    end, _ = _when(item["end"])
    organizer = item.get("organizer") or {}
    me = self_attendee(item)
    response = _RESPONSES.get(me.get("responseStatus", "needsAction")) if me else None
    updated = item.get("updated")
    return Event(
        id=item["id"],
        calendar_id=calendar_id,
        title=item.get("summary") or "",
        start=start,
        end=end,
        all_day=all_day,
        busy=item.get("transparency", "opaque") != "transparent",
        status=_STATUSES.get(item.get("status", "confirmed"), EventStatus.CONFIRMED),
        ical_uid=item.get("iCalUID"),
        series_id=item.get("recurringEventId"),
        organizer_email=organizer.get("email"),
        self_is_organizer=bool(organizer.get("self")),
        self_response=response,
        attendee_count=len(item.get("attendees") or []),
        is_online_meeting=_is_online(item),
        tag=tag_of(item),
        event_type=_EVENT_TYPES.get(item.get("eventType", "default"), EventType.DEFAULT),
        updated=parse_time(updated) if updated else None,
    )


def block_body(spec: BlockSpec, event_id: str, focus_time: bool) -> JSON:
    """The insert body of a growth block; `focus_time` makes it a native focus-time event."""
    body: JSON = {
        "id": event_id,
        "summary": spec.title,
        "description": spec.description,
        "start": {"dateTime": iso_utc(spec.start), "timeZone": "UTC"},
        "end": {"dateTime": iso_utc(spec.end), "timeZone": "UTC"},
        # a focus-time event is always opaque at Google
        "transparency": "opaque" if spec.busy or focus_time else "transparent",
        "extendedProperties": {
            "private": {PLAN_KEY: spec.tag.plan_id, SLOT_KEY: spec.tag.slot_key}
        },
        "reminders": {"useDefault": False, "overrides": []},
    }
    if focus_time:
        body["eventType"] = "focusTime"
        focus: JSON = {
            "autoDeclineMode": spec.auto_decline or "declineNone",
            # Quiet during blocks: Google Chat mutes itself for the block (Slack is the app's).
            "chatStatus": "doNotDisturb",
        }
        if spec.description:
            focus["declineMessage"] = spec.description
        body["focusTimeProperties"] = focus
    return body

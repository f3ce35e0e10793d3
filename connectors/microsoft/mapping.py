"""Pure mapping between Graph event JSON and `connectors.base` types (no I/O)."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

from connectors.base import (
    BlockSpec,
    BlockTag,
    CalendarInfo,
    Event,
    EventStatus,
    EventType,
    SelfResponse,
    utc_midnight,
)

__all__ = [
    "CATEGORY",
    "PLAN_PROPERTY",
    "SLOT_PROPERTY",
    "block_body",
    "calendar_info",
    "event_from_graph",
    "expand_tag",
    "graph_datetime",
    "odata_string",
    "parse_graph_datetime",
    "parse_instant",
    "slot_filter",
]

# A fixed GUID namespaces GrowthGuard's MAPI named properties; `Name` is case-sensitive.
_PROPERTY_SET = "{8d1f6c0e-4b57-4a8e-9d35-6f0b3c2a7e41}"
PLAN_PROPERTY = f"String {_PROPERTY_SET} Name GrowthGuardPlan"
SLOT_PROPERTY = f"String {_PROPERTY_SET} Name GrowthGuardSlot"
CATEGORY = "Growth"

_RESPONSES = {
    "accepted": SelfResponse.ACCEPTED,
    "tentativelyAccepted": SelfResponse.TENTATIVE,
    "declined": SelfResponse.DECLINED,
    "notResponded": SelfResponse.NEEDS_ACTION,
}
_NOT_BUSY = {"free", "workingElsewhere"}


def odata_string(value: str) -> str:
    """`value` as an OData string literal (quotes doubled)."""
    return "'" + value.replace("'", "''") + "'"


def slot_filter(slot_key: str) -> str:
    """The `$filter` finding events tagged with this slot key (Graph compares values
    case-insensitively, so callers re-check the exact value)."""
    return (
        f"singleValueExtendedProperties/Any(ep: ep/id eq {odata_string(SLOT_PROPERTY)} "
        f"and ep/value eq {odata_string(slot_key)})"
    )


def expand_tag() -> str:
    """The `$expand` reading both tag properties back."""
    return (
        "singleValueExtendedProperties($filter=id eq "
        f"{odata_string(PLAN_PROPERTY)} or id eq {odata_string(SLOT_PROPERTY)})"
    )


def parse_graph_datetime(value: dict[str, Any]) -> datetime:
    """A Graph `dateTimeTimeZone` (UTC, thanks to the Prefer header) as an aware UTC datetime."""
    zone = value.get("timeZone", "UTC")
    if zone not in ("UTC", "Etc/UTC", "tzone://Microsoft/Utc"):
        raise ValueError(f"expected UTC times from Graph, got {zone!r}")
    text = re.sub(r"(\.\d{6})\d+", r"\1", str(value["dateTime"]).rstrip("Z"))
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def parse_instant(text: str) -> datetime:
    """An ISO 8601 instant with up to 7 fractional digits and Z or an offset."""
    text = re.sub(r"(\.\d{6})\d+", r"\1", text.strip().replace("Z", "+00:00"))
    value = datetime.fromisoformat(text)
    return value.astimezone(UTC) if value.tzinfo else value.replace(tzinfo=UTC)


def graph_datetime(value: datetime) -> dict[str, str]:
    """An aware datetime as a UTC `dateTimeTimeZone`."""
    utc = value.astimezone(UTC)
    return {"dateTime": utc.strftime("%Y-%m-%dT%H:%M:%S.%f"), "timeZone": "UTC"}


def _midnight(value: datetime) -> datetime:
    # All-day events are floating dates. Graph may hand them back shifted into the requested zone
    # (e.g. 23:00 UTC the day before for a Berlin event), so snap to the nearest midnight.
    return utc_midnight((value + timedelta(hours=12)).date())


def _tag(item: dict[str, Any]) -> BlockTag | None:
    props = {p.get("id"): p.get("value") for p in item.get("singleValueExtendedProperties") or []}
    slot, plan = props.get(SLOT_PROPERTY), props.get(PLAN_PROPERTY)
    if not slot:
        return None
    return BlockTag(plan_id=str(plan or ""), slot_key=str(slot))


def _email(person: dict[str, Any] | None) -> str | None:
    address = ((person or {}).get("emailAddress") or {}).get("address")
    return str(address) if address else None


def event_from_graph(item: dict[str, Any], calendar_id: str) -> Event:
    """A Graph event (single instance, occurrence or exception) as an `Event`."""
    start, end = parse_graph_datetime(item["start"]), parse_graph_datetime(item["end"])
    all_day = bool(item.get("isAllDay"))
    if all_day:
        start, end = _midnight(start), _midnight(end)
    show_as = item.get("showAs", "busy")
    attendees = item.get("attendees") or []
    is_organizer = bool(item.get("isOrganizer"))
    response = (item.get("responseStatus") or {}).get("response", "none")
    self_response = _RESPONSES.get(response)
    if response == "organizer" and attendees:
        self_response = SelfResponse.ACCEPTED  # like Google, an organizer attends their meeting
    status = EventStatus.CANCELLED if item.get("isCancelled") else EventStatus.CONFIRMED
    updated = item.get("lastModifiedDateTime")
    return Event(
        id=str(item["id"]),
        calendar_id=calendar_id,
        title=str(item.get("subject") or ""),
        start=start,
        end=end,
        all_day=all_day,
        busy=show_as not in _NOT_BUSY,
        status=status,
        ical_uid=item.get("iCalUId"),
        series_id=item.get("seriesMasterId"),
        organizer_email=_email(item.get("organizer")),
        self_is_organizer=is_organizer,
        self_response=None if is_organizer and not attendees else self_response,
        attendee_count=len(attendees),
        is_online_meeting=bool(item.get("isOnlineMeeting")),
        tag=_tag(item),
        event_type=EventType.OUT_OF_OFFICE if show_as == "oof" else EventType.DEFAULT,
        updated=parse_instant(updated) if updated else None,
    )


def block_body(spec: BlockSpec) -> dict[str, Any]:
    """The Graph event body of a growth block (create or full update)."""
    return {
        "subject": spec.title,
        "body": {"contentType": "text", "content": spec.description},
        "start": graph_datetime(spec.start),
        "end": graph_datetime(spec.end),
        "showAs": "busy" if spec.busy else "free",
        "categories": [CATEGORY],
        "isReminderOn": False,
        "responseRequested": False,
        "singleValueExtendedProperties": [
            {"id": PLAN_PROPERTY, "value": spec.tag.plan_id},
            {"id": SLOT_PROPERTY, "value": spec.tag.slot_key},
        ],
    }


def calendar_info(item: dict[str, Any], user_email: str) -> CalendarInfo:
    """A Graph calendar as `CalendarInfo`; owned when its owner is the signed-in user."""
    owner = ((item.get("owner") or {}).get("address") or "").lower()
    return CalendarInfo(
        id=str(item["id"]),
        name=str(item.get("name") or ""),
        primary=bool(item.get("isDefaultCalendar")),
        can_write=bool(item.get("canEdit")),
        owned=not owner or owner == user_email.lower(),
    )

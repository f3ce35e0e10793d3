"""Pure iCalendar <-> `Event` mapping for CalDAV: client-side expansion, block tags, own RSVPs.

Servers expand recurring events differently (or wrongly), so expansion always happens here with
recurring-ical-events: RRULE, RDATE, EXDATE, overridden instances, VTIMEZONE, all-day dates and
floating times (read in the calendar's zone).
"""

from __future__ import annotations

import copy
import hashlib
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, tzinfo
from typing import Any

import icalendar
import recurring_ical_events

from connectors.base import (
    BlockSpec,
    BlockTag,
    Event,
    EventStatus,
    EventType,
    SelfResponse,
    as_utc,
    utc_midnight,
)

__all__ = [
    "PLAN_PROP",
    "SLOT_PROP",
    "InvalidCalendarData",
    "Resource",
    "block_ical",
    "events_of",
    "first_start",
    "has_floating",
    "href_name_for_slot",
    "is_recurring",
    "own_attendee",
    "parse",
    "parse_rid",
    "reshape_block",
    "set_own_partstat",
    "split_event_id",
    "tag_of",
    "uid_for_slot",
]

# Plain ASCII values only: Cyrus unescapes "\," and "\;" in X- properties.
SLOT_PROP = "X-GROWTHGUARD-SLOT"
PLAN_PROP = "X-GROWTHGUARD-PLAN"
PRODID = "-//GrowthGuard//GrowthGuard//EN"
MAX_TITLE = 500  # invite titles come from strangers
_PARTSTATS = {
    "NEEDS-ACTION": SelfResponse.NEEDS_ACTION,
    "ACCEPTED": SelfResponse.ACCEPTED,
    "TENTATIVE": SelfResponse.TENTATIVE,
    "DECLINED": SelfResponse.DECLINED,
}
_STATUSES = {
    "CANCELLED": EventStatus.CANCELLED,
    "TENTATIVE": EventStatus.TENTATIVE,
}


class InvalidCalendarData(ValueError):
    """The server returned something that is not a usable iCalendar object."""


@dataclass(frozen=True)
class Resource:
    """One calendar object resource: its name in the calendar collection, ETag and data."""

    name: str
    etag: str | None
    data: str


def uid_for_slot(slot_key: str) -> str:
    """The UID of the block for `slot_key` (plain characters, the same on every run)."""
    return "growthguard-" + hashlib.sha256(slot_key.encode()).hexdigest()[:32]


def href_name_for_slot(slot_key: str) -> str:
    """The resource name the block for `slot_key` is created under."""
    return uid_for_slot(slot_key) + ".ics"


def split_event_id(event_id: str) -> tuple[str, str | None]:
    """(resource name, recurrence id or None) of an event id."""
    name, _, rid = event_id.partition("#")
    return name, rid or None


def parse(data: str | bytes) -> icalendar.Calendar:
    """Parse a calendar object; InvalidCalendarData if it is not one."""
    try:
        calendar = icalendar.Calendar.from_ical(data)
    except (ValueError, KeyError, IndexError) as error:
        raise InvalidCalendarData(f"unreadable calendar data: {error}") from None
    if not isinstance(calendar, icalendar.Calendar):
        raise InvalidCalendarData("not a VCALENDAR")
    return calendar


def _events(calendar: icalendar.Calendar) -> list[icalendar.Event]:
    return [c for c in calendar.walk("VEVENT") if isinstance(c, icalendar.Event)]


_FLOATING = re.compile(r"^(DTSTART|DTEND|RECURRENCE-ID|RDATE|EXDATE):\d{8}T\d{6}\r?$", re.M)


def has_floating(data: str) -> bool:
    """Whether the object has floating (zone-less, not UTC) date-times."""
    return _FLOATING.search(data) is not None


def first_start(data: str) -> datetime | None:
    """The UTC start of the resource's first (master) event, for sizing expansion windows."""
    for component in _events(parse(data)):
        if "RECURRENCE-ID" not in component and "DTSTART" in component:
            start, _ = _instant(component.start, UTC)
            return start
    return None


def is_recurring(calendar: icalendar.Calendar) -> bool:
    """Whether the resource holds a series (rules, extra dates or overridden instances)."""
    return any("RRULE" in c or "RDATE" in c or "RECURRENCE-ID" in c for c in _events(calendar))


def _email(value: object) -> str:
    text = str(value or "").strip()
    if text.lower().startswith("mailto:"):
        text = text[7:]
    return text.strip().lower()


def tag_of(component: icalendar.Event) -> BlockTag | None:
    """The growth-block tag of a VEVENT, if GrowthGuard created it."""
    slot = component.get(SLOT_PROP)
    plan = component.get(PLAN_PROP)
    if slot is None or plan is None:
        return None
    return BlockTag(plan_id=str(plan), slot_key=str(slot))


def own_attendee(component: icalendar.Event, addresses: Iterable[str]) -> Any | None:
    """The ATTENDEE property that is the person (matched by calendar-user address)."""
    mine = {a.lower() for a in addresses}
    attendees = component.get("ATTENDEE")
    if attendees is None:
        return None
    for attendee in attendees if isinstance(attendees, list) else [attendees]:
        if _email(attendee) in mine:
            return attendee
    return None


def _instant(value: date | datetime, floating: tzinfo) -> tuple[datetime, bool]:
    """(aware UTC instant, all-day?) of a DTSTART/DTEND value."""
    if not isinstance(value, datetime):
        return utc_midnight(value), True
    if value.tzinfo is None:  # floating time: the calendar's zone
        value = value.replace(tzinfo=floating)
    return as_utc(value), False


def _rid_text(value: date | datetime) -> str:
    if isinstance(value, datetime):
        if value.tzinfo is None:
            return value.strftime("%Y%m%dT%H%M%S")
        return as_utc(value).strftime("%Y%m%dT%H%M%SZ")
    return value.strftime("%Y%m%d")


def _event(
    component: icalendar.Event,
    *,
    event_id: str,
    calendar_id: str,
    series_id: str | None,
    addresses: frozenset[str],
    floating: tzinfo,
) -> Event:
    start, all_day = _instant(component.start, floating)
    try:
        end_value: date | datetime = component.end
    except icalendar.InvalidCalendar:
        end_value = component.start
    end, _ = _instant(end_value, floating)
    if all_day and end <= start:
        end = start + timedelta(days=1)
    end = max(end, start)
    organizer = _email(component.get("ORGANIZER")) or None
    attendees = component.get("ATTENDEE")
    attendee_list = attendees if isinstance(attendees, list) else [attendees] if attendees else []
    me = own_attendee(component, addresses)
    partstat = str(me.params.get("PARTSTAT", "NEEDS-ACTION")).upper() if me is not None else None
    self_is_organizer = organizer is None or organizer in addresses
    status = _STATUSES.get(str(component.get("STATUS", "")).upper(), EventStatus.CONFIRMED)
    updated_value = component.get("LAST-MODIFIED") or component.get("DTSTAMP")
    updated = None
    if updated_value is not None and isinstance(updated_value.dt, datetime):
        updated, _ = _instant(updated_value.dt, UTC)
    return Event(
        id=event_id,
        calendar_id=calendar_id,
        title=str(component.get("SUMMARY", ""))[:MAX_TITLE],
        start=start,
        end=end,
        all_day=all_day,
        busy=str(component.get("TRANSP", "OPAQUE")).upper() != "TRANSPARENT",
        status=status,
        ical_uid=str(component.get("UID", "")) or None,
        series_id=series_id,
        organizer_email=organizer,
        self_is_organizer=self_is_organizer,
        self_response=_PARTSTATS.get(partstat, SelfResponse.NEEDS_ACTION) if partstat else None,
        attendee_count=len(attendee_list),
        is_online_meeting="CONFERENCE" in component or "URL" in component,
        tag=tag_of(component),
        event_type=EventType.OUT_OF_OFFICE if is_out_of_office(component) else EventType.DEFAULT,
        updated=updated,
    )


# iCalendar has no out-of-office; Outlook and Exchange write (and several clients read) this
# property, with OOF meaning "away" — the same value as Graph's `showAs: oof`.
BUSY_STATUS_PROP = "X-MICROSOFT-CDO-BUSYSTATUS"


def is_out_of_office(component: icalendar.Event) -> bool:
    """The event says the person is away (``X-MICROSOFT-CDO-BUSYSTATUS:OOF``)."""
    return str(component.get(BUSY_STATUS_PROP, "")).strip().upper() == "OOF"


def events_of(
    resource: Resource,
    calendar_id: str,
    start: datetime,
    end: datetime,
    *,
    addresses: frozenset[str],
    floating: tzinfo = UTC,
    clip: bool = True,
) -> list[Event]:
    """The occurrences of one resource in [start, end), cancelled ones included.

    Series are expanded over [start, end); a single event is kept when it overlaps the window,
    or always with `clip=False` (a full sync lists every single event). A single event has the
    resource name as its id; occurrences of a series have "<name>#<recurrence id>" and the
    resource name as `series_id`.
    """
    calendar = parse(resource.data)

    def overlaps(event: Event) -> bool:
        return not clip or (event.start < end and event.end > start)

    if not is_recurring(calendar):
        found = _events(calendar)
        if not found:
            return []
        event = _event(
            found[0],
            event_id=resource.name,
            calendar_id=calendar_id,
            series_id=None,
            addresses=addresses,
            floating=floating,
        )
        return [event] if overlaps(event) else []
    result = []
    for component in recurring_ical_events.of(calendar, components=["VEVENT"]).between(start, end):
        rid = component.get("RECURRENCE-ID")
        rid_value = rid.dt if rid is not None else component.start
        event = _event(
            component,
            event_id=f"{resource.name}#{_rid_text(rid_value)}",
            calendar_id=calendar_id,
            series_id=resource.name,
            addresses=addresses,
            floating=floating,
        )
        if event.start < end and event.end > start:
            result.append(event)
    return result


# --- writing ---------------------------------------------------------------------------------


def _utc_stamp(now: datetime) -> datetime:
    return as_utc(now).replace(microsecond=0)


def block_ical(spec: BlockSpec, now: datetime) -> str:
    """A new growth block: an own event without attendees (so nothing is scheduled), busy or
    free (TRANSP) as `spec.busy` says."""
    calendar = icalendar.Calendar()
    calendar.add("PRODID", PRODID)
    calendar.add("VERSION", "2.0")
    event = icalendar.Event()
    event.add("UID", uid_for_slot(spec.tag.slot_key))
    event.add("DTSTAMP", _utc_stamp(now))
    event.add("CREATED", _utc_stamp(now))
    event.add("LAST-MODIFIED", _utc_stamp(now))
    event.add("SEQUENCE", 0)
    _shape(event, spec)
    calendar.add_component(event)
    return str(calendar.to_ical().decode())


def _shape(event: icalendar.Event, spec: BlockSpec) -> None:
    for name in ("DTSTART", "DTEND", "DURATION", "SUMMARY", "DESCRIPTION", SLOT_PROP, PLAN_PROP):
        event.pop(name, None)
    event.add("DTSTART", spec.start)
    event.add("DTEND", spec.end)
    event.add("SUMMARY", spec.title)
    if spec.description:
        event.add("DESCRIPTION", spec.description)
    event["TRANSP"] = "OPAQUE" if spec.busy else "TRANSPARENT"
    event[SLOT_PROP] = spec.tag.slot_key
    event[PLAN_PROP] = spec.tag.plan_id


def reshape_block(data: str, spec: BlockSpec, now: datetime) -> str:
    """The block's data with the new time, title, description and tag (SEQUENCE bumped)."""
    calendar = parse(data)
    found = _events(calendar)
    if not found:
        raise InvalidCalendarData("the block holds no VEVENT")
    event = found[0]
    _shape(event, spec)
    event["SEQUENCE"] = int(event.get("SEQUENCE", 0)) + 1
    event.pop("LAST-MODIFIED", None)
    event.add("LAST-MODIFIED", _utc_stamp(now))
    event.pop("DTSTAMP", None)
    event.add("DTSTAMP", _utc_stamp(now))
    return str(calendar.to_ical().decode())


def _override_for(
    calendar: icalendar.Calendar, rid: str, floating: tzinfo
) -> icalendar.Event | None:
    """The component of occurrence `rid`: an existing override, else a new one from the series."""
    for component in _events(calendar):
        value = component.get("RECURRENCE-ID")
        if value is not None and _rid_text(value.dt) == rid:
            return component
    masters = [c for c in _events(calendar) if "RECURRENCE-ID" not in c]
    if not masters:
        return None
    master = masters[0]
    # Find the occurrence among the expanded instances (within a day of its recurrence id).
    moment = parse_rid(rid, floating)
    occurrences = recurring_ical_events.of(calendar, components=["VEVENT"]).between(
        moment - timedelta(days=1), moment + timedelta(days=2)
    )
    for occurrence in occurrences:
        value = occurrence.get("RECURRENCE-ID")
        if value is None or _rid_text(value.dt) != rid:
            continue
        override = icalendar.Event()
        for name, prop in master.property_items(recursive=False):
            if name in ("BEGIN", "END", "RRULE", "RDATE", "EXDATE", "EXRULE"):
                continue
            if name in ("DTSTART", "DTEND", "DURATION"):
                continue
            override.add(name, copy.deepcopy(prop), encode=False)  # not shared with master
        override.add("RECURRENCE-ID", value.dt)
        override.add("DTSTART", occurrence.start)
        override.add("DTEND", occurrence.end)
        calendar.add_component(override)
        return override
    return None


def parse_rid(rid: str, floating: tzinfo) -> datetime:
    if len(rid) == 8:
        return datetime.strptime(rid, "%Y%m%d").replace(tzinfo=UTC)
    if rid.endswith("Z"):
        return datetime.strptime(rid, "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
    return datetime.strptime(rid, "%Y%m%dT%H%M%S").replace(tzinfo=floating)


class NotAnInvite(ValueError):
    """The person organizes the event, or is not among its attendees."""


def set_own_partstat(
    data: str,
    rid: str | None,
    addresses: frozenset[str],
    partstat: str,
    comment: str | None,
    floating: tzinfo = UTC,
) -> str:
    """The resource with only the person's own PARTSTAT (and a COMMENT) changed.

    `rid` picks one occurrence of a series (an override is added when there is none yet).
    Raises NotAnInvite when the person organizes it or is not an attendee, and LookupError when
    the occurrence does not exist.
    """
    calendar = parse(data)
    if rid is None:
        candidates = [c for c in _events(calendar) if "RECURRENCE-ID" not in c]
        component = candidates[0] if candidates else None
    else:
        component = _override_for(calendar, rid, floating)
    if component is None:
        raise LookupError("no such occurrence")
    organizer = _email(component.get("ORGANIZER"))
    if not organizer or organizer in addresses:
        raise NotAnInvite("the person organizes this event")
    me = own_attendee(component, addresses)
    if me is None:
        raise NotAnInvite("the person is not an attendee of this event")
    me.params["PARTSTAT"] = partstat
    comments = component.get("COMMENT")
    existing = [
        str(c) for c in (comments if isinstance(comments, list) else [comments] if comments else [])
    ]
    if comment and comment not in existing:
        component.add("COMMENT", comment)
    return str(calendar.to_ical().decode())

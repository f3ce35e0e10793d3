"""A realistic working week for the demo calendar, and the sample invite (pure: iCalendar text).

Times are wall-clock times in the person's zone (with its VTIMEZONE), so the week looks right
in any client that opens the demo calendar.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import icalendar

__all__ = ["SAMPLE_ORGANIZER", "sample_invite", "working_week"]

PRODID = "-//GrowthGuard//Demo calendar//EN"
SAMPLE_ORGANIZER = "alex.rivera@partner-agency.example"
_WEEKDAYS = "MO,TU,WE,TH,FR"


@dataclass(frozen=True)
class _Meeting:
    title: str
    weekday: int  # 0 = Monday
    start: time
    minutes: int
    weekly: str | None = None  # BYDAY list for a weekly series
    organizer: str | None = None  # None: the person's own event
    guests: tuple[str, ...] = ()
    week: int = 0  # one-offs: 0 = this week, 1 = next week


def _people(domain: str) -> dict[str, str]:
    return {name: f"{name}@{domain}" for name in ("sam.lee", "priya.shah", "jordan.kim", "team")}


def _meetings(email: str) -> list[_Meeting]:
    domain = email.rsplit("@", 1)[-1] or "example.org"
    p = _people(domain)
    return [
        _Meeting("Team stand-up", 0, time(9, 0), 15, _WEEKDAYS, p["sam.lee"], (p["team"],)),
        _Meeting("1:1 with Sam", 1, time(14, 0), 30, "TU", p["sam.lee"]),
        _Meeting("1:1 with Priya", 3, time(11, 0), 30, "TH", None, (p["priya.shah"],)),
        _Meeting("Customer call: Acme renewal", 0, time(15, 0), 60, None, p["jordan.kim"]),
        _Meeting("Design review", 2, time(13, 0), 90, None, p["priya.shah"], (p["jordan.kim"],)),
        _Meeting("Lunch with my mentor", 4, time(12, 0), 60),
        _Meeting("Quarterly planning", 2, time(10, 0), 120, None, p["sam.lee"], (p["team"],), 1),
        _Meeting("Hiring panel", 1, time(16, 0), 60, None, p["jordan.kim"], week=1),
    ]


def _calendar(event: icalendar.Event) -> str:
    calendar = icalendar.Calendar()
    calendar.add("PRODID", PRODID)
    calendar.add("VERSION", "2.0")
    calendar.add_component(event)
    calendar.add_missing_timezones()
    return str(calendar.to_ical().decode())


def _attendee(email: str, partstat: str) -> icalendar.vCalAddress:
    address = icalendar.vCalAddress(f"mailto:{email}")
    address.params["PARTSTAT"] = partstat
    address.params["CUTYPE"] = "INDIVIDUAL"
    return address


def working_week(email: str, zone: ZoneInfo, monday: date, now: datetime) -> list[tuple[str, str]]:
    """(resource name, iCalendar text) of the demo week starting on `monday`, in `zone`."""
    objects = []
    for meeting in _meetings(email):
        day = monday + timedelta(days=meeting.weekday + 7 * meeting.week)
        start = datetime.combine(day, meeting.start, tzinfo=zone)
        event = icalendar.Event()
        event.add("UID", f"{uuid.uuid4()}@demo.growthguard")
        event.add("DTSTAMP", now.astimezone(UTC).replace(microsecond=0))
        event.add("SUMMARY", meeting.title)
        event.add("DTSTART", start)
        event.add("DTEND", start + timedelta(minutes=meeting.minutes))
        if meeting.weekly:
            event.add("RRULE", {"FREQ": "WEEKLY", "BYDAY": meeting.weekly.split(",")})
        if meeting.organizer or meeting.guests:
            organizer = meeting.organizer or email
            event.add("ORGANIZER", icalendar.vCalAddress(f"mailto:{organizer}"))
            event.add("ATTENDEE", _attendee(email, "ACCEPTED"))
            for guest in meeting.guests:
                event.add("ATTENDEE", _attendee(guest, "ACCEPTED"))
            if meeting.organizer:
                event.add("ATTENDEE", _attendee(meeting.organizer, "ACCEPTED"))
        objects.append((f"demo-{uuid.uuid4().hex}.ics", _calendar(event)))
    return objects


def sample_invite(
    email: str, start: datetime, end: datetime, now: datetime
) -> tuple[str, str, str]:
    """(resource name, iCalendar text, title) of an invite from an outside organizer."""
    title = "Vendor pitch: Q3 roadmap"
    event = icalendar.Event()
    event.add("UID", f"{uuid.uuid4()}@partner-agency.example")
    event.add("DTSTAMP", now.astimezone(UTC).replace(microsecond=0))
    event.add("SEQUENCE", 0)
    event.add("SUMMARY", title)
    event.add("DTSTART", start.astimezone(UTC))
    event.add("DTEND", end.astimezone(UTC))
    event.add("ORGANIZER", icalendar.vCalAddress(f"mailto:{SAMPLE_ORGANIZER}"))
    invitee = _attendee(email, "NEEDS-ACTION")
    invitee.params["RSVP"] = "TRUE"
    event.add("ATTENDEE", invitee)
    for n in range(1, 7):
        event.add("ATTENDEE", _attendee(f"guest{n}@partner-agency.example", "ACCEPTED"))
    event.add("ATTENDEE", _attendee(SAMPLE_ORGANIZER, "ACCEPTED"))
    return f"invite-{uuid.uuid4().hex}.ics", _calendar(event), title

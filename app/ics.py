"""Busy time from an iCalendar file (for the planner CLI and, later, calendar imports)."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import icalendar
import recurring_ical_events

from app.domain.planner import Busy

# Outlook exports carry the free/busy status here; OOF means out of office.
_MS_BUSY = "X-MICROSOFT-CDO-BUSYSTATUS"


class IcsError(ValueError):
    """The file is not a usable iCalendar document."""


def parse_calendar(data: bytes) -> icalendar.Calendar:
    """Parse iCalendar bytes, with errors a person can act on."""
    try:
        calendar = icalendar.Calendar.from_ical(data)
    except (ValueError, IndexError, KeyError) as error:
        raise IcsError(f"not a valid iCalendar file ({error})") from None
    if not isinstance(calendar, icalendar.Calendar):
        raise IcsError("not a valid iCalendar file (no VCALENDAR)")
    return calendar


def busy_between(
    calendar: icalendar.Calendar, start: datetime, end: datetime, zone: ZoneInfo
) -> list[Busy]:
    """Busy time overlapping [start, end): recurrences expanded, transparent/cancelled skipped.

    Floating times (no zone in the file) are read in `zone`, the plan's zone.
    """
    try:
        occurrences = recurring_ical_events.of(calendar).between(start, end)
    except Exception as error:  # the library raises many types for malformed recurrences
        raise IcsError(f"cannot expand the events ({type(error).__name__}: {error})") from None
    busy: list[Busy] = []
    for component in occurrences:
        if component.name != "VEVENT" or not _is_busy(component):
            continue
        item = _to_busy(component, zone)
        if item is not None:
            busy.append(item)
    return busy


def _is_busy(component: icalendar.cal.Component) -> bool:
    if str(component.get("STATUS", "")).upper() == "CANCELLED":
        return False
    if str(component.get(_MS_BUSY, "")).upper() == "FREE":
        return False
    return str(component.get("TRANSP", "OPAQUE")).upper() != "TRANSPARENT"


def _to_busy(component: icalendar.cal.Component, zone: ZoneInfo) -> Busy | None:
    raw_start = component.get("DTSTART")
    if raw_start is None:
        return None
    start = raw_start.dt
    raw_end = component.get("DTEND")
    if raw_end is not None:
        end = raw_end.dt
    elif component.get("DURATION") is not None:
        end = start + component.get("DURATION").dt
    else:
        end = start + timedelta(days=1) if not isinstance(start, datetime) else start
    out_of_office = str(component.get(_MS_BUSY, "")).upper() == "OOF"
    if not isinstance(start, datetime):
        # All-day: floating dates, encoded as UTC midnights (see connectors.base.Event).
        end_date = end if isinstance(end, date) and not isinstance(end, datetime) else end.date()
        end_date = max(end_date, start + timedelta(days=1))
        return Busy(_midnight(start), _midnight(end_date), all_day=True)
    start, end = _aware(start, zone), _aware(end, zone)
    if end <= start:
        return None
    return Busy(start.astimezone(UTC), end.astimezone(UTC), out_of_office=out_of_office)


def _midnight(day: date) -> datetime:
    return datetime.combine(day, time(0), tzinfo=UTC)


def _aware(moment: datetime, zone: ZoneInfo) -> datetime:
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=zone)

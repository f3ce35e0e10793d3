"""The provider side of a CalDAV server for the contract suite."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import caldav
import icalendar

from connectors.base import Response
from tests.contract.suite import RecordedRsvp
from tests.servers.caldav import (
    EMAIL,
    CalDavServer,
    dav_client,
)

_RESPONSES = {"ACCEPTED": Response.ACCEPT, "DECLINED": Response.DECLINE}


class CalDavProviderSide:
    """`ProviderSide` as a second CalDAV client writing raw iCalendar objects."""

    def __init__(self, server: CalDavServer) -> None:
        self.server = server
        self.client = dav_client(server)

    def _put(self, calendar_id: str, event: icalendar.Event, *, timezones: bool = False) -> str:
        calendar = icalendar.Calendar()
        calendar.add("PRODID", "-//Elsewhere//Their calendar//EN")
        calendar.add("VERSION", "2.0")
        event.add("UID", f"{uuid.uuid4()}@elsewhere.example")
        event.add("DTSTAMP", datetime(2031, 1, 1, tzinfo=UTC))
        calendar.add_component(event)
        if timezones:
            calendar.add_missing_timezones()
        name = f"{uuid.uuid4().hex}.ics"
        response = self.client.put(
            f"{calendar_id}{name}",
            calendar.to_ical().decode(),
            {"Content-Type": "text/calendar; charset=utf-8"},
        )
        assert response.status in (201, 204), response.status
        return name

    def _event(self, title: str, start: datetime, end: datetime) -> tuple[icalendar.Event, bool]:
        event = icalendar.Event()
        event.add("SUMMARY", title)
        zoned = start.tzinfo is not UTC and isinstance(start.tzinfo, ZoneInfo)
        event.add("DTSTART", start)
        event.add("DTEND", end.astimezone(start.tzinfo))
        return event, zoned

    @staticmethod
    def _attendee(email: str, partstat: str) -> icalendar.vCalAddress:
        address = icalendar.vCalAddress(f"mailto:{email}")
        address.params["PARTSTAT"] = partstat
        address.params["RSVP"] = "TRUE" if partstat == "NEEDS-ACTION" else "FALSE"
        return address

    def _invite(self, event: icalendar.Event, organizer: str, attendee_count: int) -> None:
        event.add("ORGANIZER", icalendar.vCalAddress(f"mailto:{organizer}"))
        event.add("ATTENDEE", self._attendee(EMAIL, "NEEDS-ACTION"))
        for n in range(max(attendee_count - 1, 0)):
            event.add("ATTENDEE", self._attendee(f"guest{n}@elsewhere.example", "ACCEPTED"))

    def insert_invite(
        self,
        calendar_id: str,
        title: str,
        start: datetime,
        end: datetime,
        organizer_email: str = "boss@example.com",
        attendee_count: int = 3,
    ) -> str:
        event, zoned = self._event(title, start, end)
        self._invite(event, organizer_email, attendee_count)
        return self._put(calendar_id, event, timezones=zoned)

    def insert_own_event(
        self, calendar_id: str, title: str, start: datetime, end: datetime, attendee_count: int = 0
    ) -> str:
        event, zoned = self._event(title, start, end)
        if attendee_count:
            event.add("ORGANIZER", icalendar.vCalAddress(f"mailto:{EMAIL}"))
            event.add("ATTENDEE", self._attendee(EMAIL, "ACCEPTED"))
            for n in range(max(attendee_count - 1, 1)):
                event.add("ATTENDEE", self._attendee(f"guest{n}@elsewhere.example", "ACCEPTED"))
        return self._put(calendar_id, event, timezones=zoned)

    def insert_all_day(self, calendar_id: str, title: str, first_day: date, days: int) -> str:
        event = icalendar.Event()
        event.add("SUMMARY", title)
        event.add("DTSTART", first_day)
        event.add("DTEND", first_day + timedelta(days=days))
        return self._put(calendar_id, event)

    def insert_weekly_series(
        self,
        calendar_id: str,
        title: str,
        first_start: datetime,
        duration: timedelta,
        count: int,
        organizer_email: str | None = None,
    ) -> str:
        event, zoned = self._event(title, first_start, first_start + duration)
        event.add("RRULE", {"FREQ": "WEEKLY", "COUNT": count})
        if organizer_email is not None:
            self._invite(event, organizer_email, 3)
        return self._put(calendar_id, event, timezones=zoned)

    def _object(self, calendar_id: str, event_id: str) -> caldav.Event:
        name = event_id.partition("#")[0]
        parent = caldav.Calendar(client=self.client, url=calendar_id)
        return caldav.Event(client=self.client, url=f"{calendar_id}{name}", parent=parent).load()

    def delete_event(self, calendar_id: str, event_id: str) -> None:
        self._object(calendar_id, event_id).delete()

    def cancel_event(self, calendar_id: str, event_id: str) -> None:
        obj = self._object(calendar_id, event_id)
        obj.icalendar_component["STATUS"] = "CANCELLED"
        obj.save(increase_seqno=True)

    def move_event(
        self, calendar_id: str, event_id: str, new_start: datetime, new_end: datetime
    ) -> None:
        obj = self._object(calendar_id, event_id)
        component = obj.icalendar_component
        for name, value in (("DTSTART", new_start), ("DTEND", new_end)):
            component.pop(name)
            component.add(name, value.astimezone(UTC))
        obj.save()

    def expire_cursor(self, calendar_id: str) -> None:
        self.server.expire_sync_tokens(calendar_id)

    def responses(self, calendar_id: str, event_id: str) -> list[RecordedRsvp]:
        obj = self._object(calendar_id, event_id)
        recorded = []
        for component in obj.icalendar_instance.walk("VEVENT"):
            attendees = component.get("ATTENDEE") or []
            for attendee in attendees if isinstance(attendees, list) else [attendees]:
                status = str(attendee.params.get("PARTSTAT", "")).upper()
                if str(attendee).lower() == f"mailto:{EMAIL}" and status in _RESPONSES:
                    comment = component.get("COMMENT")
                    recorded.append(
                        RecordedRsvp(_RESPONSES[status], str(comment) if comment else None)
                    )
        return recorded

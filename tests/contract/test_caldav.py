"""The contract suite against `CalDavConnector` on real Radicale and real Xandikos servers.

Each server runs as a subprocess on a free loopback port for the module; every test gets a
fresh calendar. "The rest of the world" is a second, independent CalDAV client writing iCalendar
objects into that calendar, as another organizer's server would deliver them.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import caldav
import icalendar
import pytest

from connectors.base import CalendarConnector, Response
from connectors.caldav import CalDavConnector, CalDavCredentials
from connectors.netpolicy import Reach
from tests.contract.suite import ConnectorContract, ProviderSide, RecordedRsvp
from tests.servers.caldav import (
    EMAIL,
    PASSWORD,
    USER,
    CalDavServer,
    dav_client,
    new_calendar,
    radicale,
    xandikos,
)

_RESPONSES = {"ACCEPTED": Response.ACCEPT, "DECLINED": Response.DECLINE}
_RESPONSES["TENTATIVE"] = Response.TENTATIVE


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


SELF_HOSTED = Reach(loopback=True, private=True)


def connector_for(server: CalDavServer) -> CalDavConnector:
    credentials = CalDavCredentials(
        url=server.principal_url(),
        username=USER,
        password=PASSWORD,
        auth_type="basic",
        addresses=(EMAIL,),
    )
    return CalDavConnector(credentials, timeout=10, reach=SELF_HOSTED)  # servers on loopback


class _CalDavContract(ConnectorContract):
    @pytest.fixture
    def connector(self, server: CalDavServer) -> CalendarConnector:
        return connector_for(server)

    @pytest.fixture
    def calendar_id(self, server: CalDavServer) -> str:
        return new_calendar(server)

    @pytest.fixture
    def provider_side(self, server: CalDavServer) -> ProviderSide:
        return CalDavProviderSide(server)


@pytest.fixture(scope="module")
def radicale_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CalDavServer]:
    with radicale(Path(tmp_path_factory.mktemp("radicale"))) as running:
        yield running


@pytest.fixture(scope="module")
def xandikos_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CalDavServer]:
    with xandikos(Path(tmp_path_factory.mktemp("xandikos"))) as running:
        yield running


class TestRadicale(_CalDavContract):
    @pytest.fixture
    def server(self, radicale_server: CalDavServer) -> CalDavServer:
        return radicale_server


class TestXandikos(_CalDavContract):
    @pytest.fixture
    def server(self, xandikos_server: CalDavServer) -> CalDavServer:
        return xandikos_server


# --- beyond the contract: the same expansion on every server ---------------------------------

SERIES = """BEGIN:VCALENDAR
VERSION:2.0
PRODID:-//Elsewhere//EN
BEGIN:VTIMEZONE
TZID:Europe/Berlin
BEGIN:STANDARD
DTSTART:19701025T030000
RRULE:FREQ=YEARLY;BYMONTH=10;BYDAY=-1SU
TZOFFSETFROM:+0200
TZOFFSETTO:+0100
END:STANDARD
BEGIN:DAYLIGHT
DTSTART:19700329T020000
RRULE:FREQ=YEARLY;BYMONTH=3;BYDAY=-1SU
TZOFFSETFROM:+0100
TZOFFSETTO:+0200
END:DAYLIGHT
END:VTIMEZONE
BEGIN:VEVENT
UID:series@elsewhere.example
DTSTAMP:20310101T000000Z
SUMMARY:Weekly across the DST change
DTSTART;TZID=Europe/Berlin:20310317T090000
DTEND;TZID=Europe/Berlin:20310317T100000
RRULE:FREQ=WEEKLY;COUNT=4
EXDATE;TZID=Europe/Berlin:20310324T090000
RDATE;TZID=Europe/Berlin:20310319T150000
END:VEVENT
BEGIN:VEVENT
UID:series@elsewhere.example
DTSTAMP:20310101T000000Z
RECURRENCE-ID;TZID=Europe/Berlin:20310407T090000
SUMMARY:Moved to Wednesday
DTSTART;TZID=Europe/Berlin:20310409T140000
DTEND;TZID=Europe/Berlin:20310409T150000
END:VEVENT
END:VCALENDAR
"""
ALL_DAY = """BEGIN:VCALENDAR
VERSION:2.0
PRODID:-//Elsewhere//EN
BEGIN:VEVENT
UID:allday@elsewhere.example
DTSTAMP:20310101T000000Z
SUMMARY:Offsite\\, every other week
DTSTART;VALUE=DATE:20310318
DTEND;VALUE=DATE:20310319
RRULE:FREQ=WEEKLY;INTERVAL=2;COUNT=2
END:VEVENT
END:VCALENDAR
"""
FLOATING = """BEGIN:VCALENDAR
VERSION:2.0
PRODID:-//Elsewhere//EN
BEGIN:VEVENT
UID:floating@elsewhere.example
DTSTAMP:20310101T000000Z
SUMMARY:Floating lunch
DTSTART:20310318T120000
DTEND:20310318T130000
END:VEVENT
END:VCALENDAR
"""
KOLKATA_TZ = (
    "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//x//EN\r\nBEGIN:VTIMEZONE\r\nTZID:Asia/Kolkata\r\n"
    "BEGIN:STANDARD\r\nDTSTART:19700101T000000\r\nTZOFFSETFROM:+0530\r\nTZOFFSETTO:+0530\r\n"
    "END:STANDARD\r\nEND:VTIMEZONE\r\nEND:VCALENDAR\r\n"
)
EXPECTED = [  # (title, start in UTC, end in UTC, all day)
    ("Weekly across the DST change", datetime(2031, 3, 17, 8, tzinfo=UTC), 1, False),
    ("Offsite, every other week", datetime(2031, 3, 18, tzinfo=UTC), 24, True),
    ("Floating lunch", datetime(2031, 3, 18, 6, 30, tzinfo=UTC), 1, False),
    ("Weekly across the DST change", datetime(2031, 3, 19, 14, tzinfo=UTC), 1, False),
    ("Weekly across the DST change", datetime(2031, 3, 31, 7, tzinfo=UTC), 1, False),
    ("Offsite, every other week", datetime(2031, 4, 1, tzinfo=UTC), 24, True),
    ("Moved to Wednesday", datetime(2031, 4, 9, 12, tzinfo=UTC), 1, False),
]


def _series_calendar(server: CalDavServer) -> str:
    calendar_id = new_calendar(server)
    with dav_client(server) as client:
        body = (
            '<?xml version="1.0"?><d:propertyupdate xmlns:d="DAV:" '
            'xmlns:c="urn:ietf:params:xml:ns:caldav"><d:set><d:prop><c:calendar-timezone>'
            f"{KOLKATA_TZ}</c:calendar-timezone></d:prop></d:set></d:propertyupdate>"
        )
        assert client.proppatch(calendar_id, body).status == 207
        for name, data in (("s.ics", SERIES), ("a.ics", ALL_DAY), ("f.ics", FLOATING)):
            response = client.put(
                f"{calendar_id}{name}",
                data.replace("\n", "\r\n"),
                {"Content-Type": "text/calendar"},
            )
            assert response.status == 201
    return calendar_id


@pytest.mark.parametrize("which", ["radicale", "xandikos"])
def test_series_expand_the_same_on_every_server(which: str, request: pytest.FixtureRequest) -> None:
    """RRULE across DST, EXDATE, RDATE, an override moved out of its week, all-day series and
    floating times (read in the calendar's zone): the same instances on both servers."""
    server: CalDavServer = request.getfixturevalue(f"{which}_server")
    calendar_id = _series_calendar(server)
    connector = connector_for(server)
    start, end = datetime(2031, 3, 16, tzinfo=UTC), datetime(2031, 4, 14, tzinfo=UTC)
    listed = connector.list_events(calendar_id, start, end)
    got = [
        (e.title, e.start, round((e.end - e.start).total_seconds() / 3600), e.all_day)
        for e in listed
    ]
    assert got == EXPECTED
    series = [e for e in listed if e.series_id == "s.ics"]
    assert len({e.id for e in series}) == 4
    # a narrow window still finds the override moved into it, and the synced view agrees
    [moved] = connector.list_events(calendar_id, datetime(2031, 4, 9, tzinfo=UTC), end)
    assert moved.title == "Moved to Wednesday" and moved.id == "s.ics#20310407T070000Z"
    synced = {e.id for e in connector.sync(calendar_id, None).changed}
    assert {e.id for e in listed} <= synced

"""The contract suite against `CalDavConnector` on real Radicale and real Xandikos servers.

Each server runs as a subprocess on a free loopback port for the module; every test gets a
fresh calendar. "The rest of the world" is a second, independent CalDAV client writing iCalendar
objects into that calendar, as another organizer's server would deliver them.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from connectors.base import CalendarConnector, Response
from connectors.caldav import CalDavConnector, CalDavCredentials
from connectors.netpolicy import Reach
from tests.contract.suite import ConnectorContract, ProviderSide
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
from tests.support.caldav import _RESPONSES, CalDavProviderSide

_RESPONSES["TENTATIVE"] = Response.TENTATIVE


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

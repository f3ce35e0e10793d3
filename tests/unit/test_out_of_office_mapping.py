"""Each connector marks out-of-office events (`Event.out_of_office`), which days off read."""

from __future__ import annotations

from datetime import UTC, datetime

from connectors.caldav.mapping import Resource, events_of
from connectors.google.mapping import event_from_google
from connectors.microsoft.mapping import event_from_graph

WINDOW = (datetime(2031, 3, 1, tzinfo=UTC), datetime(2031, 4, 1, tzinfo=UTC))


def test_google_out_of_office_event_type() -> None:
    item = {
        "id": "ooo1",
        "summary": "Away",
        "start": {"dateTime": "2031-03-04T09:00:00Z"},
        "end": {"dateTime": "2031-03-04T17:00:00Z"},
        "eventType": "outOfOffice",
    }
    assert event_from_google(item, "cal").out_of_office
    assert not event_from_google({**item, "eventType": "default"}, "cal").out_of_office


def test_graph_show_as_oof() -> None:
    item = {
        "id": "g1",
        "subject": "Holiday",
        "start": {"dateTime": "2031-03-04T00:00:00.0000000", "timeZone": "UTC"},
        "end": {"dateTime": "2031-03-05T00:00:00.0000000", "timeZone": "UTC"},
        "isAllDay": True,
        "showAs": "oof",
    }
    assert event_from_graph(item, "cal").out_of_office
    assert not event_from_graph({**item, "showAs": "busy"}, "cal").out_of_office


def _ics(extra: str) -> str:
    return (
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//test//EN\r\nBEGIN:VEVENT\r\n"
        "UID:ooo@test\r\nDTSTAMP:20310301T000000Z\r\nDTSTART:20310304T090000Z\r\n"
        f"DTEND:20310304T170000Z\r\nSUMMARY:Away\r\n{extra}END:VEVENT\r\nEND:VCALENDAR\r\n"
    )


def test_caldav_outlook_busy_status_oof() -> None:
    def read(extra: str) -> bool:
        (event,) = events_of(
            Resource("a.ics", None, _ics(extra)), "cal", *WINDOW, addresses=frozenset()
        )
        return event.out_of_office

    assert read("X-MICROSOFT-CDO-BUSYSTATUS:OOF\r\n")
    assert read("X-MICROSOFT-CDO-BUSYSTATUS:oof\r\n")
    assert not read("X-MICROSOFT-CDO-BUSYSTATUS:BUSY\r\n")
    assert not read("")

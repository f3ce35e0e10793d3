"""What only the CalDAV connector does, against a real Radicale (behind a misbehaving proxy
where a server must misbehave): conditional writes, ETag re-reads, the ETag fallback of sync,
PARTSTAT-only replies, and the mapping of every failure.
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import caldav
import icalendar
import pytest

from connectors.base import BlockSpec, BlockTag, Response
from connectors.caldav import CalDavConnector, CalDavCredentials
from connectors.caldav.mapping import href_name_for_slot, uid_for_slot
from connectors.errors import (
    Collision,
    CursorExpired,
    NotFound,
    PermissionDenied,
    RateLimited,
    ReauthRequired,
    TransientError,
)
from connectors.netpolicy import Reach
from tests.servers.caldav import (
    EMAIL,
    PASSWORD,
    USER,
    RunningRadicale,
    dav_client,
    new_calendar,
    radicale,
)
from tests.servers.proxy import FaultProxy, Rule
from tests.support.caldav import CalDavProviderSide

T0 = datetime(2031, 3, 3, 9, 0, tzinfo=UTC)
H = timedelta(hours=1)


SELF_HOSTED = Reach(loopback=True, private=True)


def spec(slot: str = "7.2031-W10.0", start: datetime = T0) -> BlockSpec:
    return BlockSpec(BlockTag("7", slot), "Growth: lead", start, start + 2 * H)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningRadicale]:
    with radicale(Path(tmp_path_factory.mktemp("radicale"))) as running:
        yield running


@pytest.fixture
def proxy(server: RunningRadicale) -> Iterator[FaultProxy]:
    with FaultProxy(server.base_url) as front:
        yield front


def connector(base_url: str, *, password: str = PASSWORD, timeout: float = 10) -> CalDavConnector:
    credentials = CalDavCredentials(
        url=f"{base_url}{USER}/", username=USER, password=password, addresses=(EMAIL,)
    )
    return CalDavConnector(credentials, timeout=timeout, reach=SELF_HOSTED)  # on loopback


@pytest.fixture
def calendar(server: RunningRadicale) -> str:
    return new_calendar(server)


def via(proxy: FaultProxy, server: RunningRadicale, calendar: str) -> str:
    """The calendar's URL through the proxy."""
    return calendar.replace(server.base_url, proxy.url)


def stored(server: RunningRadicale, calendar: str, name: str) -> icalendar.Calendar:
    with dav_client(server) as client:
        response = client.request(f"{calendar}{name}", "GET")
        assert response.status == 200
        return icalendar.Calendar.from_ical(response.raw)


def resources(server: RunningRadicale, calendar: str) -> list[str]:
    with dav_client(server) as client:
        cal = caldav.Calendar(client=client, url=calendar)
        return sorted(str(o.url).rsplit("/", 1)[-1] for o in cal.get_objects_by_sync_token())


# --- creating blocks: If-None-Match, and a second create finds the first --------------------


def test_create_sends_if_none_match_and_a_repeat_finds_the_block(
    server: RunningRadicale, proxy: FaultProxy, calendar: str
) -> None:
    cal = via(proxy, server, calendar)
    first = connector(proxy.url).create_block(cal, spec())
    again = connector(proxy.url).create_block(cal, spec())
    assert again.id == first.id == href_name_for_slot("7.2031-W10.0")
    assert resources(server, calendar) == [first.id]
    assert stored(server, calendar, first.id).walk("VEVENT")[0]["UID"] == uid_for_slot(
        "7.2031-W10.0"
    )


def test_a_create_racing_another_worker_returns_the_others_block(
    server: RunningRadicale, proxy: FaultProxy, calendar: str
) -> None:
    cal = via(proxy, server, calendar)
    other = connector(server.base_url)  # another worker, straight to the server
    name = href_name_for_slot("7.2031-W10.0")
    # Our look finds nothing; the other worker's block lands between our look and our PUT.
    proxy.faults.fail_next(status=404, method="GET", path=name)
    proxy.add(
        Rule(
            "PUT",
            path_contains=name,
            before=lambda: other.create_block(calendar, spec(start=T0 + H)),
            times=1,
        )
    )
    mine = connector(proxy.url).create_block(cal, spec())
    assert mine.id == name
    assert (mine.start, mine.end) == (T0 + H, T0 + 3 * H)  # the other's block, not overwritten
    put = [p for p in proxy.requests("PUT") if name in p]
    assert len(put) == 1  # the If-None-Match PUT was refused (412); nothing was overwritten
    assert resources(server, calendar) == [name]


def test_an_untagged_event_at_the_slots_url_is_a_conflict(
    server: RunningRadicale, calendar: str
) -> None:
    name = href_name_for_slot("7.2031-W10.0")
    with dav_client(server) as client:
        body = (
            "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:x\r\nBEGIN:VEVENT\r\nUID:someone-else\r\n"
            "DTSTAMP:20310101T000000Z\r\nDTSTART:20310303T090000Z\r\nDTEND:20310303T100000Z\r\n"
            "SUMMARY:Not ours\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
        )
        assert (
            client.put(f"{calendar}{name}", body, {"Content-Type": "text/calendar"}).status == 201
        )
    with pytest.raises(Collision):
        connector(server.base_url).create_block(calendar, spec())
    assert str(stored(server, calendar, name).walk("VEVENT")[0]["SUMMARY"]) == "Not ours"


# --- If-Match: a concurrent edit by the person is never overwritten --------------------------


def test_update_under_if_match_refuses_to_overwrite_the_persons_edit(
    server: RunningRadicale, proxy: FaultProxy, calendar: str
) -> None:
    cal = via(proxy, server, calendar)
    block = connector(server.base_url).create_block(calendar, spec())

    def person_moves_it() -> None:
        obj = caldav.Event(
            client=dav_client(server),
            url=f"{calendar}{block.id}",
            parent=caldav.Calendar(client=dav_client(server), url=calendar),
        ).load()
        obj.icalendar_component["SUMMARY"] = "Growth: moved by me"
        obj.save()

    proxy.add(Rule("PUT", path_contains=block.id, before=person_moves_it, times=1))
    with pytest.raises(Collision, match="changed meanwhile"):
        connector(proxy.url).update_block(cal, block.id, spec(start=T0 + 24 * H))
    event = stored(server, calendar, block.id).walk("VEVENT")[0]
    assert str(event["SUMMARY"]) == "Growth: moved by me"
    assert event.start == T0  # our move was not written over the person's edit

    proxy.add(Rule("DELETE", path_contains=block.id, before=person_moves_it, times=1))
    with pytest.raises(Collision):
        connector(proxy.url).delete_block(cal, block.id)
    assert resources(server, calendar) == [block.id]


def test_a_put_answer_without_etag_is_read_back(
    server: RunningRadicale, proxy: FaultProxy, calendar: str
) -> None:
    cal = via(proxy, server, calendar)
    proxy.add(Rule("PUT", strip=("ETag",)))  # like Cyrus for organizer objects
    conn = connector(proxy.url)
    block = conn.create_block(cal, spec())
    gets_after_put = [p for p in proxy.requests("GET") if block.id in p]
    assert len(gets_after_put) >= 2  # the look before, and the re-read after the PUT
    moved = conn.update_block(cal, block.id, spec(start=T0 + 48 * H))  # If-Match works
    assert moved.start == T0 + 48 * H
    assert stored(server, calendar, block.id).walk("VEVENT")[0].start == T0 + 48 * H


# --- sync: the ETag comparison where sync-collection is missing ------------------------------


def no_sync(proxy: FaultProxy) -> None:
    """The proxy refuses sync-collection, as a server without the report does."""
    proxy.faults.fail_next(
        None,
        status=403,
        method="REPORT",
        body_has="sync-collection",
        headers={"Content-Type": "application/xml"},
        body='<?xml version="1.0"?><d:error xmlns:d="DAV:"><d:supported-report/></d:error>',
    )


def test_without_sync_collection_sync_compares_etags(
    server: RunningRadicale, proxy: FaultProxy, calendar: str
) -> None:
    no_sync(proxy)
    cal = via(proxy, server, calendar)
    world = CalDavProviderSide(server)
    kept = world.insert_own_event(calendar, "kept", T0, T0 + H)
    moved = world.insert_invite(calendar, "moved", T0 + 2 * H, T0 + 3 * H)
    gone = world.insert_own_event(calendar, "gone", T0 + 4 * H, T0 + 5 * H)
    series = world.insert_weekly_series(calendar, "weekly", T0 + 6 * H, H, count=3)
    conn = connector(proxy.url)
    full = conn.sync(cal, None)
    assert len(full.changed) == 6 and full.removed_ids == []

    world.move_event(calendar, moved, T0 + 26 * H, T0 + 27 * H)
    world.delete_event(calendar, gone)
    world.delete_event(calendar, series)
    added = world.insert_invite(calendar, "added", T0 + 8 * H, T0 + 9 * H)
    page = conn.sync(cal, full.next_cursor)
    assert {e.id for e in page.changed} == {moved, added}
    assert page.removed_ids == sorted(
        [gone, *(e.id for e in full.changed if e.series_id == series)]
    )
    assert conn.sync(cal, page.next_cursor).changed == []
    assert kept not in {e.id for e in page.changed}
    assert not [p for p in proxy.log if p[0] == "REPORT" and "sync" in p[1]]  # no retries


def test_an_invalid_sync_token_is_cursor_expired_by_its_precondition(
    server: RunningRadicale, calendar: str
) -> None:
    conn = connector(server.base_url)
    cursor = conn.sync(calendar, None).next_cursor
    server.expire_sync_tokens(calendar)
    with pytest.raises(CursorExpired):
        conn.sync(calendar, cursor)
    with pytest.raises(CursorExpired):
        conn.sync(calendar, "not a cursor")


def test_a_server_that_drops_sync_collection_makes_the_cursor_expire(
    server: RunningRadicale, proxy: FaultProxy, calendar: str
) -> None:
    cal = via(proxy, server, calendar)
    conn = connector(proxy.url)
    cursor = conn.sync(cal, None).next_cursor
    no_sync(proxy)
    with pytest.raises(CursorExpired):
        conn.sync(cal, cursor)  # the caller then full-syncs, by ETags
    assert conn.sync(cal, None).removed_ids == []


# --- replies: only the person's PARTSTAT and a COMMENT ---------------------------------------


def _properties(component: icalendar.Event) -> dict[str, list[str]]:
    """Every content line (with its parameters) by property name."""
    result: dict[str, list[str]] = {}
    for line in component.content_lines():
        name = str(line).split(":", 1)[0].split(";", 1)[0].upper()
        if line and name not in ("BEGIN", "END"):
            result.setdefault(name, []).append(str(line))
    return result


def test_decline_changes_only_own_partstat_and_adds_a_comment(
    server: RunningRadicale, calendar: str
) -> None:
    world = CalDavProviderSide(server)
    invite = world.insert_invite(calendar, "Big sync", T0, T0 + H, attendee_count=5)
    before = stored(server, calendar, invite).walk("VEVENT")[0]
    declined = connector(server.base_url).respond(
        calendar, invite, Response.DECLINE, "This time is reserved for growth work."
    )
    assert declined.self_response.value == "declined"  # type: ignore[union-attr]
    after = stored(server, calendar, invite).walk("VEVENT")[0]
    changed = {
        name
        for name in set(_properties(before)) | set(_properties(after))
        if _properties(before).get(name) != _properties(after).get(name)
    }
    assert changed == {"ATTENDEE", "COMMENT"}
    assert str(after["COMMENT"]) == "This time is reserved for growth work."
    attendees = {name: _properties(c)["ATTENDEE"] for name, c in (("b", before), ("a", after))}
    mine = [line for line in attendees["a"] if f"mailto:{EMAIL}" in line.lower()]
    others = {
        k: [line for line in v if f"mailto:{EMAIL}" not in line.lower()]
        for k, v in attendees.items()
    }
    assert others["a"] == others["b"]  # nobody else's line changed
    assert "PARTSTAT=DECLINED" in mine[0]
    me_before = next(a for a in before["ATTENDEE"] if EMAIL in str(a))
    me_after = next(a for a in after["ATTENDEE"] if EMAIL in str(a))
    assert {k: v for k, v in me_after.params.items() if k != "PARTSTAT"} == {
        k: v for k, v in me_before.params.items() if k != "PARTSTAT"
    }


def test_respond_reapplies_after_the_organizer_updated_meanwhile(
    server: RunningRadicale, proxy: FaultProxy, calendar: str
) -> None:
    cal = via(proxy, server, calendar)
    world = CalDavProviderSide(server)
    invite = world.insert_invite(calendar, "Sync", T0, T0 + H)
    proxy.add(
        Rule(
            "PUT",
            path_contains=invite,
            before=lambda: world.move_event(calendar, invite, T0 + H, T0 + 2 * H),
            times=1,
        )
    )
    connector(proxy.url).respond(cal, invite, Response.TENTATIVE, None)
    event = stored(server, calendar, invite).walk("VEVENT")[0]
    assert event.start == T0 + H  # the organizer's change survived
    assert [a.params["PARTSTAT"] for a in event["ATTENDEE"] if EMAIL in str(a)] == ["TENTATIVE"]


def test_respond_refuses_events_the_person_organizes(
    server: RunningRadicale, calendar: str
) -> None:
    world = CalDavProviderSide(server)
    own = world.insert_own_event(calendar, "Mine", T0, T0 + H, attendee_count=3)
    with pytest.raises(PermissionDenied):
        connector(server.base_url).respond(calendar, own, Response.DECLINE)


# --- mapping failures ------------------------------------------------------------------------


def test_a_wrong_password_is_reauth_required(server: RunningRadicale, calendar: str) -> None:
    with pytest.raises(ReauthRequired):
        connector(server.base_url, password="not-it").list_events(calendar, T0, T0 + H)


@pytest.mark.parametrize(
    ("status", "headers", "expected"),
    [
        (403, {}, PermissionDenied),
        (404, {}, NotFound),
        (410, {}, NotFound),
        (500, {}, TransientError),
        (503, {}, TransientError),
        (401, {"WWW-Authenticate": 'Basic realm="x"'}, ReauthRequired),
    ],
)
def test_statuses_are_mapped(
    server: RunningRadicale,
    proxy: FaultProxy,
    calendar: str,
    status: int,
    headers: dict[str, str],
    expected: type,
) -> None:
    proxy.faults.fail_next(None, status=status, method="REPORT", headers=headers)
    with pytest.raises(expected):
        connector(proxy.url).list_events(via(proxy, server, calendar), T0, T0 + H)


@pytest.mark.parametrize(("status", "after"), [(429, "7"), (503, "9")])
def test_rate_limits_carry_retry_after(
    server: RunningRadicale, proxy: FaultProxy, calendar: str, status: int, after: str
) -> None:
    proxy.faults.fail_next(None, status=status, method="REPORT", headers={"Retry-After": after})
    with pytest.raises(RateLimited) as raised:
        connector(proxy.url).list_events(via(proxy, server, calendar), T0, T0 + H)
    assert raised.value.retry_after == float(after)


def test_a_412_on_update_is_a_conflict_not_an_overwrite(
    server: RunningRadicale, proxy: FaultProxy, calendar: str
) -> None:
    block = connector(server.base_url).create_block(calendar, spec())
    proxy.faults.fail_next(None, status=412, method="PUT")
    with pytest.raises(Collision):
        connector(proxy.url).update_block(via(proxy, server, calendar), block.id, spec())


def test_a_server_that_does_not_answer_is_transient(
    server: RunningRadicale, proxy: FaultProxy, calendar: str
) -> None:
    proxy.faults.fail_next(None, status=200, method="REPORT", hang=3)
    with pytest.raises(TransientError):
        connector(proxy.url, timeout=1).list_events(via(proxy, server, calendar), T0, T0 + H)


def test_a_dropped_connection_is_transient(calendar: str) -> None:
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    port = listener.getsockname()[1]

    def slam() -> None:
        connection, _ = listener.accept()
        connection.close()  # accepted, then gone without a word

    threading.Thread(target=slam, daemon=True).start()
    try:
        with pytest.raises(TransientError):
            connector(f"http://127.0.0.1:{port}/").list_events(
                f"http://127.0.0.1:{port}/{USER}/work/", T0, T0 + H
            )
    finally:
        listener.close()

"""End to end on a real Radicale: connect, book, invites from another client, poll, decide.

Over HTTP only (the app's API with a personal token). "Another organizer" is a second,
independent CalDAV client writing invites into the person's calendar, as a scheduling server
would deliver them. Radicale does no implicit scheduling, so a decline is only the stored
PARTSTAT (and COMMENT): exactly what is asserted.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import icalendar
import pytest
from sqlalchemy import Engine

from app import tasks
from app.domain.time import IsoWeek
from app.main import create_app
from app.runtime import build_runtime
from connectors.caldav.mapping import SLOT_PROP
from tests.booking_helpers import book as book_now
from tests.e2e.harness import AppServer, wait_until
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
from tests.signups import api_token
from tests.support.caldav import CalDavProviderSide
from tests.support.e2e_google import BERLIN
from tests.support.settings import make_settings

POLICY: dict[str, Any] = {
    "default": "flag",
    "rules": [
        {"name": "skip-level", "when": {"organizer_in": ["vp@corp.example"]}, "then": "move_block"},
        {"name": "big meetings", "when": {"attendees_at_least": 8}, "then": "decline"},
    ],
    "guardrails": {"max_declines_per_week": 5, "never_decline_accepted": True, "dry_run": False},
    "decline_message": "This time is reserved for growth work. Could one of these work "
    "instead? {alternatives}",
}


@dataclass
class World:
    server: RunningRadicale
    proxy: FaultProxy
    calendar: str  # the person's calendar (its URL at the server itself)
    client: httpx.Client
    plan_id: int


@pytest.fixture
def world(db_url: str, engine: Engine, tmp_path: Path) -> Iterator[World]:
    with radicale(tmp_path / "radicale") as server, FaultProxy(server.base_url) as proxy:
        calendar = new_calendar(server, "Work")
        runtime = build_runtime(make_settings(db_url), engine=engine)
        with AppServer(create_app(runtime, scheduler=False)) as app:
            client = httpx.Client(base_url=app.base_url, timeout=30)
            token = api_token(client, EMAIL, "Europe/Berlin")  # signed up through the mailbox
            client.headers["Authorization"] = f"Bearer {token}"
            connected = client.post(
                "/accounts/connect/caldav",
                json={"fields": {"server": proxy.url, "username": USER, "password": PASSWORD}},
            )
            assert connected.status_code == 201, connected.text
            assert [c["name"] for c in connected.json()["calendars"]] == ["Work"]
            plan = client.post("/plans", json={"goal": "Lead a cross-team project"}).json()
            assert client.put(f"/plans/{plan['id']}/policy", json=POLICY).status_code == 200
            yield World(server, proxy, calendar, client, plan["id"])
            client.close()


def week_ahead(n: int) -> IsoWeek:
    return IsoWeek.containing(datetime.now(UTC), BERLIN).plus(n)


def stored(world: World) -> dict[str, icalendar.Event]:
    """Every event in the person's calendar at the server, by resource name."""
    with dav_client(world.server) as dav:
        found = {}
        for name in _names(world):
            response = dav.request(f"{world.calendar}{name}", "GET")
            found[name] = icalendar.Calendar.from_ical(response.raw).walk("VEVENT")[0]
        return found


def _names(world: World) -> list[str]:
    import caldav

    with dav_client(world.server) as dav:
        cal = caldav.Calendar(client=dav, url=world.calendar)
        return sorted(str(o.url).rsplit("/", 1)[-1] for o in cal.get_objects_by_sync_token())


def blocks(world: World) -> dict[str, icalendar.Event]:
    return {name: e for name, e in stored(world).items() if SLOT_PROP in e}


def book(world: World, week: IsoWeek) -> dict[str, Any]:
    report: dict[str, Any] = book_now(world.client, world.plan_id, str(week))[0]
    return report


def poll() -> None:
    """One polling round, as the scheduler runs it every GG_POLL_INTERVAL_SECONDS."""
    assert tasks.poll_calendars() >= 1


def decision_for(world: World, title: str) -> dict[str, Any]:
    def found() -> dict[str, Any] | None:
        for conflict in world.client.get("/conflicts").json():
            if conflict["decision"] and conflict["event"].get("title") == title:
                return dict(conflict["decision"])
        return None

    result: dict[str, Any] = wait_until(found, timeout=15, interval=0.1)
    return result


def lines(event: icalendar.Event) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for line in event.content_lines():
        name = str(line).split(":", 1)[0].split(";", 1)[0].upper()
        if line and name not in ("BEGIN", "END"):
            out.setdefault(name, []).append(str(line))
    return out


def test_book_an_invite_arrives_and_is_declined_moved_and_flagged(world: World) -> None:
    week = week_ahead(2)
    report = book(world, week)
    assert len(report["created"]) == 2
    booked = blocks(world)
    assert len(booked) == 2
    first, second = sorted(booked.values(), key=lambda e: e.start)
    others = CalDavProviderSide(world.server)

    # 1. A big meeting over the first block: declined, only the person's PARTSTAT and COMMENT.
    big = others.insert_invite(
        world.calendar, "Q3 all-hands", first.start, first.end, "cto@corp.example", 12
    )
    before_invite = stored(world)[big]
    before_block = lines(first)
    poll()
    decision = decision_for(world, "Q3 all-hands")
    assert (decision["action"], decision["rule"], decision["outcome"]) == (
        "decline",
        "big meetings",
        "done",
    )
    after_invite = stored(world)[big]
    changed = {
        name
        for name in set(lines(before_invite)) | set(lines(after_invite))
        if lines(before_invite).get(name) != lines(after_invite).get(name)
    }
    assert changed == {"ATTENDEE", "COMMENT"}
    mine = [a for a in after_invite["ATTENDEE"] if str(a).lower() == f"mailto:{EMAIL}"]
    assert mine[0].params["PARTSTAT"] == "DECLINED"
    assert "Could one of these work instead?" in str(after_invite["COMMENT"])
    not_mine = [line for line in lines(after_invite)["ATTENDEE"] if EMAIL not in line]
    assert not_mine == [line for line in lines(before_invite)["ATTENDEE"] if EMAIL not in line]
    first_name = next(n for n, e in blocks(world).items() if e["UID"] == first["UID"])
    assert lines(blocks(world)[first_name]) == before_block  # the block is untouched

    # 2. The skip-level's invite over the second block: the block moves, the meeting stays.
    skip = others.insert_invite(
        world.calendar, "Skip-level 1:1", second.start, second.end, "vp@corp.example", 2
    )
    poll()
    decision = decision_for(world, "Skip-level 1:1")
    assert (decision["action"], decision["rule"]) == ("move_block", "skip-level")
    moved = next(e for e in blocks(world).values() if e["UID"] == second["UID"])
    assert moved.start != second.start
    assert not (moved.start < second.end and second.start < moved.end)
    assert "PARTSTAT=NEEDS-ACTION" in next(
        line for line in lines(stored(world)[skip])["ATTENDEE"] if EMAIL in line
    )

    # 3. A small meeting from someone else over the first block: flagged, nothing written.
    small = others.insert_invite(
        world.calendar, "Coffee chat", first.start, first.end, "pat@corp.example", 2
    )
    before_small = lines(stored(world)[small])
    poll()
    decision = decision_for(world, "Coffee chat")
    assert decision["action"] == "flag"
    assert lines(stored(world)[small]) == before_small

    # Each decision told the person, and the move too.
    kinds = [n["kind"] for n in world.client.get("/notifications").json()]
    assert kinds.count("conflict.decided") >= 3, kinds
    assert "block.moved" in kinds, kinds


def test_booking_twice_and_after_a_crash_leaves_no_duplicate(world: World) -> None:
    week = week_ahead(3)
    first = book(world, week)
    again = book(world, week)
    assert len(first["created"]) == 2 and again["created"] == []
    assert len(blocks(world)) == 2

    # The next week: the second block reaches the server but the answer is lost (a crash
    # half-way). The retry finds it by its slot key instead of creating it again.
    later = week_ahead(4)
    world.proxy.add(Rule("PUT", drop_after_forward=True, times=1, path_contains="growthguard-"))
    world.proxy.rules.insert(0, Rule("PUT", path_contains="growthguard-", times=1))  # 1st passes
    report = book(world, later)
    # the first block was recorded before the failure; the lost one is adopted, not re-created
    assert report["kept"] == [f"{world.plan_id}.{later}.0"], report
    assert report["adopted"] == [f"{world.plan_id}.{later}.1"], report
    assert report["created"] == [], report
    uids = [str(e["UID"]) for e in blocks(world).values()]
    assert len(uids) == 4 and len(set(uids)) == 4
    book(world, later)
    assert len(blocks(world)) == 4

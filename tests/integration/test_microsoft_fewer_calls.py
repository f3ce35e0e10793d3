"""Graph calls a sync has made unnecessary are not made (fake Graph, real connector):

- answering an invite the sync just returned is one POST, with no read before or after;
- a block that comes back from delta with the changeKey we wrote is not read for its tag,
  while one changed since (by a person, or by another worker) is.
"""

from __future__ import annotations

import dataclasses

import httpx
import pytest

from connectors.base import BlockTag, Response, SelfResponse
from connectors.microsoft import MicrosoftConfig, MicrosoftGrant
from connectors.microsoft.connector import SYNCED, WRITTEN, MicrosoftConnector
from tests.contract.suite import T0, H, spec
from tests.fakes.graph_server import FakeGraphServer
from tests.support.microsoft import Factory, calendar


def calls(fake: FakeGraphServer) -> list[tuple[str, str]]:
    """(method, last path segment) of the calendar requests since the last clear."""
    return [
        (r.method, r.path.rsplit("/", 1)[-1])
        for r in fake.graph_requests("/me/")
        if "/events" in r.path or "/calendarView" in r.path
    ]


def start(make: Factory, fake: FakeGraphServer, email: str) -> tuple[MicrosoftConnector, str, str]:
    connector, cal = make(clock=lambda: T0), calendar(fake, email)
    return connector, cal, connector.sync(cal, None).next_cursor


def synced_block(
    make: Factory, fake: FakeGraphServer, email: str
) -> tuple[MicrosoftConnector, str, str, str]:
    """A block we created and synced since: the connector, calendar, cursor and block id."""
    connector, cal, cursor = start(make, fake, email)
    block = connector.create_block(cal, spec("w10-1", T0 + 2 * H))
    return connector, cal, connector.sync(cal, cursor).next_cursor, block.id


def test_a_decline_after_a_sync_is_one_post(
    fake: FakeGraphServer, make: Factory, email: str
) -> None:
    connector, cal, cursor = start(make, fake, email)
    invite = fake.insert_invite(email, cal, "Big sync", T0 + H, T0 + 2 * H, "boss@example.com")
    assert [e.id for e in connector.sync(cal, cursor).changed] == [invite]
    fake.requests.clear()

    declined = connector.respond(cal, invite, Response.DECLINE, "Protected growth time")

    assert calls(fake) == [("POST", "decline")]
    assert declined.self_response is SelfResponse.DECLINED
    [recorded] = fake.responses(email, invite)
    assert (recorded.response, recorded.comment, recorded.send_response) == (
        "decline",
        "Protected growth time",
        True,
    )


def test_the_synced_copy_answers_once_and_only_while_fresh(
    fake: FakeGraphServer, make: Factory, email: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    connector, cal, cursor = start(make, fake, email)
    invite = fake.insert_invite(email, cal, "Big sync", T0 + H, T0 + 2 * H, "boss@example.com")
    cursor = connector.sync(cal, cursor).next_cursor
    connector.respond(cal, invite, Response.DECLINE)
    fake.requests.clear()
    # a second answer (e.g. "keep the meeting") reads the invite as it is now
    accepted = connector.respond(cal, invite, Response.ACCEPT)
    assert [m for m, _ in calls(fake)] == ["GET", "POST"]
    assert accepted.self_response is SelfResponse.ACCEPTED

    other = fake.insert_invite(email, cal, "Later", T0 + 3 * H, T0 + 4 * H, "boss@example.com")
    connector.sync(cal, cursor)
    monkeypatch.setattr(SYNCED, "fresh", -1.0)  # too old by now
    fake.requests.clear()
    connector.respond(cal, other, Response.DECLINE)
    assert [m for m, _ in calls(fake)] == ["GET", "POST"]


def test_a_synced_copy_that_wants_no_response_sends_none(
    fake: FakeGraphServer, make: Factory, email: str
) -> None:
    connector, cal, cursor = start(make, fake, email)
    quiet = fake.insert_invite(
        email, cal, "FYI", T0 + H, T0 + 2 * H, "ceo@example.com", response_requested=False
    )
    connector.sync(cal, cursor)
    fake.requests.clear()
    connector.respond(cal, quiet, Response.DECLINE, "Growth time")
    assert calls(fake) == [("POST", "decline")]
    [recorded] = fake.responses(email, quiet)
    assert recorded.send_response is False


def test_an_invite_cancelled_in_the_next_sync_is_read_again(
    fake: FakeGraphServer, make: Factory, email: str
) -> None:
    connector, cal, cursor = start(make, fake, email)
    invite = fake.insert_invite(email, cal, "Big sync", T0 + H, T0 + 2 * H, "boss@example.com")
    cursor = connector.sync(cal, cursor).next_cursor
    fake.delete_event(email, invite)
    connector.sync(cal, cursor)
    assert SYNCED.peek((cal, invite)) is None


def test_our_own_block_coming_back_is_not_read_for_its_tag(
    fake: FakeGraphServer, make: Factory, email: str
) -> None:
    connector, cal, cursor = start(make, fake, email)
    block = connector.create_block(cal, spec("w10-1", T0 + 2 * H))
    [batched] = connector.create_blocks(cal, [spec("w10-2", T0 + 5 * H)])
    assert not isinstance(batched, Exception)
    fake.requests.clear()

    page = connector.sync(cal, cursor)

    assert [m for m, _ in calls(fake)] == ["GET"]  # the delta page, and nothing else
    assert {e.id: e.tag for e in page.changed} == {
        block.id: BlockTag("plan-1", "w10-1"),
        batched.id: BlockTag("plan-1", "w10-2"),
    }


def test_a_block_changed_since_we_wrote_it_is_read_again(
    fake: FakeGraphServer, make: Factory, email: str
) -> None:
    connector, cal, cursor, block = synced_block(make, fake, email)
    ours = WRITTEN.peek((cal, block))
    assert ours is not None and ours[1] == BlockTag("plan-1", "w10-1")
    # another worker moves it to another slot; this process still knows only its own write
    make(clock=lambda: T0).update_block(cal, block, spec("w10-3", T0 + 6 * H))
    WRITTEN.keep((cal, block), ours)
    fake.requests.clear()

    page = connector.sync(cal, cursor)

    assert [e.tag for e in page.changed] == [BlockTag("plan-1", "w10-3")]
    assert len([c for c in calls(fake) if c[1] == block]) == 1  # its tag was read


def test_a_block_a_person_moved_is_read_again(
    fake: FakeGraphServer, make: Factory, email: str
) -> None:
    connector, cal, cursor, block = synced_block(make, fake, email)
    fake.update_event(email, block, start=T0 + 7 * H, end=T0 + 9 * H)
    fake.requests.clear()

    [moved] = connector.sync(cal, cursor).changed

    assert (moved.start, moved.tag) == (T0 + 7 * H, BlockTag("plan-1", "w10-1"))
    assert ("GET", block) in calls(fake)


def test_a_block_removed_later_in_the_same_round_is_neither_read_nor_kept(
    config: MicrosoftConfig, grant: MicrosoftGrant
) -> None:
    # Graph may replay an item and then report it removed in one delta round (the fake never
    # does, so Graph's pages are played here at the HTTP boundary). It used to raise KeyError.
    base = config.graph_base
    block = {
        "id": "AAMkblock",
        "type": "singleInstance",
        "subject": "Growth: lead",
        "categories": ["Growth"],
        "changeKey": "7",
        "start": {"dateTime": "2031-03-03T11:00:00.0000000", "timeZone": "UTC"},
        "end": {"dateTime": "2031-03-03T13:00:00.0000000", "timeZone": "UTC"},
        "responseStatus": {"response": "organizer"},
        "isOrganizer": True,
    }
    asked: list[str] = []

    def graph(request: httpx.Request) -> httpx.Response:
        asked.append(request.url.path)
        if request.url.path.endswith("/calendarView/delta"):
            page = {
                "value": [block, {"id": block["id"], "@removed": {"reason": "deleted"}}],
                "@odata.deltaLink": f"{base}/me/calendarView/delta?$deltatoken=t1",
            }
            return httpx.Response(200, json=page)
        return httpx.Response(200, json=block)  # the event itself still exists elsewhere

    played = dataclasses.replace(config, graph_transport=httpx.MockTransport(graph))
    connector = MicrosoftConnector(
        played, grant.token_cache, lambda blob: None, home_account_id=grant.home_account_id
    )
    WRITTEN.keep(("cal-1", block["id"]), ("7", BlockTag("plan-1", "w10-1")))

    page = connector.sync("cal-1", None)

    assert page.changed == []
    assert [p for p in asked if p.endswith(block["id"])] == []

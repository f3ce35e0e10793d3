"""The contract suite against `MemoryConnector`, plus what only the memory connector offers."""

from __future__ import annotations

import dataclasses
import itertools
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from connectors import registry
from connectors.base import (
    BlockSpec,
    BlockTag,
    CalendarConnector,
    CalendarInfo,
    Event,
    EventStatus,
    Response,
    SelfResponse,
    utc_midnight,
)
from connectors.errors import CursorExpired, NotFound, PermissionDenied, TransientError
from connectors.memory import MemoryConnector, MemoryStore, default_store
from tests.contract.suite import T0, WEEK, ConnectorContract, H, ProviderSide, RecordedRsvp, spec

CAL = "work"


class MemoryProviderSide:
    """`ProviderSide` over a `MemoryStore`."""

    def __init__(self, store: MemoryStore) -> None:
        self.store = store
        self._ids = itertools.count(1)

    def _event(self, calendar_id: str, title: str, start: datetime, end: datetime) -> Event:
        return Event(
            id=f"ext{next(self._ids)}", calendar_id=calendar_id, title=title, start=start, end=end
        )

    def insert_invite(
        self,
        calendar_id: str,
        title: str,
        start: datetime,
        end: datetime,
        organizer_email: str = "boss@example.com",
        attendee_count: int = 3,
    ) -> str:
        event = dataclasses.replace(
            self._event(calendar_id, title, start, end),
            organizer_email=organizer_email,
            self_response=SelfResponse.NEEDS_ACTION,
            attendee_count=attendee_count,
        )
        self.store.put_event(event)
        return event.id

    def insert_own_event(
        self, calendar_id: str, title: str, start: datetime, end: datetime, attendee_count: int = 0
    ) -> str:
        event = dataclasses.replace(
            self._event(calendar_id, title, start, end),
            organizer_email="me@example.com",
            self_is_organizer=True,
            # like Google: the organizer of a meeting is listed as an accepted attendee
            self_response=SelfResponse.ACCEPTED if attendee_count else None,
            attendee_count=attendee_count,
        )
        self.store.put_event(event)
        return event.id

    def insert_all_day(self, calendar_id: str, title: str, first_day: date, days: int) -> str:
        start = utc_midnight(first_day)
        event = dataclasses.replace(
            self._event(calendar_id, title, start, start + timedelta(days=days)),
            all_day=True,
            self_is_organizer=True,
        )
        self.store.put_event(event)
        return event.id

    def insert_weekly_series(
        self,
        calendar_id: str,
        title: str,
        first_start: datetime,
        duration: timedelta,
        count: int,
        organizer_email: str | None = None,
    ) -> str:
        first = self._event(calendar_id, title, first_start, first_start + duration)
        if organizer_email is None:
            first = dataclasses.replace(first, self_is_organizer=True)
        else:
            first = dataclasses.replace(
                first, organizer_email=organizer_email, self_response=SelfResponse.NEEDS_ACTION
            )
        self.store.add_weekly_series(first, count, zone=first_start.tzinfo or UTC)
        return first.id

    def delete_event(self, calendar_id: str, event_id: str) -> None:
        self.store.remove_event(calendar_id, event_id)

    def cancel_event(self, calendar_id: str, event_id: str) -> None:
        self.store.put_event(
            dataclasses.replace(self._get(calendar_id, event_id), status=EventStatus.CANCELLED)
        )

    def move_event(
        self, calendar_id: str, event_id: str, new_start: datetime, new_end: datetime
    ) -> None:
        event = self._get(calendar_id, event_id)
        self.store.put_event(dataclasses.replace(event, start=new_start, end=new_end))

    def expire_cursor(self, calendar_id: str) -> None:
        self.store.expire_cursors(calendar_id)

    def responses(self, calendar_id: str, event_id: str) -> list[RecordedRsvp]:
        return [
            RecordedRsvp(r.response, r.message)
            for r in self.store.responses
            if (r.calendar_id, r.event_id) == (calendar_id, event_id)
        ]

    def _get(self, calendar_id: str, event_id: str) -> Event:
        event = self.store.get(calendar_id, event_id)
        assert event is not None, event_id
        return event


@pytest.fixture
def store() -> MemoryStore:
    store = MemoryStore()
    store.add_calendar(CalendarInfo(id=CAL, name="Work", primary=True, timezone="Europe/Berlin"))
    return store


class TestMemoryConnector(ConnectorContract):
    @pytest.fixture
    def connector(self, store: MemoryStore) -> CalendarConnector:
        return MemoryConnector(store)

    @pytest.fixture
    def calendar_id(self) -> str:
        return CAL

    @pytest.fixture
    def provider_side(self, store: MemoryStore) -> ProviderSide:
        return MemoryProviderSide(store)


# --- memory-only behaviour ------------------------------------------------------------------


def test_fail_next_before_effect_then_recovers(store: MemoryStore) -> None:
    connector = MemoryConnector(store)
    store.fail_next("create_block", TransientError("boom"), skip=1)
    connector.create_block(CAL, spec("w10-1", T0))
    with pytest.raises(TransientError, match="boom"):
        connector.create_block(CAL, spec("w10-2", T0 + 24 * H))
    assert connector.find_block(CAL, "w10-2") is None
    connector.create_block(CAL, spec("w10-2", T0 + 24 * H))
    assert len(store.events(CAL)) == 2


def test_fail_after_effect_then_retry_does_not_duplicate(store: MemoryStore) -> None:
    connector = MemoryConnector(store)
    store.fail_next("create_block", TransientError("answer lost"), after_effect=True)
    with pytest.raises(TransientError):
        connector.create_block(CAL, spec("w10-1", T0))
    retried = connector.create_block(CAL, spec("w10-1", T0))
    assert [e.id for e in store.events(CAL)] == [retried.id]


def test_fail_next_rejects_unknown_method(store: MemoryStore) -> None:
    with pytest.raises(ValueError, match="create_blok"):
        store.fail_next("create_blok", TransientError())


def test_shared_store_sees_provider_side_changes(store: MemoryStore) -> None:
    connector = MemoryConnector(store)
    block = connector.create_block(CAL, spec("w10-1", T0))
    store.remove_event(CAL, block.id)  # the user deleted the block in their calendar app
    assert connector.find_block(CAL, "w10-1") is None
    assert MemoryConnector(store).list_events(CAL, T0, T0 + H) == []


def test_read_only_calendar_refuses_writes(store: MemoryStore) -> None:
    store.add_calendar(CalendarInfo(id="team", name="Team", can_write=False, owned=False))
    with pytest.raises(PermissionDenied):
        MemoryConnector(store).create_block("team", spec("w10-1", T0))


def test_unknown_calendar_is_not_found(store: MemoryStore) -> None:
    with pytest.raises(NotFound):
        MemoryConnector(store).list_events("nope", T0, T0 + H)


def test_cursor_retention_expires_old_cursors() -> None:
    store = MemoryStore(cursor_retention=2)
    store.add_calendar(CalendarInfo(id=CAL, name="Work"))
    connector, side = MemoryConnector(store), MemoryProviderSide(store)
    cursor = connector.sync(CAL, None).next_cursor
    side.insert_own_event(CAL, "a", T0, T0 + H)
    side.insert_own_event(CAL, "b", T0, T0 + H)
    assert len(connector.sync(CAL, cursor).changed) == 2  # two changes behind: still fine
    side.insert_own_event(CAL, "c", T0, T0 + H)
    with pytest.raises(CursorExpired):
        connector.sync(CAL, cursor)


@pytest.mark.parametrize("cursor", ["garbage", "m1.!!!", "m1.WzEsMiwzXQ=="])
def test_malformed_cursor_is_expired(store: MemoryStore, cursor: str) -> None:
    with pytest.raises(CursorExpired):
        MemoryConnector(store).sync(CAL, cursor)


def test_cursor_of_another_calendar_is_expired(store: MemoryStore) -> None:
    store.add_calendar(CalendarInfo(id="other", name="Other"))
    connector = MemoryConnector(store)
    with pytest.raises(CursorExpired):
        connector.sync(CAL, connector.sync("other", None).next_cursor)


def test_weekly_series_keeps_wall_clock_across_dst(store: MemoryStore) -> None:
    berlin = ZoneInfo("Europe/Berlin")
    side = MemoryProviderSide(store)
    first = datetime(2031, 3, 17, 9, 0, tzinfo=berlin)  # DST starts 30 March 2031
    side.insert_weekly_series(CAL, "Standup", first, H, count=3)
    starts = [
        e.start.astimezone(berlin)
        for e in MemoryConnector(store).list_events(CAL, T0, T0 + 8 * WEEK)
    ]
    assert [(s.hour, s.utcoffset()) for s in starts] == [
        (9, timedelta(hours=1)),
        (9, timedelta(hours=1)),
        (9, timedelta(hours=2)),
    ]


def test_deleting_a_series_removes_every_occurrence(store: MemoryStore) -> None:
    side, connector = MemoryProviderSide(store), MemoryConnector(store)
    series = side.insert_weekly_series(CAL, "1:1", T0, H, count=3)
    cursor = connector.sync(CAL, None).next_cursor
    side.delete_event(CAL, series)
    page = connector.sync(CAL, cursor)
    assert len(page.removed_ids) == 3
    assert connector.list_events(CAL, T0, T0 + 4 * WEEK) == []


def test_respond_records_proposed_time(store: MemoryStore) -> None:
    side, connector = MemoryProviderSide(store), MemoryConnector(store)
    invite = side.insert_invite(CAL, "Sync", T0, T0 + H)
    kolkata = ZoneInfo("Asia/Kolkata")
    proposal = (T0.astimezone(kolkata) + WEEK, T0.astimezone(kolkata) + WEEK + H)
    connector.respond(CAL, invite, Response.DECLINE, "Try next week?", propose=proposal)
    [recorded] = store.responses
    assert recorded.propose == (T0 + WEEK, T0 + WEEK + H)
    assert recorded.propose[0].tzinfo == UTC


def test_default_connector_has_a_primary_calendar() -> None:
    [calendar] = MemoryConnector().list_calendars()
    assert (calendar.id, calendar.primary) == ("primary", True)


def test_registry_builds_memory_connectors_on_the_default_store() -> None:
    factory = registry.get_factory("memory")
    saved: list[bytes] = []
    connector = factory(None, saved.append)
    assert connector.provider == "memory"
    assert isinstance(connector, MemoryConnector)
    assert connector.store is default_store()
    assert "memory" in registry.providers()
    assert saved == []


def test_registry_unknown_provider_lists_known_ones() -> None:
    with pytest.raises(KeyError, match=r"unknown calendar provider 'exchange2003'.*memory"):
        registry.get_factory("exchange2003")


def test_registry_register_replaces(store: MemoryStore) -> None:
    def factory(credentials: bytes | None, save: object) -> CalendarConnector:
        return MemoryConnector(store)

    registry.register("test-fake", factory)
    try:
        assert registry.get_factory("test-fake") is factory
        assert "test-fake" in registry.providers()
    finally:
        registry._factories.pop("test-fake")  # keep the process-wide registry clean


def test_block_spec_with_focus_time_is_a_plain_block(store: MemoryStore) -> None:
    focus = BlockSpec(
        BlockTag("p", "s"), "Growth", T0, T0 + 2 * H, focus_time=True, auto_decline="x"
    )
    event = MemoryConnector(store).create_block(CAL, focus)
    assert event.event_type == "default"


_OPS = ["invite", "own", "series", "move", "delete", "cancel", "block", "respond", "sync"]


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(_OPS), st.integers(0, 40)), max_size=30))
def test_incremental_sync_replays_to_full_sync(ops: list[tuple[str, int]]) -> None:
    """Applying every incremental page to a cache always gives what a full sync gives."""
    store = MemoryStore()
    store.add_calendar(CalendarInfo(id=CAL, name="Work"))
    connector, side = MemoryConnector(store), MemoryProviderSide(store)
    first = connector.sync(CAL, None)
    cache = {e.id: e for e in first.changed}
    cursor = first.next_cursor
    for op, n in ops:
        live = [e for e in store.events(CAL) if e.status is not EventStatus.CANCELLED]
        target = live[n % len(live)] if live else None
        start = T0 + n * H
        if op == "invite":
            side.insert_invite(CAL, "i", start, start + H)
        elif op == "own":
            side.insert_own_event(CAL, "o", start, start + H)
        elif op == "series":
            side.insert_weekly_series(CAL, "s", start, H, count=1 + n % 3, organizer_email="x@y.z")
        elif op == "block":
            connector.create_block(CAL, spec(f"slot-{n % 5}", start))
        elif op == "sync":
            page = connector.sync(CAL, cursor)
            for event_id in page.removed_ids:
                cache.pop(event_id, None)
            cache.update({e.id: e for e in page.changed})
            cursor = page.next_cursor
        elif target is None:
            continue
        elif op == "move":
            side.move_event(CAL, target.id, start, start + 2 * H)
        elif op == "delete":
            side.delete_event(CAL, target.id)
        elif op == "cancel":
            side.cancel_event(CAL, target.id)
        elif op == "respond" and target.self_response is SelfResponse.NEEDS_ACTION:
            connector.respond(CAL, target.id, Response.DECLINE)
    page = connector.sync(CAL, cursor)
    for event_id in page.removed_ids:
        cache.pop(event_id, None)
    cache.update({e.id: e for e in page.changed})
    assert cache == {e.id: e for e in connector.sync(CAL, None).changed}

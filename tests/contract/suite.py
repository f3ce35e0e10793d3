"""The connector contract suite: every connector runs these tests unchanged.

Subclass `ConnectorContract` in a `test_<provider>.py` module and provide three fixtures:

- `connector`: the `CalendarConnector` under test;
- `calendar_id`: a writable calendar of that connector, empty at the start of each test;
- `provider_side`: a `ProviderSide` (`provider_side.py`) acting on the same account as "the
  rest of the world".

Tests needing a capability the connector lacks are skipped. Times are fixed in 2031 so that
nothing depends on the clock.
"""

from __future__ import annotations

import dataclasses
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from connectors.base import (
    BlockSpec,
    BlockTag,
    CalendarConnector,
    Capability,
    Event,
    Response,
    SelfResponse,
    Watch,
)
from connectors.errors import CursorExpired, NotAGrowthBlock, NotFound, PermissionDenied
from tests.contract.provider_side import ProviderSide, RecordedRsvp

__all__ = ["T0", "WEEK", "ConnectorContract", "H", "ProviderSide", "RecordedRsvp", "spec"]

T0 = datetime(2031, 3, 3, 9, 0, tzinfo=UTC)  # a Monday
H = timedelta(hours=1)
WEEK = timedelta(weeks=1)


def spec(slot: str, start: datetime, hours: float = 2, title: str = "Growth: lead") -> BlockSpec:
    return BlockSpec(
        tag=BlockTag(plan_id="plan-1", slot_key=slot),
        title=title,
        start=start,
        end=start + timedelta(hours=hours),
    )


def assert_utc(events: list[Event]) -> None:
    for event in events:
        assert event.start.tzinfo == UTC, event
        assert event.end.tzinfo == UTC, event


def require(connector: CalendarConnector, capability: Capability) -> None:
    """Skip the calling test unless the connector has `capability`."""
    if capability not in connector.capabilities:
        pytest.skip(f"{connector.provider} lacks {capability}")


def without(event: Event, *names: str) -> dict[str, object]:
    """`event`'s fields except `names`, to compare everything else."""
    return {
        f.name: getattr(event, f.name) for f in dataclasses.fields(event) if f.name not in names
    }


class ConnectorContract:
    """The tests every `CalendarConnector` must pass (fixtures: see the module docstring)."""

    def window(self, connector: CalendarConnector, calendar_id: str) -> list[Event]:
        events = connector.list_events(calendar_id, T0 - 8 * WEEK, T0 + 52 * WEEK)
        assert_utc(events)
        return events

    # --- calendars ---------------------------------------------------------------------------

    def test_list_calendars_includes_the_calendar(
        self, connector: CalendarConnector, calendar_id: str
    ) -> None:
        by_id = {c.id: c for c in connector.list_calendars()}
        assert calendar_id in by_id
        assert by_id[calendar_id].can_write

    # --- blocks --------------------------------------------------------------------------------

    def test_create_block_round_trip(self, connector: CalendarConnector, calendar_id: str) -> None:
        require(connector, Capability.WRITE)
        kolkata = T0.astimezone(ZoneInfo("Asia/Kolkata"))
        created = connector.create_block(calendar_id, spec("w10-1", kolkata))
        assert created.tag == BlockTag("plan-1", "w10-1")
        assert created.is_growth_block
        assert (created.start, created.end) == (T0, T0 + 2 * H)
        assert created.start.tzinfo == UTC
        assert created.title == "Growth: lead"
        assert created.busy
        assert created.calendar_id == calendar_id
        assert not created.all_day
        [listed] = self.window(connector, calendar_id)
        assert listed.id == created.id
        assert listed.tag == created.tag
        assert (listed.start, listed.end, listed.title) == (T0, T0 + 2 * H, "Growth: lead")

    def test_create_block_is_idempotent_by_slot_key(
        self, connector: CalendarConnector, calendar_id: str
    ) -> None:
        require(connector, Capability.WRITE)
        first = connector.create_block(calendar_id, spec("w10-1", T0))
        again = connector.create_block(calendar_id, spec("w10-1", T0))
        assert again.id == first.id
        other = connector.create_block(calendar_id, spec("w10-2", T0 + 24 * H))
        assert other.id != first.id
        assert sorted(e.id for e in self.window(connector, calendar_id)) == sorted(
            [first.id, other.id]
        )

    def test_create_blocks_answers_each_in_order(
        self, connector: CalendarConnector, calendar_id: str
    ) -> None:
        require(connector, Capability.WRITE)
        st_johns = ZoneInfo("America/St_Johns")
        specs = [
            spec(f"w10-{n}", (T0 + n * 24 * H).astimezone(st_johns), hours=1 + n / 2)
            for n in range(4)
        ]
        created = connector.create_blocks(calendar_id, specs)
        assert [type(c) for c in created] == [Event] * 4
        events = [c for c in created if isinstance(c, Event)]
        assert [e.tag for e in events] == [s.tag for s in specs]
        assert [(e.start, e.end) for e in events] == [(s.start, s.end) for s in specs]
        assert all(e.start.tzinfo == UTC and e.busy for e in events)
        listed = self.window(connector, calendar_id)
        assert sorted(e.id for e in listed) == sorted(e.id for e in events)
        assert connector.create_blocks(calendar_id, []) == []

    def test_create_blocks_adopts_existing_slot_keys(
        self, connector: CalendarConnector, calendar_id: str
    ) -> None:
        require(connector, Capability.WRITE)
        first = connector.create_block(calendar_id, spec("w10-1", T0))
        again = connector.create_blocks(
            calendar_id, [spec("w10-1", T0), spec("w10-2", T0 + 24 * H), spec("w10-1", T0)]
        )
        assert isinstance(again[0], Event) and again[0].id == first.id
        assert isinstance(again[1], Event) and again[1].id != first.id
        assert isinstance(again[2], Event) and again[2].id == first.id
        assert len(self.window(connector, calendar_id)) == 2
        twice = connector.create_blocks(
            calendar_id, [spec("w10-3", T0 + 48 * H), spec("w10-3", T0 + 48 * H)]
        )
        assert [type(e) for e in twice] == [Event, Event]
        assert isinstance(twice[0], Event) and isinstance(twice[1], Event)
        assert twice[0].id == twice[1].id
        assert len(self.window(connector, calendar_id)) == 3

    def test_find_block(
        self, connector: CalendarConnector, calendar_id: str, provider_side: ProviderSide
    ) -> None:
        require(connector, Capability.WRITE)
        provider_side.insert_own_event(calendar_id, "w10-1", T0, T0 + H)  # untagged decoy
        created = connector.create_block(calendar_id, spec("w10-1", T0 + 3 * H))
        found = connector.find_block(calendar_id, "w10-1")
        assert found is not None
        assert found.id == created.id
        assert found.tag == created.tag
        assert connector.find_block(calendar_id, "w10-9") is None

    def test_update_block_moves_it(self, connector: CalendarConnector, calendar_id: str) -> None:
        require(connector, Capability.WRITE)
        created = connector.create_block(calendar_id, spec("w10-1", T0))
        moved = connector.update_block(
            calendar_id, created.id, spec("w10-1", T0 + 26 * H, hours=1.5, title="Growth: v2")
        )
        assert moved.id == created.id
        assert (moved.start, moved.end) == (T0 + 26 * H, T0 + 27.5 * H)
        assert moved.title == "Growth: v2"
        assert moved.tag == created.tag
        [listed] = self.window(connector, calendar_id)
        assert (listed.id, listed.start, listed.end) == (created.id, moved.start, moved.end)

    def test_a_free_block_is_written_free_and_turns_busy(
        self, connector: CalendarConnector, calendar_id: str
    ) -> None:
        require(connector, Capability.WRITE)
        free = dataclasses.replace(spec("w10-1", T0), busy=False, focus_time=True)
        created = connector.create_block(calendar_id, free)
        assert created.busy is False
        found = connector.find_block(calendar_id, "w10-1")
        assert found is not None and found.busy is False
        [listed] = self.window(connector, calendar_id)
        assert listed.busy is False
        changed = connector.update_block(
            calendar_id, created.id, dataclasses.replace(free, busy=True)
        )
        assert changed.busy is True
        assert changed.id == created.id
        assert (changed.start, changed.end) == (created.start, created.end)
        [listed] = self.window(connector, calendar_id)
        assert listed.busy is True
        found = connector.find_block(calendar_id, "w10-1")
        assert found is not None and found.busy is True

    def test_blocks_are_busy_unless_asked_otherwise(
        self, connector: CalendarConnector, calendar_id: str
    ) -> None:
        require(connector, Capability.WRITE)
        created = connector.create_block(calendar_id, spec("w10-1", T0))
        assert created.busy is True
        [listed] = self.window(connector, calendar_id)
        assert listed.busy is True

    def test_delete_block_removes_it(self, connector: CalendarConnector, calendar_id: str) -> None:
        require(connector, Capability.WRITE)
        created = connector.create_block(calendar_id, spec("w10-1", T0))
        connector.delete_block(calendar_id, created.id)
        assert self.window(connector, calendar_id) == []
        assert connector.find_block(calendar_id, "w10-1") is None
        with pytest.raises(NotFound):
            connector.delete_block(calendar_id, created.id)

    def test_untagged_events_are_never_edited(
        self, connector: CalendarConnector, calendar_id: str, provider_side: ProviderSide
    ) -> None:
        require(connector, Capability.WRITE)
        own = provider_side.insert_own_event(calendar_id, "Dentist", T0, T0 + H)
        invite = provider_side.insert_invite(calendar_id, "Sync", T0 + 2 * H, T0 + 3 * H)
        before = self.window(connector, calendar_id)
        for event_id in (own, invite):
            with pytest.raises(NotAGrowthBlock):
                connector.update_block(calendar_id, event_id, spec("w10-1", T0 + 5 * H))
            with pytest.raises(NotAGrowthBlock):
                connector.delete_block(calendar_id, event_id)
        assert self.window(connector, calendar_id) == before

    def test_unknown_ids_raise_not_found(
        self, connector: CalendarConnector, calendar_id: str
    ) -> None:
        require(connector, Capability.WRITE)
        with pytest.raises(NotFound):
            connector.update_block(calendar_id, "no-such-event", spec("w10-1", T0))
        with pytest.raises(NotFound):
            connector.delete_block(calendar_id, "no-such-event")

    # --- reading -------------------------------------------------------------------------------

    def test_list_events_window_is_half_open_and_sorted(
        self, connector: CalendarConnector, calendar_id: str, provider_side: ProviderSide
    ) -> None:
        start, end = T0 + H, T0 + 3 * H
        late = provider_side.insert_own_event(calendar_id, "late", T0 + 2.5 * H, T0 + 5 * H)
        provider_side.insert_own_event(calendar_id, "ends at start", T0, start)
        provider_side.insert_own_event(calendar_id, "starts at end", end, end + H)
        early = provider_side.insert_invite(calendar_id, "overlaps start", T0 + 0.5 * H, T0 + 2 * H)
        around = provider_side.insert_own_event(calendar_id, "around", T0 + 0.75 * H, T0 + 4 * H)
        inside = provider_side.insert_own_event(calendar_id, "inside", T0 + 1.5 * H, T0 + 2 * H)
        gone = provider_side.insert_invite(calendar_id, "cancelled", T0 + 1.5 * H, T0 + 2 * H)
        provider_side.cancel_event(calendar_id, gone)
        events = connector.list_events(calendar_id, start, end)
        assert_utc(events)
        assert [e.id for e in events] == [early, around, inside, late]

    def test_recurring_series_is_expanded(
        self, connector: CalendarConnector, calendar_id: str, provider_side: ProviderSide
    ) -> None:
        series = provider_side.insert_weekly_series(calendar_id, "1:1", T0, H, count=3)
        events = self.window(connector, calendar_id)
        assert [e.start for e in events] == [T0, T0 + WEEK, T0 + 2 * WEEK]
        assert all(e.end - e.start == H for e in events)
        assert {e.series_id for e in events} == {series}
        assert len({e.id for e in events}) == 3
        [second] = connector.list_events(calendar_id, T0 + 6 * 24 * H, T0 + 8 * 24 * H)
        assert second.id == events[1].id

    def test_all_day_event_encoding(
        self, connector: CalendarConnector, calendar_id: str, provider_side: ProviderSide
    ) -> None:
        event_id = provider_side.insert_all_day(calendar_id, "Offsite", date(2031, 3, 4), days=2)
        [event] = connector.list_events(calendar_id, T0, T0 + WEEK)
        assert event.id == event_id
        assert event.all_day
        assert event.start == datetime(2031, 3, 4, tzinfo=UTC)
        assert event.end == datetime(2031, 3, 6, tzinfo=UTC)
        assert connector.list_events(calendar_id, event.end, event.end + H) == []

    def test_odd_time_zones_keep_utc_instants(
        self, connector: CalendarConnector, calendar_id: str, provider_side: ProviderSide
    ) -> None:
        kolkata, lord_howe = ZoneInfo("Asia/Kolkata"), ZoneInfo("Australia/Lord_Howe")
        first = provider_side.insert_invite(
            calendar_id,
            "Bangalore",
            datetime(2031, 3, 4, 9, 30, tzinfo=kolkata),
            datetime(2031, 3, 4, 10, 15, tzinfo=kolkata),
        )
        # spans Lord Howe's half-hour DST jump (02:00 -> 02:30 on 5 October 2031)
        second = provider_side.insert_invite(
            calendar_id,
            "Lord Howe",
            datetime(2031, 10, 5, 1, 0, tzinfo=lord_howe),
            datetime(2031, 10, 5, 4, 0, tzinfo=lord_howe),
        )
        events = {e.id: e for e in self.window(connector, calendar_id)}
        assert (events[first].start, events[first].end) == (
            datetime(2031, 3, 4, 4, 0, tzinfo=UTC),
            datetime(2031, 3, 4, 4, 45, tzinfo=UTC),
        )
        assert (events[second].start, events[second].end) == (
            datetime(2031, 10, 4, 14, 30, tzinfo=UTC),
            datetime(2031, 10, 4, 17, 0, tzinfo=UTC),
        )

    # --- sync ----------------------------------------------------------------------------------

    def test_incremental_sync_sees_only_changes(
        self, connector: CalendarConnector, calendar_id: str, provider_side: ProviderSide
    ) -> None:
        require(connector, Capability.INCREMENTAL_SYNC)
        kept = provider_side.insert_own_event(calendar_id, "kept", T0, T0 + H)
        moved = provider_side.insert_invite(calendar_id, "moved", T0 + 2 * H, T0 + 3 * H)
        deleted = provider_side.insert_own_event(calendar_id, "deleted", T0 + 4 * H, T0 + 5 * H)
        full = connector.sync(calendar_id, None)
        assert_utc(full.changed)
        assert {e.id for e in full.changed} == {kept, moved, deleted}
        assert full.removed_ids == []

        added = provider_side.insert_invite(calendar_id, "added", T0 + 6 * H, T0 + 7 * H)
        provider_side.move_event(calendar_id, moved, T0 + 24 * H, T0 + 25 * H)
        provider_side.delete_event(calendar_id, deleted)
        page = connector.sync(calendar_id, full.next_cursor)
        assert_utc(page.changed)
        changed = {e.id: e for e in page.changed}
        assert set(changed) == {added, moved}
        assert (changed[moved].start, changed[moved].end) == (T0 + 24 * H, T0 + 25 * H)
        assert page.removed_ids == [deleted]

        quiet = connector.sync(calendar_id, page.next_cursor)
        assert (quiet.changed, quiet.removed_ids) == ([], [])

    def test_sync_reports_cancellation_as_removal(
        self, connector: CalendarConnector, calendar_id: str, provider_side: ProviderSide
    ) -> None:
        require(connector, Capability.INCREMENTAL_SYNC)
        invite = provider_side.insert_invite(calendar_id, "Sync", T0, T0 + H)
        full = connector.sync(calendar_id, None)
        provider_side.cancel_event(calendar_id, invite)
        page = connector.sync(calendar_id, full.next_cursor)
        assert (page.changed, page.removed_ids) == ([], [invite])
        assert connector.sync(calendar_id, None).changed == []

    def test_expired_cursor_then_full_sync_recovers(
        self, connector: CalendarConnector, calendar_id: str, provider_side: ProviderSide
    ) -> None:
        require(connector, Capability.INCREMENTAL_SYNC)
        first = provider_side.insert_own_event(calendar_id, "one", T0, T0 + H)
        full = connector.sync(calendar_id, None)
        provider_side.expire_cursor(calendar_id)
        with pytest.raises(CursorExpired):
            connector.sync(calendar_id, full.next_cursor)
        second = provider_side.insert_own_event(calendar_id, "two", T0 + 2 * H, T0 + 3 * H)
        again = connector.sync(calendar_id, None)
        assert {e.id for e in again.changed} == {first, second}
        assert connector.sync(calendar_id, again.next_cursor).changed == []

    def test_full_sync_expands_series_and_keeps_tags(
        self, connector: CalendarConnector, calendar_id: str, provider_side: ProviderSide
    ) -> None:
        series = provider_side.insert_weekly_series(calendar_id, "1:1", T0, H, count=2)
        expected = {e.id for e in self.window(connector, calendar_id)}
        tag = None
        if Capability.WRITE in connector.capabilities:
            block = connector.create_block(calendar_id, spec("w10-1", T0 + 3 * H))
            expected.add(block.id)
            tag = block.tag
        page = connector.sync(calendar_id, None)
        assert_utc(page.changed)
        assert {e.id for e in page.changed} == expected
        assert {e.series_id for e in page.changed if not e.is_growth_block} == {series}
        assert {e.tag for e in page.changed if e.is_growth_block} == ({tag} if tag else set())

    # --- RSVPs ---------------------------------------------------------------------------------

    def test_decline_with_message_changes_only_own_response(
        self, connector: CalendarConnector, calendar_id: str, provider_side: ProviderSide
    ) -> None:
        require(connector, Capability.RESPOND)
        invite = provider_side.insert_invite(calendar_id, "Big sync", T0, T0 + H)
        [before] = self.window(connector, calendar_id)
        assert before.self_response is SelfResponse.NEEDS_ACTION
        assert not before.self_is_organizer
        declined = connector.respond(
            calendar_id, invite, Response.DECLINE, message="Protected growth time"
        )
        assert declined.self_response is SelfResponse.DECLINED
        [after] = self.window(connector, calendar_id)
        assert after.self_response is SelfResponse.DECLINED
        assert without(after, "self_response", "updated") == without(
            before, "self_response", "updated"
        )
        assert provider_side.responses(calendar_id, invite)[-1] == RecordedRsvp(
            Response.DECLINE, "Protected growth time"
        )

    def test_cannot_respond_to_own_events(
        self, connector: CalendarConnector, calendar_id: str, provider_side: ProviderSide
    ) -> None:
        require(connector, Capability.RESPOND)
        own = provider_side.insert_own_event(calendar_id, "Mine", T0, T0 + H)
        meeting = provider_side.insert_own_event(
            calendar_id, "My 1:1", T0, T0 + H, attendee_count=2
        )
        for event_id in (own, meeting):
            with pytest.raises(PermissionDenied):
                connector.respond(calendar_id, event_id, Response.DECLINE)
        if Capability.WRITE in connector.capabilities:
            block = connector.create_block(calendar_id, spec("w10-1", T0 + 2 * H))
            with pytest.raises(PermissionDenied):
                connector.respond(calendar_id, block.id, Response.TENTATIVE)
        with pytest.raises(NotFound):
            connector.respond(calendar_id, "no-such-event", Response.DECLINE)

    def test_respond_to_one_occurrence_of_a_series(
        self, connector: CalendarConnector, calendar_id: str, provider_side: ProviderSide
    ) -> None:
        require(connector, Capability.RESPOND)
        provider_side.insert_weekly_series(
            calendar_id, "Staff", T0, H, count=3, organizer_email="boss@example.com"
        )
        first, second, third = self.window(connector, calendar_id)
        connector.respond(calendar_id, second.id, Response.TENTATIVE)
        after = self.window(connector, calendar_id)
        assert [e.id for e in after] == [first.id, second.id, third.id]
        assert [e.self_response for e in after] == [
            SelfResponse.NEEDS_ACTION,
            SelfResponse.TENTATIVE,
            SelfResponse.NEEDS_ACTION,
        ]
        assert after[1].series_id == second.series_id

    # --- push ----------------------------------------------------------------------------------

    def test_watch_without_push_returns_none(
        self, connector: CalendarConnector, calendar_id: str
    ) -> None:
        if Capability.PUSH in connector.capabilities:
            pytest.skip("push connectors test watch() against their fake server")
        assert connector.watch(calendar_id, "https://example.invalid/hook", "s3cret") is None

    def test_renewing_an_unknown_channel_opens_no_new_one_silently(
        self, connector: CalendarConnector, calendar_id: str
    ) -> None:
        """renew_watch either cannot extend (None: the app opens a new channel) or says the
        channel is gone (NotFound); it never pretends to have extended a channel it lacks."""
        stale = Watch(
            id="no-such-channel",
            calendar_id=calendar_id,
            resource_id=None,
            expires_at=datetime(2027, 1, 1, tzinfo=UTC),
            secret="s3cret",
        )
        try:
            assert connector.renew_watch(stale) is None
        except NotFound:
            assert Capability.PUSH in connector.capabilities  # only a push provider knows

    def test_focus_time_refusals_start_empty(self, connector: CalendarConnector) -> None:
        assert connector.focus_time_unsupported == frozenset()

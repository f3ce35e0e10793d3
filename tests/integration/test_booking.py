"""Weekly booking against memory calendars, on every database backend."""

from __future__ import annotations

import time
from datetime import timedelta

import pytest
from sqlalchemy import select

from app import tasks
from app.db.models import (
    Account,
    AccountStatus,
    AuditEntry,
    Block,
    BlockState,
    BookingJob,
    Notification,
)
from app.db.session import transaction
from app.runtime import Runtime
from app.services.booking import reconcile
from connectors.base import Event, EventType, SelfResponse
from connectors.errors import RateLimited, ReauthRequired
from tests.support.booking import WEEK, berlin, count, meeting, provider_blocks, setup_plan
from tests.support.world import FakeClock, MemoryWorld


def rows(rt: Runtime, plan_id: int) -> list[Block]:
    with rt.sessions() as session:
        return list(
            session.scalars(select(Block).where(Block.plan_id == plan_id).order_by(Block.start))
        )


@pytest.fixture
def sunday_evening(clock: FakeClock) -> FakeClock:
    clock.now = berlin(10, 18)
    return clock


@pytest.mark.usefixtures("sunday_evening")
class TestWeeklyBooking:
    def test_books_the_default_plan_into_an_empty_week(self, runtime: Runtime, world: MemoryWorld):
        plan_id = setup_plan(runtime, world)
        report = tasks.book_plan(plan_id, str(WEEK))

        assert report is not None
        assert (report.booked_minutes, report.target_minutes) == (240, 240)
        events = provider_blocks(world)
        assert [(e.start, e.end) for e in events] == [
            (berlin(11, 9), berlin(11, 11)),
            (berlin(12, 9), berlin(12, 11)),
        ]
        assert all(e.title == "Growth: Lead a project" and e.busy for e in events)
        assert {e.tag.plan_id for e in events if e.tag} == {str(plan_id)}
        stored = rows(runtime, plan_id)
        assert [r.slot_key for r in stored] == [f"{plan_id}.2027-W02.0", f"{plan_id}.2027-W02.1"]
        assert [r.provider_event_id for r in stored] == [e.id for e in events]
        assert count(runtime, AuditEntry, action="create_block", outcome="ok") == 2

    def test_booking_twice_changes_nothing(self, runtime: Runtime, world: MemoryWorld):
        plan_id = setup_plan(runtime, world)
        tasks.book_plan(plan_id, str(WEEK))
        again = tasks.book_plan(plan_id, str(WEEK))

        assert again is not None and again.created == []
        assert len(again.kept) == 2
        assert len(provider_blocks(world)) == 2
        assert len(rows(runtime, plan_id)) == 2
        assert count(runtime, AuditEntry) == 2

    def test_crash_after_the_provider_write_then_rerun_gives_exactly_the_target(
        self, runtime: Runtime, world: MemoryWorld
    ):
        plan_id = setup_plan(runtime, world)
        # The first block reaches the calendar, then the process "dies" before recording it.
        world.store("me@corp.example").fail_next(
            "create_block", SystemExit("power cut"), after_effect=True
        )
        with pytest.raises(SystemExit):
            tasks.book_plan(plan_id, str(WEEK))
        assert len(provider_blocks(world)) == 1
        assert rows(runtime, plan_id) == []

        report = tasks.book_plan(plan_id, str(WEEK))

        assert report is not None and report.booked_minutes == 240
        assert report.adopted == [f"{plan_id}.2027-W02.0"]
        assert len(report.created) == 1
        assert len(provider_blocks(world)) == 2
        assert len(rows(runtime, plan_id)) == 2

    def test_crash_with_the_transaction_lost_is_recovered(
        self, runtime: Runtime, world: MemoryWorld
    ):
        plan_id = setup_plan(runtime, world)
        with runtime.sessions() as session:
            plan = session.get_one(reconcile.Plan, plan_id)
            reconcile.book_week(session, plan, WEEK, runtime.clock(), runtime.connectors)
            session.rollback()  # both blocks exist at the provider, no row survived
        assert len(provider_blocks(world)) == 2 and rows(runtime, plan_id) == []

        report = tasks.book_plan(plan_id, str(WEEK))

        assert report is not None and report.created == [] and len(report.adopted) == 2
        assert len(provider_blocks(world)) == 2
        assert [r.state for r in rows(runtime, plan_id)] == [BlockState.BOOKED] * 2

    def test_a_block_the_person_deleted_is_lost_and_not_recreated(
        self, runtime: Runtime, world: MemoryWorld, clock: FakeClock
    ):
        plan_id = setup_plan(runtime, world)
        tasks.book_plan(plan_id, str(WEEK))
        first = provider_blocks(world)[0]
        world.store("me@corp.example").remove_event("primary", first.id)
        clock.now += timedelta(minutes=5)

        report = tasks.book_plan(plan_id, str(WEEK))
        tasks.book_plan(plan_id, str(WEEK))

        assert report is not None and report.created == []
        assert report.lost == [f"{plan_id}.2027-W02.0"]
        assert len(provider_blocks(world)) == 1
        assert [r.state for r in rows(runtime, plan_id)] == [BlockState.LOST, BlockState.BOOKED]
        assert count(runtime, Notification, kind="block.lost") == 1

    def test_a_block_the_person_moved_is_followed(self, runtime: Runtime, world: MemoryWorld):
        plan_id = setup_plan(runtime, world)
        tasks.book_plan(plan_id, str(WEEK))
        store = world.store("me@corp.example")
        block = provider_blocks(world)[1]
        moved = Event(**{**_fields(block), "start": berlin(14, 13), "end": berlin(14, 15)})
        store.put_event(moved)

        report = tasks.book_plan(plan_id, str(WEEK))

        assert report is not None and report.created == []
        assert [(r.start, r.end) for r in rows(runtime, plan_id)][1] == (
            berlin(14, 13),
            berlin(14, 15),
        )
        assert len(provider_blocks(world)) == 2

    def test_busy_time_on_every_account_is_respected(self, runtime: Runtime, world: MemoryWorld):
        plan_id = setup_plan(runtime, world, accounts=("me@corp.example", "me@side.example"))
        meeting(world, "me@side.example", berlin(11, 8, 30), berlin(11, 9, 30))
        meeting(world, "me@corp.example", berlin(12, 8), berlin(12, 17))

        tasks.book_plan(plan_id, str(WEEK))

        # Monday: after the other account's meeting, its 10-minute buffer, on the quarter hour.
        # Tuesday is full.
        assert [(e.start, e.end) for e in provider_blocks(world)] == [
            (berlin(11, 9, 45), berlin(11, 11, 45)),
            (berlin(13, 9), berlin(13, 11)),
        ]
        assert provider_blocks(world, "me@side.example") == []

    def test_out_of_office_and_declined_events(self, runtime: Runtime, world: MemoryWorld):
        plan_id = setup_plan(runtime, world)
        meeting(
            world,
            "me@corp.example",
            berlin(11, 12),
            berlin(11, 13),
            event_type=EventType.OUT_OF_OFFICE,
        )
        meeting(
            world,
            "me@corp.example",
            berlin(12, 9),
            berlin(12, 11),
            self_response=SelfResponse.DECLINED,
        )

        tasks.book_plan(plan_id, str(WEEK))

        assert [e.start for e in provider_blocks(world)] == [berlin(12, 9), berlin(13, 9)]

    def test_target_missed_is_recorded_once(self, runtime: Runtime, world: MemoryWorld):
        plan_id = setup_plan(runtime, world)
        for day in range(11, 16):
            if day != 13:
                meeting(world, "me@corp.example", berlin(day, 7), berlin(day, 19))

        report = tasks.book_plan(plan_id, str(WEEK))
        tasks.book_plan(plan_id, str(WEEK))

        assert report is not None and report.booked_minutes == 120
        assert report.shortfall_reason and "120 of 240" in report.shortfall_reason
        assert count(runtime, Notification, kind="plan.target_missed") == 1

    def test_revoked_grant_marks_the_account_and_writes_nothing(
        self, runtime: Runtime, world: MemoryWorld
    ):
        plan_id = setup_plan(runtime, world)
        world.store("me@corp.example").fail_next("list_events", ReauthRequired("invalid_grant"))

        assert tasks.book_plan(plan_id, str(WEEK)) is None

        assert provider_blocks(world) == []
        with runtime.sessions() as session:
            account = session.scalars(select(Account)).one()
            assert account.status == AccountStatus.NEEDS_REAUTH
        assert count(runtime, Notification, kind="account.needs_reauth") == 1

    def test_a_rate_limit_is_one_attempt_and_the_run_retries_later(
        self, runtime: Runtime, world: MemoryWorld
    ):
        plan_id = setup_plan(runtime, world)
        store = world.store("me@corp.example")
        store.fail_next("list_events", RateLimited(retry_after=1))
        with pytest.raises(RateLimited):  # one attempt: no sleeping in the caller's thread
            tasks.book_plan(plan_id, str(WEEK))

        store.fail_next("list_events", RateLimited(retry_after=1))
        run_id = tasks.request_booking(plan_id, [str(WEEK)])
        assert run_id is not None

        def state() -> str:
            with runtime.sessions() as session:
                return str(session.get_one(BookingJob, run_id).state)

        deadline = time.monotonic() + 10
        seen = set()
        while (current := state()) != "done" and time.monotonic() < deadline:
            seen.add(current)
            time.sleep(0.02)
        assert current == "done" and "retrying" in seen
        with runtime.sessions() as session:
            run = session.get_one(BookingJob, run_id)
            assert run.attempts == 2 and len(run.detail["reports"][0]["created"]) == 2

    def test_horizon_books_this_week_remainder_and_two_more(
        self, runtime: Runtime, world: MemoryWorld, clock: FakeClock
    ):
        plan_id = setup_plan(runtime, world)
        clock.now = berlin(12, 12)  # Tuesday noon: Monday and Tuesday morning are past

        reports = tasks.book_plan_horizon(plan_id)

        assert [r.week for r in reports] == ["2027-W02", "2027-W03", "2027-W04"]
        starts = [e.start for e in provider_blocks(world)]
        assert starts[:2] == [berlin(13, 9), berlin(14, 9)]
        assert len(starts) == 6
        assert all(s > clock.now for s in starts)

    def test_a_paused_plan_books_nothing(self, runtime: Runtime, world: MemoryWorld):
        plan_id = setup_plan(runtime, world)
        with transaction(runtime.sessions) as session:
            session.get_one(reconcile.Plan, plan_id).active = False
        assert tasks.book_plan(plan_id, str(WEEK)) is None
        assert provider_blocks(world) == []


def test_preview_writes_nothing(runtime: Runtime, world: MemoryWorld, clock: FakeClock):
    clock.now = berlin(10, 18)
    plan_id = setup_plan(runtime, world)
    with runtime.sessions() as session:
        plan = session.get_one(reconcile.Plan, plan_id)
        preview = reconcile.preview_week(session, plan, WEEK, clock.now, runtime.connectors)
    assert [(i.start, i.end) for i in preview.new] == [
        (berlin(11, 9), berlin(11, 11)),
        (berlin(12, 9), berlin(12, 11)),
    ]
    assert provider_blocks(world) == []
    assert rows(runtime, plan_id) == []


def _fields(event: Event) -> dict[str, object]:
    return {name: getattr(event, name) for name in event.__dataclass_fields__}


def test_slot_keys_round_trip():
    assert reconcile.parse_slot_key(reconcile.slot_key(7, WEEK, 3)) == (7, WEEK, 3)


def test_without_a_target_calendar_nothing_is_written_and_no_alert(
    runtime: Runtime, world: MemoryWorld, clock: FakeClock
):
    clock.now = berlin(10, 18)
    plan_id = setup_plan(runtime, world, accounts=())
    report = tasks.book_plan(plan_id, str(WEEK))
    assert report is not None and report.created == [] and report.booked_minutes == 0
    assert report.shortfall_reason and "target" in report.shortfall_reason
    assert count(runtime, Notification) == 0

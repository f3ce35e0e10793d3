"""Quiet during blocks against the fake Slack server, spoken to by the real slack_sdk client:
the status and snooze set at a block's start and put back at its end, a missed end (the
process was down) put back at the next start, a status the person set meanwhile left alone,
and Slack's failures on the link and in the person's notifications."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest
from sqlalchemy import Engine, select

from app import tasks
from app.db.models import Block, BlockState, Notification, User
from app.db.quiet_models import QuietState, SlackStatus
from app.db.session import transaction
from app.jobs import Job
from app.runtime import Runtime
from app.scheduler import JobScheduler
from app.services.quiet import link as quiet_link
from app.services.quiet import periods as quiet_periods
from app.services.quiet.slack import ChatApi
from tests.fakes.slack_server import FakeSlackServer
from tests.support.booking import WEEK, berlin, setup_plan
from tests.support.quiet import RecordingDispatcher, link_slack, periods, quiet_runtime, the_link
from tests.support.world import FakeClock, MemoryWorld

BEFORE = ("In a meeting", ":calendar:")


@pytest.fixture
def slack(clock: FakeClock) -> Iterator[FakeSlackServer]:
    with FakeSlackServer(clock=lambda: clock.now) as fake:
        yield fake


@pytest.fixture
def quiet(
    db_url: str, engine: Engine, clock: FakeClock, world: MemoryWorld, slack: FakeSlackServer
) -> Iterator[tuple[Runtime, RecordingDispatcher]]:
    with quiet_runtime(db_url, engine, clock, world, slack) as pair:
        yield pair


def booked(rt: Runtime, world: MemoryWorld, clock: FakeClock, **spec: object) -> int:
    """A Berlin person with two blocks (Mon and Tue 09:00-11:00 Berlin), linked to Slack U1."""
    clock.now = berlin(10, 18)
    plan_id = setup_plan(rt, world, **spec)
    assert tasks.book_plan(plan_id, str(WEEK)) is not None
    with rt.sessions() as session:
        return session.scalars(select(User.id)).one()


@pytest.fixture
def person(
    quiet: tuple[Runtime, RecordingDispatcher],
    world: MemoryWorld,
    clock: FakeClock,
    slack: FakeSlackServer,
) -> int:
    rt, _ = quiet
    user_id = booked(rt, world, clock)
    slack.add_user("U1", status=BEFORE)
    link_slack(rt, user_id, slack.issue_token("U1"))
    return user_id


def status(slack: FakeSlackServer) -> tuple[str, str]:
    user = slack.user("U1")
    return user.status_text, user.status_emoji


def notes(rt: Runtime, kind: str) -> list[Notification]:
    with rt.sessions() as session:
        return list(session.scalars(select(Notification).where(Notification.kind == kind)))


class TestAroundABlock:
    def test_status_and_snooze_are_set_at_the_start_and_put_back_at_the_end(
        self, quiet, person, slack: FakeSlackServer, clock: FakeClock
    ) -> None:
        clock.now = berlin(11, 9, 1) + timedelta(seconds=30)
        assert tasks.quiet_sweep() == 1

        fake = slack.user("U1")
        assert status(slack) == ("Growth work until 11:00", ":seedling:")
        assert fake.status_expiration == int(berlin(11, 11).timestamp())
        # 118.5 minutes left, rounded up: the snooze outlasts the block by 30 s at most.
        assert fake.snooze_endtime == int((berlin(11, 11) + timedelta(seconds=30)).timestamp())
        assert [p.state for p in periods(quiet[0])] == [QuietState.ON]
        assert (periods(quiet[0])[0].previous_text, periods(quiet[0])[0].previous_emoji) == BEFORE

        clock.now = berlin(11, 11)
        tasks.quiet_sweep()

        assert status(slack) == BEFORE
        assert slack.user("U1").snooze_endtime == 0
        assert [c.method for c in slack.writes()] == [
            "users.profile.set",
            "dnd.setSnooze",
            "users.profile.set",
            "dnd.endSnooze",
        ]
        assert [(p.state, p.outcome) for p in periods(quiet[0])] == [(QuietState.DONE, "restored")]

    def test_running_the_sweep_twice_sets_nothing_twice(
        self, quiet, person, slack: FakeSlackServer, clock: FakeClock
    ) -> None:
        clock.now = berlin(11, 9)
        tasks.quiet_sweep()
        writes = len(slack.writes())
        assert tasks.quiet_sweep() == 0
        tasks.quiet_user(person)
        clock.now = berlin(11, 10)
        tasks.quiet_sweep()

        assert len(slack.writes()) == writes == 2
        clock.now = berlin(11, 11, 5)
        tasks.quiet_sweep()
        tasks.quiet_sweep()
        assert len(slack.writes("users.profile.set")) == 2
        assert len(periods(quiet[0])) == 1

    def test_a_missed_end_is_put_back_at_the_next_start(
        self, quiet, person, slack: FakeSlackServer, clock: FakeClock
    ) -> None:
        clock.now = berlin(11, 9)
        tasks.quiet_sweep()
        # The process is down from 10:00 Monday to 09:00 Tuesday: Slack clears our status at
        # its expiration, but the status from before is only known to GrowthGuard.
        clock.now = berlin(11, 11, 30)
        assert status(slack) == ("", "")

        clock.now = berlin(12, 9)
        tasks.quiet_sweep()

        first, second = periods(quiet[0])
        assert (first.state, first.outcome) == (QuietState.DONE, "restored")
        assert first.ended_at == berlin(12, 9)
        # Tuesday's period remembers the real status, not an empty one or ours.
        assert (second.previous_text, second.previous_emoji) == BEFORE
        assert status(slack) == ("Growth work until 11:00", ":seedling:")
        sets = [c.params["profile"]["status_text"] for c in slack.writes("users.profile.set")]
        assert sets == ["Growth work until 11:00", BEFORE[0], "Growth work until 11:00"]

        clock.now = berlin(12, 11)
        tasks.quiet_sweep()
        assert status(slack) == BEFORE

    def test_a_missed_end_without_a_next_block_is_put_back_by_the_next_sweep(
        self, quiet, person, slack: FakeSlackServer, clock: FakeClock
    ) -> None:
        clock.now = berlin(11, 9)
        tasks.quiet_sweep()
        clock.now = berlin(11, 15)  # down from 10:30 to 15:00

        assert tasks.quiet_sweep() == 1
        assert status(slack) == BEFORE
        assert periods(quiet[0])[0].state == QuietState.DONE

    def test_a_status_the_person_set_during_the_block_is_left_alone(
        self, quiet, person, slack: FakeSlackServer, clock: FakeClock
    ) -> None:
        clock.now = berlin(11, 9)
        tasks.quiet_sweep()
        clock.now = berlin(11, 10)
        fake = slack.user("U1")
        fake.status_text, fake.status_emoji, fake.status_expiration = "Lunch", ":hamburger:", 0

        clock.now = berlin(11, 11)
        tasks.quiet_sweep()

        assert status(slack) == ("Lunch", ":hamburger:")
        assert periods(quiet[0])[0].outcome == "kept_theirs"
        assert len(slack.writes("users.profile.set")) == 1

    def test_a_block_deleted_meanwhile_ends_quiet_at_once(
        self, quiet, person, slack: FakeSlackServer, clock: FakeClock
    ) -> None:
        rt, _ = quiet
        clock.now = berlin(11, 9)
        tasks.quiet_sweep()
        with transaction(rt.sessions) as session:
            block = session.scalars(select(Block).order_by(Block.start)).first()
            assert block is not None
            block.state = BlockState.LOST
        clock.now = berlin(11, 9, 30)

        tasks.quiet_sweep()

        assert status(slack) == BEFORE
        assert slack.user("U1").snooze_endtime == 0
        assert len(slack.writes("dnd.endSnooze")) == 1

    def test_a_block_moved_later_is_quiet_again_when_it_starts(
        self, quiet, person, slack: FakeSlackServer, clock: FakeClock
    ) -> None:
        rt, _ = quiet
        clock.now = berlin(11, 9)
        tasks.quiet_sweep()
        with transaction(rt.sessions) as session:
            block = session.scalars(select(Block).order_by(Block.start)).first()
            assert block is not None
            block.start, block.end = berlin(11, 14), berlin(11, 16)  # the person moved it
        clock.now = berlin(11, 9, 10)

        tasks.quiet_sweep()
        assert status(slack) == BEFORE

        clock.now = berlin(11, 14)
        tasks.quiet_sweep()
        assert status(slack) == ("Growth work until 16:00", ":seedling:")
        clock.now = berlin(11, 16)
        tasks.quiet_sweep()
        assert status(slack) == BEFORE
        assert [p.outcome for p in periods(rt)] == ["restored", "restored"]

    def test_quiet_mode_off_starts_nothing_and_ends_a_running_period(
        self, quiet, person, slack: FakeSlackServer, clock: FakeClock
    ) -> None:
        rt, _ = quiet
        clock.now = berlin(11, 9)
        tasks.quiet_sweep()
        with transaction(rt.sessions) as session:
            user = session.get(User, person)
            assert user is not None
            quiet_link.set_quiet(session, user, False)
        tasks.quiet_sweep()
        assert status(slack) == BEFORE

        clock.now = berlin(12, 9)
        assert tasks.quiet_sweep() == 0
        assert status(slack) == BEFORE
        assert len(periods(rt)) == 1


class TestSlackFailures:
    def test_invalid_auth_asks_the_person_to_reconnect(
        self, quiet, person, slack: FakeSlackServer, clock: FakeClock
    ) -> None:
        rt, dispatcher = quiet
        slack.revoke_all("U1")
        clock.now = berlin(11, 9)

        tasks.quiet_sweep()

        link = the_link(rt, person)
        assert link.status == SlackStatus.NEEDS_REAUTH
        assert "token_revoked" in link.status_detail
        [note] = notes(rt, "slack.needs_reauth")
        assert note.payload["url"] == "/dashboard/quiet"
        assert dispatcher.submitted == []  # nothing to retry: only reconnecting helps
        assert status(slack) == BEFORE
        # Later sweeps leave the person alone until they reconnect (and say it once).
        clock.now = berlin(11, 9, 5)
        assert tasks.quiet_sweep() == 0
        assert len(notes(rt, "slack.needs_reauth")) == 1

    def test_ratelimited_is_retried_after_slacks_retry_after(
        self, quiet, person, slack: FakeSlackServer, clock: FakeClock
    ) -> None:
        rt, dispatcher = quiet
        slack.faults.fail_next(path="/api/users.profile.set", status=429, retry_after=42)
        clock.now = berlin(11, 9)

        tasks.quiet_sweep()

        [(key, job, delay)] = dispatcher.submitted
        assert (key, delay) == (f"quiet:{person}", 42.0)
        assert job == Job("app.tasks:quiet_user", (person,))
        link = the_link(rt, person)
        assert link.retry_at == berlin(11, 9) + timedelta(seconds=42)
        assert link.status == SlackStatus.OK and link.failures == 1
        # The period remembers the status from before; ours is not set yet.
        assert periods(rt)[0].state == QuietState.STARTING
        assert status(slack) == BEFORE
        # The sweep does not jump the queue.
        assert tasks.quiet_sweep() == 0

        clock.now = berlin(11, 9) + timedelta(seconds=42)
        job()

        assert status(slack) == ("Growth work until 11:00", ":seedling:")
        assert periods(rt)[0].state == QuietState.ON
        assert (periods(rt)[0].previous_text, periods(rt)[0].previous_emoji) == BEFORE
        link = the_link(rt, person)
        assert (link.failures, link.retry_at, link.status_detail) == (0, None, "")

        clock.now = berlin(11, 11)
        tasks.quiet_sweep()
        assert status(slack) == BEFORE

    def test_server_errors_back_off_then_show_on_the_link_and_recover(
        self, quiet, person, slack: FakeSlackServer, clock: FakeClock
    ) -> None:
        rt, dispatcher = quiet
        slack.faults.fail_next(None, path="/api/users.profile.get", status=503)
        clock.now = berlin(11, 9)

        for _ in range(8):
            tasks.quiet_user(person)
            link = the_link(rt, person)
            if link.failures:  # backing off: the retry's turn
                assert link.retry_at is not None
                clock.now = link.retry_at

        delays = [delay for _, _, delay in dispatcher.submitted]
        assert len(delays) == 7  # the eighth attempt gives up
        assert all(0 < d <= 3600 for d in delays)
        link = the_link(rt, person)
        assert link.status == SlackStatus.ERROR
        assert "503" in link.status_detail
        assert len(notes(rt, "slack.failed")) == 1
        # Given up: the sweep waits a quarter of an hour before a new round.
        assert link.retry_at == clock.now + timedelta(minutes=15)
        assert tasks.quiet_sweep() == 0

        slack.faults.clear()
        clock.now = link.retry_at
        assert tasks.quiet_sweep() == 1
        link = the_link(rt, person)
        assert (link.status, link.status_detail) == (SlackStatus.OK, "")
        assert status(slack) == ("Growth work until 11:00", ":seedling:")


class TestHostileInput:
    def test_block_titles_never_reach_slack(
        self,
        quiet,
        world: MemoryWorld,
        clock: FakeClock,
        slack: FakeSlackServer,
    ) -> None:
        rt, _ = quiet
        goal = "Acquire Initech quietly <script>alert(1)</script> " + "x" * 100
        user_id = booked(rt, world, clock, goal=goal[:200])
        slack.add_user("U1", status=BEFORE)
        link_slack(rt, user_id, slack.issue_token("U1"))
        clock.now = berlin(11, 9)

        tasks.quiet_sweep()

        sent = repr([c.params for c in slack.state.calls])
        assert "Initech" not in sent and "script" not in sent
        assert status(slack) == ("Growth work until 11:00", ":seedling:")

    def test_the_time_is_the_persons_wall_clock(
        self, quiet, person, slack: FakeSlackServer, clock: FakeClock
    ) -> None:
        rt, _ = quiet
        with transaction(rt.sessions) as session:
            user = session.get(User, person)
            assert user is not None
            user.timezone = "America/St_Johns"  # UTC-3:30 in January
        clock.now = berlin(11, 9)

        tasks.quiet_sweep()

        assert status(slack)[0] == "Growth work until 06:30"


def test_due_users_is_empty_without_links(quiet, world: MemoryWorld, clock: FakeClock) -> None:
    rt, _ = quiet
    booked(rt, world, clock)
    clock.now = berlin(11, 9)
    with rt.sessions() as session:
        assert quiet_periods.due_users(session, clock.now) == []


def test_the_sweep_is_scheduled_every_minute_and_queued_when_scaled(
    quiet: tuple[Runtime, RecordingDispatcher], engine: Engine
) -> None:
    scheduler = JobScheduler(engine)
    scheduler.start(paused=True)
    try:
        scheduler.schedule_maintenance(poll_seconds=300, push_enabled=False)
        job = scheduler._scheduler.get_job("quiet-sweep")
        assert job is not None and job.trigger.interval.total_seconds() == 60
        assert job.func_ref == "app.tasks:quiet_sweep"
        scheduler.schedule_maintenance(poll_seconds=300, push_enabled=False, via_queue=True)
        queued = scheduler._scheduler.get_job("quiet-sweep")
        assert queued.func_ref == "app.tasks:queued" and queued.args == ("app.tasks:quiet_sweep",)
    finally:
        scheduler.shutdown()
    _, dispatcher = quiet
    assert tasks.queued("app.tasks:quiet_sweep")
    [(key, job_, _)] = dispatcher.submitted
    assert key == "job:app.tasks:quiet_sweep" and job_ == Job("app.tasks:quiet_sweep")


def test_a_token_no_key_can_decrypt_asks_to_reconnect(
    quiet: tuple[Runtime, RecordingDispatcher], person: int, clock: FakeClock
) -> None:
    rt, _ = quiet
    with transaction(rt.sessions) as session:
        link = quiet_link.link_of(session, person)
        assert link is not None
        link.credentials = b"gAAAAAB-written-with-a-retired-key"
    clock.now = berlin(11, 9)

    tasks.quiet_sweep()

    assert the_link(rt, person).status == SlackStatus.NEEDS_REAUTH
    with transaction(rt.sessions) as session:
        user = session.get(User, person)
        assert user is not None
        quiet_link.disconnect(session, rt.cipher, no_slack_calls, user, clock.now)
    with rt.sessions() as session:
        assert quiet_link.link_of(session, person) is None


def no_slack_calls(token: str) -> ChatApi:
    raise AssertionError("nothing can be sent to Slack without a token")

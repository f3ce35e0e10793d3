"""Sync health through the JSON API (issue 17 item 3): each field, "sync now" and "re-read
everything" queued through the dispatcher (never run in the request), errors in words, and
the dry run of the next booking, which writes nothing anywhere."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, func, select

from app import runtime as runtime_module
from app.db.models import (
    Account,
    AccountStatus,
    Block,
    BlockState,
    Calendar,
    CalendarEvent,
    Notification,
    User,
)
from app.db.session import transaction
from app.dispatch import Task
from app.jobs import Job
from app.main import create_app
from app.runtime import Runtime, build_runtime
from app.services.accounts.rows import add_account
from app.services.sync import health as sync_health
from connectors.errors import PermissionDenied, ReauthRequired, TransientError
from tests.support.dashboard import csrf, sign_up
from tests.support.policy import ME, berlin, invite, plan_with, signed_in_client
from tests.support.settings import make_settings
from tests.support.world import FakeClock, MemoryWorld


@dataclass
class RecordingDispatcher:
    """Keeps the syncs submitted; the test runs them when it chooses (so nothing runs in the
    request, and what runs is exactly what was queued). Anything else (booking) runs at once."""

    submitted: list[tuple[str, Task, float]] = field(default_factory=list)

    def submit(self, key: str, task: Task, *, delay: float = 0.0) -> bool:
        if key.startswith("sync:"):
            self.submitted.append((key, task, delay))
        else:
            task()
        return True

    def alive(self) -> bool:
        return True

    def problem(self) -> str | None:
        return None

    def restart(self) -> None:
        return None

    def shutdown(self) -> None:
        return None

    def take(self, prefix: str) -> list[tuple[str, Job]]:
        """The queued jobs whose key starts with `prefix`, removed from the queue."""
        taken = [(k, t) for k, t, _ in self.submitted if k.startswith(prefix)]
        self.submitted = [s for s in self.submitted if not s[0].startswith(prefix)]
        return [(k, t) for k, t in taken if isinstance(t, Job)]


@pytest.fixture
def dispatcher() -> RecordingDispatcher:
    return RecordingDispatcher()


@pytest.fixture
def runtime(
    db_url: str,
    engine: Engine,
    clock: FakeClock,
    world: MemoryWorld,
    dispatcher: RecordingDispatcher,
) -> Iterator[Runtime]:
    rt = build_runtime(
        make_settings(db_url),
        connectors=world.provider(),
        clock=clock,
        engine=engine,
        dispatcher=dispatcher,  # type: ignore[arg-type]
    )
    runtime_module.install(rt)
    yield rt
    runtime_module.install(None)


@pytest.fixture
def client(runtime: Runtime, world: MemoryWorld, clock: FakeClock) -> Iterator[TestClient]:
    with signed_in_client(runtime, world, clock) as test_client:
        yield test_client


def calendar_id(runtime: Runtime) -> int:
    with runtime.sessions() as session:
        return int(session.scalars(select(Calendar.id)).one())


def run_queued_syncs(dispatcher: RecordingDispatcher) -> list[str]:
    """Run the syncs the dispatcher holds (not retries), as a worker would; their keys."""
    keys = []
    for key, job in dispatcher.take("sync:"):
        if key.endswith(":retry"):
            continue
        keys.append(key)
        with contextlib.suppress(PermissionDenied):  # a worker logs it; the sentence stays
            job()
    return keys


def health(client: TestClient, cal: int) -> dict:
    reply = client.get(f"/calendars/{cal}/health")
    assert reply.status_code == 200, reply.text
    return dict(reply.json())


def test_every_field_of_a_healthy_polled_calendar(
    client: TestClient, runtime: Runtime, world: MemoryWorld, clock: FakeClock, dispatcher
):
    invite(world, "Stand-up", berlin(11, 9), berlin(11, 10))
    invite(world, "Review", berlin(12, 14), berlin(12, 15))
    invite(world, "Next week", berlin(18, 9), berlin(18, 10))  # not this week
    cal = calendar_id(runtime)
    assert health(client, cal)["last_synced_at"] is None
    assert client.post(f"/calendars/{cal}/sync").status_code == 202
    clock.now = berlin(11, 8)  # Monday: the week of the first two invites
    run_queued_syncs(dispatcher)

    found = health(client, cal)
    assert datetime.fromisoformat(found["last_synced_at"]) == clock.now
    assert found["last_error"] is None and found["last_error_at"] is None
    assert found["push_active"] is False and found["push_expires_at"] is None
    assert found["poll_seconds"] == runtime.settings.poll_interval_seconds
    assert found["sync_state"] == "Polling every 5 min."
    assert found["events_this_week"] == 2
    assert found["is_busy_source"] is True and found["is_target"] is True
    assert found["access_mode"] == "full" and found["account_status"] == "ok"
    assert found["can_sync"] is True
    assert client.get("/sync-health").json() == [found]


def test_a_failing_sync_says_why_in_words_and_sync_now_recovers(
    client: TestClient, runtime: Runtime, world: MemoryWorld, clock: FakeClock, dispatcher
):
    cal = calendar_id(runtime)
    world.store(ME).fail_next("sync", TransientError("HTTP 503 backendError from upstream"))
    reply = client.post(f"/calendars/{cal}/sync")
    assert reply.status_code == 202
    assert reply.json() == {"calendar_id": cal, "full": False, "queued": True}
    # Nothing ran in the request: the sync waits in the dispatcher.
    assert [k for k, _, _ in dispatcher.submitted] == [f"sync:{cal}:0:0"]
    assert health(client, cal)["last_error"] is None
    run_queued_syncs(dispatcher)

    failed = health(client, cal)
    assert failed["last_error"] == (
        "The calendar provider did not answer (it may be down or unreachable); "
        "GrowthGuard will try again by itself."
    )
    assert "503" not in failed["last_error"]  # the provider's words stay in the logs
    assert datetime.fromisoformat(failed["last_error_at"]) == clock.now
    assert failed["last_synced_at"] is None
    assert any(k.endswith(":retry") for k, _, _ in dispatcher.submitted)  # retried later

    clock.now += timedelta(minutes=3)
    assert client.post(f"/calendars/{cal}/sync").status_code == 202
    run_queued_syncs(dispatcher)
    recovered = health(client, cal)
    assert recovered["last_error"] is None and recovered["last_error_at"] is None
    assert datetime.fromisoformat(recovered["last_synced_at"]) == clock.now


def test_a_refusal_and_a_lost_grant_are_said_plainly(
    client: TestClient, runtime: Runtime, world: MemoryWorld, dispatcher
):
    cal = calendar_id(runtime)
    world.store(ME).fail_next("sync", PermissionDenied("403 insufficientPermissions"))
    client.post(f"/calendars/{cal}/sync")
    run_queued_syncs(dispatcher)
    assert "refused access to this calendar" in health(client, cal)["last_error"]

    world.store(ME).fail_next("sync", ReauthRequired("invalid_grant"))
    client.post(f"/calendars/{cal}/sync")
    run_queued_syncs(dispatcher)
    found = health(client, cal)
    assert found["last_error"].startswith("GrowthGuard lost access to this account")
    assert found["account_status"] == "needs_reauth"
    assert found["sync_state"] == "Paused until the account is reconnected."
    assert found["can_sync"] is False
    refused = client.post(f"/calendars/{cal}/sync")
    assert refused.status_code == 422
    assert refused.json()["detail"][0]["loc"][-1] == "calendar_id"
    assert dispatcher.take("sync:") == []  # nothing queued for a calendar that cannot sync


def test_reread_everything_drops_the_sync_token_and_the_stale_cache(
    client: TestClient, runtime: Runtime, world: MemoryWorld, clock: FakeClock, dispatcher
):
    cal = calendar_id(runtime)
    clock.now = berlin(11, 8)  # Monday of the week counted below
    invite(world, "Kept", berlin(11, 9), berlin(11, 10))
    client.post(f"/calendars/{cal}/sync")
    run_queued_syncs(dispatcher)
    # A cached event the provider never had (a lost deletion): only a full read drops it.
    with runtime.sessions() as session, session.begin():
        session.add(
            CalendarEvent(
                calendar_id=cal,
                provider_event_id="ghost",
                title="Ghost",
                start=berlin(12, 9),
                end=berlin(12, 10),
                status="confirmed",
                event_type="default",
                synced_at=clock.now,
            )
        )
    client.post(f"/calendars/{cal}/sync")
    assert run_queued_syncs(dispatcher) == [f"sync:{cal}:0:0"]
    assert health(client, cal)["events_this_week"] == 2  # the incremental sync kept it

    reply = client.post(f"/calendars/{cal}/sync", params={"full": "true"})
    assert reply.status_code == 202 and reply.json()["full"] is True
    assert run_queued_syncs(dispatcher) == [f"sync:{cal}:0:1"]
    assert health(client, cal)["events_this_week"] == 1
    with runtime.sessions() as session:
        titles = session.scalars(select(CalendarEvent.title)).all()
    assert titles == ["Kept"]


def test_someone_elses_calendar_is_not_found(client: TestClient, runtime: Runtime, dispatcher):
    missing = calendar_id(runtime) + 1000
    assert client.get(f"/calendars/{missing}/health").status_code == 404
    assert client.post(f"/calendars/{missing}/sync").status_code == 404
    assert dispatcher.submitted == []


def _at(text: str) -> datetime:
    return datetime.fromisoformat(text)


def _counts(runtime: Runtime, world: MemoryWorld) -> tuple[int, int, list[str], int]:
    with runtime.sessions() as session:
        blocks = session.scalar(select(func.count()).select_from(Block))
        notes = session.scalar(select(func.count()).select_from(Notification))
        states = list(session.scalars(select(Block.state).order_by(Block.id)))
    return int(blocks or 0), int(notes or 0), states, len(world.store(ME).events("primary"))


def test_the_dry_run_says_what_the_next_booking_creates_keeps_and_loses_and_writes_nothing(
    client: TestClient, runtime: Runtime, world: MemoryWorld, clock: FakeClock
):
    plan_id = plan_with(client, {"default": "flag"})  # books 2027-W02 (Sunday evening)
    store = world.store(ME)
    ours = sorted((e for e in store.events("primary") if e.tag), key=lambda e: e.start)
    assert len(ours) == 2
    store.remove_event("primary", ours[0].id)  # the person deletes a block
    clock.now = berlin(10, 18, 5)  # the weekly run just passed: the next is a week away
    before = _counts(runtime, world)

    reply = client.get("/sync-health/next-booking")
    assert reply.status_code == 200, reply.text
    [run] = reply.json()
    assert run["id"] == plan_id and run["blocked"] is None
    assert run["target"] == ME and run["book_only"] is False
    assert datetime.fromisoformat(run["runs_at"]) == berlin(17, 18)
    weeks = {w["week"]: w for w in run["weeks"]}
    assert list(weeks) == ["2027-W02", "2027-W03", "2027-W04"]  # the run's week + horizon
    this = weeks["2027-W02"]
    assert [_at(i["start"]) for i in this["lose"]] == [ours[0].start]
    assert [_at(i["start"]) for i in this["keep"]] == [ours[1].start]
    assert this["create"] == []  # a removed block is not re-booked that week
    assert "not re-book them this week" in this["why"]
    later = weeks["2027-W03"]
    assert sum(i["minutes"] for i in later["create"]) == later["target_minutes"] == 240
    assert later["keep"] == [] and later["lose"] == []
    assert "reach the weekly target" in later["why"]

    # Nothing was written: no block rows, no notification, no state change, no provider event.
    assert _counts(runtime, world) == before
    with runtime.sessions() as session:
        assert all(s == BlockState.BOOKED for s in session.scalars(select(Block.state)))


def test_the_dry_run_says_why_it_would_not_run(
    client: TestClient, runtime: Runtime, world: MemoryWorld
):
    plan_with(client, {"default": "flag"})
    world.store(ME).fail_next("list_events", TransientError("timeout"))
    [run] = client.get("/sync-health/next-booking").json()
    assert run["weeks"] == []
    assert run["blocked"].startswith("The calendar provider did not answer")
    with runtime.sessions() as session:
        account = session.scalars(select(Account)).one()
        assert account.status == AccountStatus.OK


def test_a_live_push_channel_and_a_calendar_that_is_not_watched(
    client: TestClient, runtime: Runtime, clock: FakeClock, db_url: str
):
    """With push on (an https public URL), a calendar with a live channel says until when;
    one that does not count as busy is not synced at all. (The service, with push settings:
    signing up through an https app would need real mail.)"""
    settings = make_settings(db_url, public_url="https://gg.example")
    assert settings.push_enabled
    cal = calendar_id(runtime)
    expires = clock.now + timedelta(days=6)
    with runtime.sessions() as session, session.begin():
        row = session.get_one(Calendar, cal)
        row.watch_id, row.watch_expires_at = "channel-1", expires

    def found() -> sync_health.CalendarHealth:
        with runtime.sessions() as session:
            user = session.scalars(select(User)).one()
            return sync_health.health_of_calendar(session, user, cal, settings, clock.now)

    live = found()
    assert live.push_active is True and live.push_expires_at == expires
    assert live.poll_seconds == 24 * 3600  # the daily safety net only
    assert live.sync_state.startswith("The provider pushes changes")

    clock.now = expires + timedelta(minutes=1)  # the channel lapsed: polled again
    lapsed = found()
    assert lapsed.push_active is False and lapsed.push_expires_at is None
    assert lapsed.poll_seconds == settings.poll_interval_seconds

    reply = client.patch(f"/calendars/{cal}", json={"is_busy_source": False})
    assert reply.status_code == 200, reply.text
    quiet = found()
    assert quiet.poll_seconds is None and quiet.is_busy_source is False
    assert quiet.sync_state.startswith("Not watched")
    assert quiet.can_sync is True  # on request it still can


def test_the_page_queues_syncs_and_says_why_it_cannot(
    runtime: Runtime, world: MemoryWorld, clock: FakeClock, dispatcher
):
    """The dashboard page: its buttons queue an incremental or a full sync; a calendar whose
    account must be reconnected is refused on the page (422), with nothing queued."""
    with TestClient(create_app(runtime, scheduler=False), follow_redirects=False) as browser:
        sign_up(browser)
        with transaction(runtime.sessions) as session:
            user = session.scalars(select(User)).one()
            add_account(session, user, "memory", ME, world.store(ME).calendars())
        cal = calendar_id(runtime)
        page = browser.get("/dashboard/sync-health")
        assert page.status_code == 200 and "<h1>Sync health</h1>" in page.text
        token = csrf(page.text)
        assert f'aria-label="Sync {ME} now"' in page.text

        now = browser.post(f"/dashboard/calendars/{cal}/sync", data={"csrf_token": token})
        assert now.status_code == 303
        assert now.headers["location"] == "/dashboard/sync-health"
        assert "Sync requested" in browser.get("/dashboard/sync-health").text
        full = browser.post(
            f"/dashboard/calendars/{cal}/sync", data={"csrf_token": token, "full": "yes"}
        )
        assert full.status_code == 303
        assert [k for k, _ in dispatcher.take("sync:")] == [f"sync:{cal}:0:0", f"sync:{cal}:0:1"]

        with transaction(runtime.sessions) as session:
            session.scalars(select(Account)).one().status = AccountStatus.NEEDS_REAUTH
        refused = browser.post(f"/dashboard/calendars/{cal}/sync", data={"csrf_token": token})
        assert refused.status_code == 422
        assert "the account needs to be reconnected first" in refused.text
        assert "Reconnect the account" in refused.text  # no sync buttons for it
        assert dispatcher.take("sync:") == []

        dry = browser.get("/dashboard/sync-health", params={"dry_run": "1"})
        assert "No active plan: nothing would be booked." in dry.text

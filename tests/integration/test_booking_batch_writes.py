"""Booking writes a week's new blocks to a calendar together (`create_blocks`): one batch
request at Google; a block the provider refused is audited and retried, the others are kept."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator

import pytest
from sqlalchemy import select
from sqlalchemy.engine import Engine

from app import runtime as runtime_module
from app import tasks
from app.db.models import Account, AuditEntry, Block
from app.db.session import transaction
from app.domain.plan import PlanSpec
from app.runtime import Runtime, build_runtime
from app.services.accounts.failures import account_of
from app.services.accounts.rows import add_account
from app.services.people.users import create_user
from app.services.planning.plans import create_plan
from connectors.base import CalendarConnector, CalendarInfo
from connectors.errors import RateLimited, TransientError
from connectors.google import GoogleConfig, GoogleConnector
from tests.fakes.google_server import FakeGoogle
from tests.support.booking import WEEK, berlin, count, provider_blocks, setup_plan
from tests.support.settings import make_settings
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
def test_a_refused_block_keeps_the_others_and_the_retry_books_it(
    runtime: Runtime, world: MemoryWorld
) -> None:
    plan_id = setup_plan(runtime, world)
    world.store("me@corp.example").fail_next("create_block", TransientError("provider hiccup"))
    with pytest.raises(TransientError) as refused:
        tasks.book_plan(plan_id, str(WEEK))
    with runtime.sessions() as session:  # the refusal names its account, as a lone call's does
        assert account_of(refused.value) == session.scalars(select(Account.id)).one()
    # the second block exists and is recorded; the first was refused and audited so
    assert [(b.start, b.end) for b in provider_blocks(world)] == [(berlin(12, 9), berlin(12, 11))]
    assert [(r.start, r.ordinal) for r in rows(runtime, plan_id)] == [(berlin(12, 9), 1)]
    assert count(runtime, AuditEntry, action="create_block", outcome="error") == 1
    assert count(runtime, AuditEntry, action="create_block", outcome="ok") == 1

    report = tasks.book_plan(plan_id, str(WEEK))  # the retry books only what is missing
    assert report is not None and report.booked_minutes == 240
    assert len(report.created) == 1 and len(report.kept) == 1
    assert [(b.start, b.end) for b in provider_blocks(world)] == [
        (berlin(11, 9), berlin(11, 11)),
        (berlin(12, 9), berlin(12, 11)),
    ]
    assert len(rows(runtime, plan_id)) == 2


@pytest.fixture(scope="module")
def google() -> Iterator[FakeGoogle]:
    with FakeGoogle() as fake:
        yield fake


@pytest.fixture
def google_runtime(
    db_url: str, engine: Engine, sunday_evening: FakeClock, google: FakeGoogle
) -> Iterator[Runtime]:
    def provide(account: Account) -> CalendarConnector:
        blob = json.dumps(google.mint_credentials(account.external_id)).encode()
        config = GoogleConfig(**google.endpoints(), timeout=5)
        return GoogleConnector(config, blob, lambda _: None)

    rt = build_runtime(
        make_settings(db_url), connectors=provide, clock=sunday_evening, engine=engine
    )
    runtime_module.install(rt)
    yield rt
    rt.dispatcher.shutdown()
    runtime_module.install(None)


def test_booking_at_google_writes_the_week_in_one_batch_and_retries_a_refused_part(
    google_runtime: Runtime, google: FakeGoogle
) -> None:
    email = google.add_account(f"batch-{uuid.uuid4().hex[:8]}@corp.example")
    with transaction(google_runtime.sessions) as session:
        user, _ = create_user(session, email, "Europe/Berlin")
        add_account(
            session, user, "google", email, [CalendarInfo(id=email, name="Me", primary=True)]
        )
        spec = PlanSpec.model_validate({"goal": "Lead", "focus_time": False})  # no probe
        plan_id = create_plan(session, user, spec).id
    start = len(google.requests)
    google.faults.fail_next(
        1, status=429, path=f"/calendars/{email}/events", retry_after=30, method="POST"
    )
    with pytest.raises(RateLimited) as refused:
        tasks.book_plan(plan_id, str(WEEK))
    assert refused.value.retry_after == 30
    sent = google.requests[start:]
    assert [r.path for r in sent if r.method == "POST" and not r.batched] == ["/batch/calendar/v3"]
    assert len([r for r in sent if r.batched]) == 2
    assert len([e for e in google.events(email) if e.get("status") != "cancelled"]) == 1
    assert len(rows(google_runtime, plan_id)) == 1

    report = tasks.book_plan(plan_id, str(WEEK))
    assert report is not None and report.booked_minutes == 240
    assert len(google.events(email)) == 2
    assert len(rows(google_runtime, plan_id)) == 2

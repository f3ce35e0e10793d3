"""Retention: old push receipts and long-past cached events are deleted, nothing else."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from app import tasks
from app.db.models import Calendar, CalendarEvent, WebhookReceipt
from app.db.session import transaction
from app.runtime import Runtime
from app.services.accounts.rows import add_account
from app.services.people.users import create_user
from app.services.sync import retention
from connectors.base import CalendarInfo
from tests.support.world import FakeClock


def seed(rt: Runtime, clock: FakeClock) -> None:
    now = clock()
    with transaction(rt.sessions) as session:
        user, _ = create_user(session, "me@corp.example", "UTC")
        info = CalendarInfo(id="primary", name="Me", primary=True)
        account = add_account(session, user, "memory", "me@corp.example", [info])
        calendar = session.scalars(select(Calendar).where(Calendar.account_id == account.id)).one()
        for days, name in ((500, "ancient"), (401, "old"), (399, "last-year"), (-3, "coming")):
            start = now - timedelta(days=days)
            session.add(
                CalendarEvent(
                    calendar_id=calendar.id,
                    provider_event_id=name,
                    title=name,
                    start=start,
                    end=start + timedelta(hours=1),
                    status="confirmed",
                    event_type="default",
                )
            )
        for days, key in ((30, "a"), (8, "b"), (6, "c"), (0, "d")):
            session.add(
                WebhookReceipt(
                    provider="google",
                    channel_id="chan",
                    message_key=key,
                    received_at=now - timedelta(days=days),
                )
            )


def left(rt: Runtime) -> tuple[list[str], list[str]]:
    with rt.sessions() as session:
        events = sorted(session.scalars(select(CalendarEvent.provider_event_id)))
        receipts = sorted(session.scalars(select(WebhookReceipt.message_key)))
        return events, receipts


def test_prune_deletes_only_what_is_past_its_time(runtime: Runtime, clock: FakeClock) -> None:
    seed(runtime, clock)
    with transaction(runtime.sessions) as session:
        first = retention.prune(session, clock(), batch=1)
    assert first == retention.Pruned(receipts=1, events=1)
    assert tasks.prune_old_rows() == 2
    assert left(runtime) == (["coming", "last-year"], ["c", "d"])
    assert tasks.prune_old_rows() == 0

"""Retention: rows kept only for a while are deleted in batches by a daily job.

Push receipts (only notifications without a message number and lifecycle events still write
one) matter for minutes; cached events of past weeks are read by the reports, which cover up
to a year, so they are kept a little longer than that.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from app.db.models import CalendarEvent, WebhookReceipt

RECEIPT_DAYS = 7
EVENT_DAYS = 400  # the report's year to date and yearly projection, plus the baseline weeks
BATCH = 5000  # rows per statement, so no delete holds the database for long


@dataclass(frozen=True)
class Pruned:
    """How many rows a retention pass deleted."""

    receipts: int
    events: int


def _delete_ids(
    session: Session, model: type[WebhookReceipt] | type[CalendarEvent], ids: list[int]
) -> int:
    if not ids:
        return 0
    session.execute(delete(model).where(model.id.in_(ids)))
    return len(ids)


def prune(
    session: Session,
    now: datetime,
    *,
    receipt_days: int = RECEIPT_DAYS,
    event_days: int = EVENT_DAYS,
    batch: int = BATCH,
) -> Pruned:
    """Delete receipts older than ``receipt_days`` and cached events that ended more than
    ``event_days`` ago, ``batch`` rows per statement (the caller commits between passes)."""
    receipts = _delete_ids(
        session,
        WebhookReceipt,
        list(
            session.scalars(
                select(WebhookReceipt.id)
                .where(WebhookReceipt.received_at < now - timedelta(days=receipt_days))
                .limit(batch)
            )
        ),
    )
    events = _delete_ids(
        session,
        CalendarEvent,
        list(
            session.scalars(
                select(CalendarEvent.id)
                .where(CalendarEvent.end < now - timedelta(days=event_days))
                .limit(batch)
            )
        ),
    )
    return Pruned(receipts=receipts, events=events)

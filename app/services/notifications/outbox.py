"""The notifications outbox (delivery channels come with the boundary-policy work)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from app.db.models import Notification

# The kinds DESIGN §8 names (plus calendar.gone and booking.failed); anything else is a bug.
NOTIFICATION_KINDS = frozenset(
    {
        "conflict.decided",
        "block.moved",
        "block.lost",
        "plan.target_missed",
        "account.needs_reauth",
        "calendar.gone",
        "booking.failed",
        "report.weekly",
        "review.quarterly",
        "growth.log",  # a block ended: what did you do? (app/services/growth/log.py)
        "slack.needs_reauth",  # quiet mode lost its Slack token (app/services/quiet/)
        "slack.failed",  # quiet mode could not reach Slack after its retries
    }
)


def record(
    session: Session,
    user_id: int,
    kind: str,
    payload: dict[str, Any],
    dedupe_key: str | None = None,
) -> Notification | None:
    """Queue a notification; with a dedupe key, a second call is a no-op and returns None."""
    if kind not in NOTIFICATION_KINDS:
        raise ValueError(f"unknown notification kind {kind!r}")
    if dedupe_key is not None:
        existing = session.scalars(
            select(Notification).where(Notification.dedupe_key == dedupe_key)
        ).first()
        if existing is not None:
            return None
    note = Notification(user_id=user_id, kind=kind, payload=payload, dedupe_key=dedupe_key)
    try:
        # A savepoint, so losing a race on the dedupe key never aborts the caller's work.
        with session.begin_nested():
            session.add(note)
    except IntegrityError:
        return None
    return note


def list_for_user(session: Session, user_id: int, limit: int = 100) -> list[Notification]:
    """Newest first: the in-app list."""
    return list(
        session.scalars(
            select(Notification)
            .where(Notification.user_id == user_id)
            .order_by(Notification.id.desc())
            .limit(limit)
        )
    )

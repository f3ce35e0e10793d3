"""What the person is told about their conflicts: a decision was made, a block moved."""

from __future__ import annotations

from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from app.db.models import Conflict, Decision
from app.domain.intervals import Interval
from app.services.notifications import outbox


def conflict_decided(
    session: Session, user_id: int, conflict: Conflict, decision: Decision, keep_url: str
) -> None:
    """One notification per conflict (deduplicated), with its one-click links."""
    outbox.record(
        session,
        user_id,
        "conflict.decided",
        {
            "conflict_id": conflict.id,
            "action": decision.action,
            "rule": decision.rule,
            "outcome": decision.outcome,
            "title": conflict.event.get("title"),
            "start": conflict.event.get("start"),
            "message": decision.explanation,
            "keep_url": keep_url,
            **(
                {"decline_url": decision.detail["decline_url"]}
                if "decline_url" in decision.detail
                else {}
            ),
        },
        dedupe_key=f"conflict.decided:{conflict.id}",
    )


def block_moved(
    session: Session, user_id: int, plan_id: int, target: Interval, zone: ZoneInfo
) -> None:
    """The growth block moved to `target` (shown in the plan's zone)."""
    outbox.record(
        session,
        user_id,
        "block.moved",
        {
            "plan_id": plan_id,
            "start": target.start.isoformat(),
            "end": target.end.isoformat(),
            "message": "Your growth block moved to "
            f"{target.start.astimezone(zone):%a %d %b %H:%M}.",
        },
    )

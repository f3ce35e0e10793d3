"""The audit log: one row per write GrowthGuard makes to a calendar."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from app.db.models import AuditEntry, Calendar


def record_write(
    session: Session,
    *,
    user_id: int,
    calendar: Calendar,
    action: str,
    outcome: str,
    provider_event_id: str | None = None,
    slot_key: str | None = None,
    detail: dict[str, Any] | None = None,
) -> AuditEntry:
    """Add an audit row in the caller's transaction."""
    entry = AuditEntry(
        user_id=user_id,
        account_id=calendar.account_id,
        calendar_id=calendar.id,
        action=action,
        outcome=outcome,
        provider_event_id=provider_event_id,
        slot_key=slot_key,
        detail=detail or {},
    )
    session.add(entry)
    return entry

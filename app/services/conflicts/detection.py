"""Conflict detection: what a sync changed, checked against the person's growth blocks."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from app.db.models import (
    Account,
    Block,
    BlockState,
    Calendar,
    Conflict,
    ConflictState,
    Decision,
    Plan,
    User,
)
from app.domain import defense
from app.services.notifications import outbox
from app.services.sync.events import SyncResult
from connectors.base import Event, EventStatus, SelfResponse


def is_conflict_candidate(event: Event) -> bool:
    """Busy, not ours, not cancelled, and the person is an invited attendee (not organizer)."""
    return (
        event.busy
        and event.tag is None
        and event.status is not EventStatus.CANCELLED
        and not event.self_is_organizer
        and event.self_response is not None
        and event.self_response is not SelfResponse.DECLINED
    )


def snapshot(event: Event, calendar: Calendar) -> dict[str, Any]:
    """The invite as it was when detected (JSON for the conflicts table)."""
    return {
        "title": event.title,
        "start": event.start.isoformat(),
        "end": event.end.isoformat(),
        "organizer_email": event.organizer_email,
        "self_is_organizer": event.self_is_organizer,
        "self_response": event.self_response.value if event.self_response else None,
        "attendee_count": event.attendee_count,
        "recurring": event.series_id is not None,
        "calendar": calendar.name,
        "calendar_id": calendar.provider_calendar_id,
    }


def detect(session: Session, calendar: Calendar, result: SyncResult, now: datetime) -> list[int]:
    """Record conflicts for changed invites that overlap a future growth block.

    Returns the ids of conflicts that are new (each conflict is decided once). Also follows
    the person's own edits to blocks: moved blocks are followed, deleted ones are lost.
    """
    account = session.get_one(Account, calendar.account_id)
    blocks = _live_blocks(session, account.user_id, now)
    new: list[int] = []
    removed = list(result.removed_ids)
    for event in result.changed:
        if event.tag is not None and event.status is EventStatus.CANCELLED:
            removed.append(event.id)
            continue
        if event.tag is not None:
            _follow_block(blocks, event)
            continue
        if not is_conflict_candidate(event) or event.end <= now:
            continue
        for block in blocks:
            if block.start < event.end and event.start < block.end:
                conflict_id = _record(session, account.user_id, block, calendar, event)
                if conflict_id is not None:
                    new.append(conflict_id)
    _lose_removed(session, blocks, removed, now)
    session.flush()
    return new


def _live_blocks(session: Session, user_id: int, now: datetime) -> list[Block]:
    return list(
        session.scalars(
            select(Block)
            .join(Plan, Plan.id == Block.plan_id)
            .where(Plan.user_id == user_id, Block.state == BlockState.BOOKED, Block.end > now)
            .order_by(Block.start)
        )
    )


def _record(
    session: Session, user_id: int, block: Block, calendar: Calendar, event: Event
) -> int | None:
    existing = session.scalars(
        select(Conflict).where(
            Conflict.block_id == block.id,
            Conflict.calendar_id == calendar.id,
            Conflict.provider_event_id == event.id,
        )
    ).first()
    if existing is not None:
        return None  # decided (or being decided) already: re-syncs never act twice
    conflict = Conflict(
        user_id=user_id,
        block_id=block.id,
        calendar_id=calendar.id,
        provider_event_id=event.id,
        event=snapshot(event, calendar),
        state=ConflictState.OPEN,
        # while a flexible block is still free, the policy only flags (app/domain/decide.py)
        block_level=defense.conflict_level(block.level, block.busy),
    )
    try:
        with session.begin_nested():
            session.add(conflict)
    except IntegrityError:
        return None  # a concurrent sync recorded it first
    return conflict.id


def _follow_block(blocks: list[Block], event: Event) -> None:
    slot = event.tag.slot_key if event.tag else ""
    block = next((b for b in blocks if b.slot_key == slot), None)
    if block is None or (block.start, block.end) == (event.start, event.end):
        return
    block.start, block.end = event.start, event.end  # the person moved it: follow them


def _lose_removed(session: Session, blocks: list[Block], removed: list[str], now: datetime) -> None:
    gone = set(removed)
    for block in blocks:
        if block.provider_event_id in gone and block.end > now:
            block.state = BlockState.LOST
            plan = session.get_one(Plan, block.plan_id)
            outbox.record(
                session,
                plan.user_id,
                "block.lost",
                {
                    "plan_id": plan.id,
                    "week": block.week,
                    "start": block.start.isoformat(),
                    "end": block.end.isoformat(),
                    "message": "A growth block was removed from your calendar; "
                    "it will not be re-booked this week.",
                },
                dedupe_key=f"block.lost:{block.slot_key}",
            )


def open_ids(
    session: Session, calendar_id: int | None, detected_before: datetime | None = None
) -> list[int]:
    """Conflicts still waiting for a decision (of one calendar, or all)."""
    query = select(Conflict.id).where(Conflict.state == ConflictState.OPEN)
    if calendar_id is not None:
        query = query.where(Conflict.calendar_id == calendar_id)
    if detected_before is not None:
        query = query.where(Conflict.detected_at < detected_before)
    return list(session.scalars(query.order_by(Conflict.id)))


def with_decisions(session: Session, user: User) -> list[tuple[Conflict, Decision | None]]:
    """The user's conflicts, newest first, each with its decision (None while undecided)."""
    rows = session.execute(
        select(Conflict, Decision)
        .outerjoin(Decision, Decision.conflict_id == Conflict.id)
        .where(Conflict.user_id == user.id)
        .order_by(Conflict.id.desc())
    ).all()
    return [(conflict, decision) for conflict, decision in rows]

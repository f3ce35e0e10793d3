"""The week view's contents: growth blocks, meetings and conflicts of one week, by day."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.db.models import Account, Block, Calendar, CalendarEvent, Plan, User
from app.domain import defense
from app.domain.plan import PlanSpec
from app.domain.time import IsoWeek
from app.services.conflicts import detection as conflict_service
from app.services.growth import counting as growth_counting


def _blocks_as_shown(
    session: Session, user: User, start: datetime, end: datetime
) -> list[tuple[Block, str, CalendarEvent | None, datetime | None]]:
    """Blocks overlapping [start, end) with their goal and, once a sync read it back, the
    calendar's copy (which is what the person sees, even if moved or renamed there)."""
    in_calendar = {
        e.tag_slot_key: e
        for e in session.scalars(
            select(CalendarEvent)
            .join(Calendar, Calendar.id == CalendarEvent.calendar_id)
            .join(Account, Account.id == Calendar.account_id)
            .where(Account.user_id == user.id, CalendarEvent.tag_slot_key.is_not(None))
        )
    }
    rows = session.execute(
        select(Block, Plan.goal, Plan.spec)
        .join(Plan, Plan.id == Block.plan_id)
        .where(Plan.user_id == user.id, Block.start < end, Block.end > start)
    ).all()
    return [
        (block, goal, in_calendar.get(block.slot_key), _turns_busy_at(block, spec))
        for block, goal, spec in rows
    ]


def _turns_busy_at(block: Block, document: dict[str, Any]) -> datetime | None:
    """When a flexible block still shown free turns busy by time (None otherwise)."""
    if block.level != defense.FLEXIBLE or block.busy:
        return None
    return defense.threshold(PlanSpec.model_validate(document), block.start)


def _busy_events(
    session: Session, user: User, start: datetime, end: datetime
) -> list[CalendarEvent]:
    """Busy events that are not ours, on calendars that count as busy, overlapping the range."""
    return list(
        session.scalars(
            select(CalendarEvent)
            .join(Calendar, Calendar.id == CalendarEvent.calendar_id)
            .join(Account, Account.id == Calendar.account_id)
            .where(
                Account.user_id == user.id,
                Calendar.is_busy_source.is_(True),
                CalendarEvent.start < end,
                CalendarEvent.end > start,
                CalendarEvent.tag_slot_key.is_(None),
                CalendarEvent.busy.is_(True),
            )
        ).all()
    )


def week_days(
    session: Session, user: User, week: IsoWeek, zone: ZoneInfo
) -> dict[date, list[dict[str, Any]]]:
    """Each day of the week with its items (kind "block", "meeting" or "conflict"), in start
    order, times in `zone`."""
    start, end = week.start(zone), week.end(zone)
    days: dict[date, list[dict[str, Any]]] = {d: [] for d in week.days()}

    def put(kind: str, begin: datetime, finish: datetime, **extra: Any) -> None:
        local = begin.astimezone(zone)
        if local.date() in days:
            days[local.date()].append(
                {"kind": kind, "start": local, "end": finish.astimezone(zone), **extra}
            )

    for block, goal, seen, turns_busy_at in _blocks_as_shown(session, user, start, end):
        begin, finish = (seen.start, seen.end) if seen is not None else (block.start, block.end)
        put(
            "block",
            begin,
            finish,
            title=seen.title if seen is not None else f"Growth: {goal}",
            state=block.state,
            read_back=seen is not None,
            block=block,  # its id (pin form), defense level, transparency and pin
            turns_busy_at=turns_busy_at.astimezone(zone) if turns_busy_at else None,
        )
    # Oldest first, so a newer conflict on the same event wins.
    conflicts = reversed(conflict_service.with_decisions(session, user))
    conflict_events = {c.provider_event_id: (c, d) for c, d in conflicts}
    growth = growth_counting.decider(session, user)  # growth hook: marks per event
    for e in _busy_events(session, user, start, end):
        pair = conflict_events.get(e.provider_event_id)
        if pair is None:
            put("meeting", e.start, e.end, title=e.title, event=e, growth=growth.row(e))
        else:
            put("conflict", e.start, e.end, title=e.title, conflict=pair[0], decision=pair[1])
    for items in days.values():
        items.sort(key=lambda item: item["start"])
    return days

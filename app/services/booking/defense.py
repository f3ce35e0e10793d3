"""Defense levels at the provider: flexible blocks turn busy at their threshold, once.

`harden` writes the switch (one `update_block` per block, then the row says busy, so a second
run finds nothing to do); booking calls it with the week's free time (the squeeze threshold),
the `harden-flexible-blocks` sweep (`harden_due`) calls it by time alone so a block turns busy
on time even when no booking runs.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from datetime import datetime

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from app.db.models import Account, Block, BlockState, Calendar, CalendarEvent, Plan, User
from app.domain import defense
from app.domain.intervals import Interval
from app.domain.time import IsoWeek
from app.services import audit
from app.services.accounts.live import ConnectorFor
from app.services.growth import titles as growth_titles
from app.services.planning.plans import plan_spec, plan_working_hours, plan_zone
from app.services.sync import channel_cache
from connectors.base import BlockSpec, BlockTag, EventStatus, EventType, SelfResponse
from connectors.errors import ConnectorError

log = logging.getLogger(__name__)


def view(block: Block) -> defense.BlockDefense:
    """The domain's view of a block row."""
    return defense.BlockDefense(block.slot_key, block.start, block.end, block.level, block.busy)


def harden(
    session: Session,
    plan: Plan,
    blocks: Sequence[Block],
    now: datetime,
    connectors: ConnectorFor,
    *,
    free_minutes: float | None = None,
    titles: growth_titles.Titles | None = None,
    checkpoint: Callable[[], None] | None = None,
) -> list[str]:
    """Turn the plan's flexible blocks that are due busy; answers the slot keys switched.

    A provider failure leaves the block free for the next run (booking or sweep) and is
    audited; it never stops booking.
    """
    spec = plan_spec(plan)
    live = [b for b in blocks if b.state == BlockState.BOOKED and b.provider_event_id]
    due = set(defense.blocks_to_harden(spec, [view(b) for b in live], now, free_minutes))
    switched: list[str] = []
    for block in live:
        if block.slot_key not in due:
            continue
        calendar = session.get_one(Calendar, block.calendar_id)
        account = session.get_one(Account, calendar.account_id)
        title, description = growth_titles.label_for(session, plan, spec, block.start, titles)
        label = titles.labels.get(block.slot_key) if titles is not None else None
        block_spec = BlockSpec(
            tag=BlockTag(plan_id=str(plan.id), slot_key=block.slot_key),
            title=label.title if label is not None else title,
            start=block.start,
            end=block.end,
            description=description,
            busy=True,
        )
        try:
            channel_cache.expect_echo(calendar.id)
            connectors(account).update_block(
                calendar.provider_calendar_id, str(block.provider_event_id), block_spec
            )
        except ConnectorError as error:
            log.info("turning %s busy failed: %s", block.slot_key, type(error).__name__)
            audit.record_write(
                session,
                user_id=plan.user_id,
                calendar=calendar,
                action="show_busy",
                outcome="error",
                provider_event_id=block.provider_event_id,
                slot_key=block.slot_key,
                detail={"error": type(error).__name__},
            )
            continue
        block.busy = True
        audit.record_write(
            session,
            user_id=plan.user_id,
            calendar=calendar,
            action="show_busy",
            outcome="ok",
            provider_event_id=block.provider_event_id,
            slot_key=block.slot_key,
            detail={"start": block.start.isoformat()},
        )
        switched.append(block.slot_key)
        (checkpoint or session.flush)()
    return switched


def harden_due(
    session: Session,
    now: datetime,
    connectors: ConnectorFor,
    checkpoint: Callable[[], None] | None = None,
) -> list[str]:
    """The sweep: every free flexible block whose threshold has come turns busy (by time,
    or squeezed by the week's busy time as the sync cache knows it)."""
    rows = session.scalars(
        select(Block)
        .where(
            # paused plans too: their blocks are still in the calendar, promised free until
            Block.state == BlockState.BOOKED,
            Block.level == defense.FLEXIBLE,
            Block.busy.is_(False),
            Block.end > now,
        )
        .order_by(Block.plan_id, Block.start)
    ).all()
    by_week: dict[tuple[int, str], list[Block]] = {}
    for row in rows:
        by_week.setdefault((row.plan_id, row.week), []).append(row)
    switched: list[str] = []
    for (plan_id, week), blocks in by_week.items():
        plan = session.get_one(Plan, plan_id)
        free = cached_free_minutes(session, plan, IsoWeek.parse(week), now)
        switched += harden(
            session, plan, blocks, now, connectors, free_minutes=free, checkpoint=checkpoint
        )
    return switched


def cached_free_minutes(session: Session, plan: Plan, week: IsoWeek, now: datetime) -> float:
    """The week's free window time left, from the sync cache (no provider call): what the
    sweep's squeeze uses between bookings, as fresh as the last sync (push or poll)."""
    user = session.get_one(User, plan.user_id)
    spec = plan_spec(plan)
    zone = plan_zone(spec, user)
    start, end = week.start(zone), week.end(zone)
    rows = session.execute(
        select(CalendarEvent.start, CalendarEvent.end)
        .join(Calendar, Calendar.id == CalendarEvent.calendar_id)
        .join(Account, Account.id == Calendar.account_id)
        .where(
            Account.user_id == user.id,
            Calendar.is_busy_source.is_(True),
            Calendar.gone_at.is_(None),
            CalendarEvent.busy.is_(True),
            CalendarEvent.all_day.is_(False),
            CalendarEvent.status != EventStatus.CANCELLED.value,
            or_(
                CalendarEvent.self_response.is_(None),
                CalendarEvent.self_response != SelfResponse.DECLINED.value,
            ),
            CalendarEvent.event_type != EventType.WORKING_LOCATION.value,
            CalendarEvent.end > start,
            CalendarEvent.start < end,
        )
    ).all()
    taken = [Interval(row.start, row.end) for row in rows if row.end > row.start]
    return defense.free_minutes_left(spec, week, zone, plan_working_hours(spec, user), taken, now)

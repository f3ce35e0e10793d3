"""Pinning: the person keeps a block at a time they chose, or chooses a week's slots.

A pinned block is one booking keeps where it is (like a block the person moved in their
calendar) and the policy never moves (`move_block` becomes a flag). Choosing a week's slots
pins exactly those and marks the week chosen (`ChosenWeek`): booking adds nothing there.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from itertools import pairwise

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.db.models import Account, Block, BlockState, Calendar, ChosenWeek, Plan, User
from app.domain import defense
from app.domain.intervals import Interval
from app.domain.time import IsoWeek
from app.services import audit
from app.services.accounts.live import ConnectorFor
from app.services.accounts.rows import target_calendar
from app.services.booking.reconcile import Wanted, create_blocks, slot_key
from app.services.errors import ConflictError, InvalidInputError, NotFoundError
from app.services.growth import titles as growth_titles
from app.services.planning import plans
from app.services.sync import channel_cache
from connectors.base import BlockSpec, BlockTag

__all__ = ["MAX_SLOTS", "SlotIn", "choose_week", "pin_block"]

MIN_MINUTES, MAX_MINUTES = 15, 12 * 60
MAX_SLOTS = 30


@dataclass(frozen=True)
class SlotIn:
    """One time the person chose (aware datetimes)."""

    start: datetime
    end: datetime


def _check_slots(
    slots: list[SlotIn], week: IsoWeek, zone_week: Interval, now: datetime, field: str
) -> list[Interval]:
    """Each slot sane, inside the week, in the future, none overlapping: else 4xx naming it."""
    problems: list[tuple[str, str]] = []
    if len(slots) > MAX_SLOTS:
        raise InvalidInputError([(field, f"at most {MAX_SLOTS} slots a week")])
    intervals: list[Interval] = []
    for n, slot in enumerate(slots):
        # "slots[2].start" for a week's slots, plain "start" / "end" for one pin
        prefix = f"{field}[{n}]." if field == "slots" else ""
        minutes = (slot.end - slot.start).total_seconds() / 60
        if minutes < MIN_MINUTES or minutes > MAX_MINUTES:
            problems.append(
                (f"{prefix}end", f"a block lasts {MIN_MINUTES} to {MAX_MINUTES} minutes")
            )
            continue
        if slot.start < zone_week.start or slot.end > zone_week.end:
            problems.append((f"{prefix}start", f"must lie inside week {week}"))
            continue
        if slot.start <= now:
            problems.append((f"{prefix}start", "must be in the future"))
            continue
        intervals.append(Interval(slot.start, slot.end))
    ordered = sorted(intervals, key=lambda i: i.start)
    for before, after in pairwise(ordered):
        if before.overlaps(after):
            index = next(n for n, s in enumerate(slots) if s.start == after.start)
            problems.append((f"{field}[{index}].start", "overlaps another chosen slot"))
    if problems:
        raise InvalidInputError(problems)
    return ordered


def _plan_block(
    session: Session, user: User, plan_id: int | None, block_id: int
) -> tuple[Plan, Block]:
    # the plan first, so another person's ids answer exactly like ids that do not exist
    plan = plans.get_plan(session, user, plan_id) if plan_id is not None else None
    block = session.get(Block, block_id)
    if block is None or (plan is not None and block.plan_id != plan.id):
        raise NotFoundError("block")
    if plan is None:
        plan = plans.get_plan(session, user, block.plan_id)
    return plan, block


def _move(
    session: Session,
    plan: Plan,
    block: Block,
    to: Interval,
    connectors: ConnectorFor,
    titles: growth_titles.Titles | None = None,
) -> None:
    """Move a block at the provider and on its row (its level and transparency stay)."""
    spec = plans.plan_spec(plan)
    calendar = session.get_one(Calendar, block.calendar_id)
    account = session.get_one(Account, calendar.account_id)
    title, description = growth_titles.label_for(session, plan, spec, to.start, titles)
    channel_cache.expect_echo(calendar.id)
    event = connectors(account).update_block(
        calendar.provider_calendar_id,
        str(block.provider_event_id),
        BlockSpec(
            tag=BlockTag(plan_id=str(plan.id), slot_key=block.slot_key),
            title=title,
            start=to.start,
            end=to.end,
            description=description,
            busy=block.busy,
        ),
    )
    growth_titles.remember(session, plan, block.slot_key, title, titles)
    audit.record_write(
        session,
        user_id=plan.user_id,
        calendar=calendar,
        action="pin_block",
        outcome="ok",
        provider_event_id=event.id,
        slot_key=block.slot_key,
        detail={"start": to.start.isoformat(), "end": to.end.isoformat()},
    )
    block.start, block.end = event.start, event.end


def pin_block(
    session: Session,
    user: User,
    plan_id: int | None,
    block_id: int,
    now: datetime,
    connectors: ConnectorFor,
    start: datetime | None = None,
    end: datetime | None = None,
) -> Block:
    """Keep a block here (without `start`) or at `start`..`end` (default: its length).

    `plan_id` None: the block's own plan (still only the user's)."""
    plan, block = _plan_block(session, user, plan_id, block_id)
    if block.state != BlockState.BOOKED or block.end <= now:
        raise ConflictError("only a booked block that has not ended can be pinned")
    if start is not None:
        length = block.end - block.start
        to = _check_slots(
            [SlotIn(start, end or start + length)],
            IsoWeek.parse(block.week),
            _week_interval(session, plan, user, IsoWeek.parse(block.week)),
            now,
            "",
        )[0]
        others = session.scalars(
            select(Block).where(
                Block.plan_id == plan.id,
                Block.state == BlockState.BOOKED,
                Block.id != block.id,
                Block.start < to.end,
                Block.end > to.start,
            )
        ).first()
        if others is not None:
            raise InvalidInputError([("start", "overlaps another growth block of this plan")])
        if (to.start, to.end) != (block.start, block.end):
            _move(session, plan, block, to, connectors)
    block.pinned = True
    session.flush()
    return block


def _week_interval(session: Session, plan: Plan, user: User, week: IsoWeek) -> Interval:
    zone = plans.plan_zone(plans.plan_spec(plan), user)
    return Interval(week.start(zone), week.end(zone))


def choose_week(
    session: Session,
    user: User,
    plan_id: int,
    week: IsoWeek,
    slots: list[SlotIn],
    now: datetime,
    connectors: ConnectorFor,
) -> list[Block]:
    """Book exactly `slots` in `week` (its future part): existing future blocks are kept
    where they match, moved onto the other slots, the rest deleted; missing ones created.
    All are pinned and the week marked chosen. Answers the week's future blocks."""
    plan = plans.get_plan(session, user, plan_id)
    chosen = _check_slots(slots, week, _week_interval(session, plan, user, week), now, "slots")
    spec = plans.plan_spec(plan)
    rows = list(
        session.scalars(
            select(Block)
            .where(
                Block.plan_id == plan.id,
                Block.week == str(week),
                Block.state == BlockState.BOOKED,
                Block.end > now,
            )
            .order_by(Block.start)
        )
    )
    titles = growth_titles.Titles.load(session, plan)
    # ordinals only grow: a deleted block's slot key is never reused (Google keeps its id)
    ordinals = session.scalars(
        select(Block.ordinal).where(Block.plan_id == plan.id, Block.week == str(week))
    )
    ordinal = max(ordinals, default=-1) + 1
    by_time = {(r.start, r.end): r for r in rows}
    wanted = [i for i in chosen if (i.start, i.end) not in by_time]
    spare = [r for r in rows if (r.start, r.end) not in {(i.start, i.end) for i in chosen}]
    for row in rows:
        row.pinned = True
    while wanted and spare:  # move rather than delete and create: fewer writes, same ids
        _move(session, plan, spare.pop(0), wanted.pop(0), connectors, titles)
    for row in spare:
        _delete(session, plan, row, connectors)
    if wanted:
        target = target_calendar(session, user)
        if target is None:
            raise ConflictError("no calendar is chosen for growth blocks; connect one first")
        account, calendar = target
        connector = connectors(account)
        orders = [
            Wanted(ordinal + n, interval, busy=defense.busy_at_booking(spec, interval.start, now))
            for n, interval in enumerate(wanted)
        ]
        for number, event in create_blocks(
            session, plan, week, spec, calendar, connector, orders, titles, pinned=True
        ):
            session.add(
                Block(
                    plan_id=plan.id,
                    calendar_id=calendar.id,
                    week=str(week),
                    ordinal=number,
                    slot_key=slot_key(plan.id, week, number),
                    provider_event_id=event.id,
                    start=event.start,
                    end=event.end,
                    state=BlockState.BOOKED,
                    level=spec.defense,
                    busy=event.busy,
                    pinned=True,
                )
            )
    if session.get(ChosenWeek, (plan.id, str(week))) is None:
        session.add(ChosenWeek(plan_id=plan.id, week=str(week), chosen_at=now))
    session.flush()
    return list(
        session.scalars(
            select(Block)
            .where(
                Block.plan_id == plan.id,
                Block.week == str(week),
                Block.state == BlockState.BOOKED,
                Block.end > now,
            )
            .order_by(Block.start)
        )
    )


def _delete(session: Session, plan: Plan, row: Block, connectors: ConnectorFor) -> None:
    calendar = session.get_one(Calendar, row.calendar_id)
    account = session.get_one(Account, calendar.account_id)
    channel_cache.expect_echo(calendar.id)
    if row.provider_event_id:
        connectors(account).delete_block(calendar.provider_calendar_id, row.provider_event_id)
    audit.record_write(
        session,
        user_id=plan.user_id,
        calendar=calendar,
        action="unchoose_block",
        outcome="ok",
        provider_event_id=row.provider_event_id,
        slot_key=row.slot_key,
        detail={"start": row.start.isoformat()},
    )
    session.delete(row)

"""Block titles that name the current milestone, written at booking and kept current after.

Booking asks `label_for` when it creates a block; `refresh` rewrites the future blocks whose
title no longer matches (a milestone renamed, moved, done or deleted). The title last written
is remembered per slot (`BlockLabel`), so an unchanged title costs no provider call.
"""

from __future__ import annotations

import logging
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.db.growth_models import BlockLabel
from app.db.models import Account, Block, BlockState, Calendar, Plan, User
from app.domain import milestones as domain
from app.domain.plan import PlanSpec
from app.services import audit
from app.services.connections import ConnectorProvider
from app.services.growth.milestones import list_for_plan, views
from app.services.plans import plan_zone, spec_of
from connectors.base import BlockSpec, BlockTag
from connectors.errors import ConnectorError

log = logging.getLogger(__name__)


def label_for(session: Session, plan: Plan, spec: PlanSpec, start: datetime) -> tuple[str, str]:
    """Title and description of a block starting at ``start``: its current milestone and goal."""
    user = session.get_one(User, plan.user_id)
    day = start.astimezone(plan_zone(spec, user)).date()
    milestone = domain.current(views(list_for_plan(session, plan)), day)
    return domain.block_title(spec.goal, milestone), domain.block_description(spec.goal, milestone)


def remember(session: Session, plan: Plan, slot_key: str, title: str) -> None:
    """Record the title written on a slot's event."""
    row = session.get(BlockLabel, slot_key)
    if row is None:
        session.add(BlockLabel(slot_key=slot_key, plan_id=plan.id, title=title))
    else:
        row.title = title
    session.flush()


def refresh(
    session: Session,
    plan: Plan,
    now: datetime,
    connectors: ConnectorProvider,
    week: str | None = None,
) -> list[str]:
    """Retitle the plan's future blocks (of ``week``, or all) whose title is out of date.

    Answers the slot keys rewritten. A provider that fails is left for the next run: the title
    is cosmetic and must never stop booking.
    """
    spec = spec_of(plan)
    query = select(Block).where(
        Block.plan_id == plan.id,
        Block.state == BlockState.BOOKED,
        Block.end > now,
        Block.provider_event_id.is_not(None),
    )
    if week is not None:
        query = query.where(Block.week == week)
    rewritten: list[str] = []
    for block in session.scalars(query.order_by(Block.start)).all():
        title, description = label_for(session, plan, spec, block.start)
        label = session.get(BlockLabel, block.slot_key)
        written = label.title if label is not None else spec.block_title()
        if written == title:
            continue
        calendar = session.get_one(Calendar, block.calendar_id)
        account = session.get_one(Account, calendar.account_id)
        block_spec = BlockSpec(
            tag=BlockTag(plan_id=str(plan.id), slot_key=block.slot_key),
            title=title,
            start=block.start,
            end=block.end,
            description=description,
        )
        try:
            connectors(account).update_block(
                calendar.provider_calendar_id, str(block.provider_event_id), block_spec
            )
        except ConnectorError as error:
            log.info("retitling %s failed: %s", block.slot_key, type(error).__name__)
            continue
        audit.record_write(
            session,
            user_id=plan.user_id,
            calendar=calendar,
            action="retitle_block",
            outcome="ok",
            provider_event_id=block.provider_event_id,
            slot_key=block.slot_key,
            detail={"title": title},
        )
        remember(session, plan, block.slot_key, title)
        rewritten.append(block.slot_key)
    return rewritten

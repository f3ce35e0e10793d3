"""Block titles that name the current milestone, written at booking and kept current after.

Booking asks `label_for` when it creates a block; `refresh` rewrites the future blocks whose
title no longer matches (a milestone renamed, moved, done or deleted). The title last written
is remembered per slot (`BlockLabel`), so an unchanged title costs no provider call.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.db.growth_models import BlockLabel, Milestone
from app.db.models import Block, BlockState, Plan, User
from app.domain import milestones as domain
from app.domain.intervals import Interval
from app.domain.plan import PlanSpec
from app.services.accounts.live import ConnectorFor
from app.services.booking.rewrite import audit_block, rewrite_block
from app.services.growth.milestones import list_for_plan, views
from app.services.planning.plans import plan_spec, plan_zone
from connectors.errors import ConnectorError

log = logging.getLogger(__name__)


@dataclass
class Titles:
    """What titling one plan's blocks reads: its milestones and the titles last written.

    Read once per booking (or for many plans at once by `load_many`), so titling a week's
    blocks costs no query per block.
    """

    milestones: list[domain.MilestoneView]
    labels: dict[str, BlockLabel] = field(default_factory=dict)

    @classmethod
    def load(cls, session: Session, plan: Plan) -> Titles:
        labels = session.scalars(select(BlockLabel).where(BlockLabel.plan_id == plan.id))
        return cls(views(list_for_plan(session, plan)), {row.slot_key: row for row in labels})

    @classmethod
    def load_many(cls, session: Session, plan_ids: Sequence[int]) -> dict[int, Titles]:
        """The same for many plans, in two queries."""
        found: dict[int, Titles] = {plan_id: cls([]) for plan_id in plan_ids}
        rows: dict[int, list[Milestone]] = defaultdict(list)
        for milestone in session.scalars(
            select(Milestone)
            .where(Milestone.plan_id.in_(plan_ids))
            .order_by(Milestone.due, Milestone.title, Milestone.id)
        ):
            rows[milestone.plan_id].append(milestone)
        for plan_id, milestones in rows.items():
            found[plan_id].milestones = views(milestones)
        for label in session.scalars(select(BlockLabel).where(BlockLabel.plan_id.in_(plan_ids))):
            found[label.plan_id].labels[label.slot_key] = label
        return found


def label_for(
    session: Session,
    plan: Plan,
    spec: PlanSpec,
    start: datetime,
    titles: Titles | None = None,
) -> tuple[str, str]:
    """Title and description of a block starting at ``start``: its current milestone and goal."""
    titles = titles or Titles.load(session, plan)
    user = session.get_one(User, plan.user_id)
    day = start.astimezone(plan_zone(spec, user)).date()
    milestone = domain.current(titles.milestones, day)
    return domain.block_title(spec.goal, milestone), domain.block_description(spec.goal, milestone)


def remember(
    session: Session, plan: Plan, slot_key: str, title: str, titles: Titles | None = None
) -> None:
    """Record the title written on a slot's event.

    With ``titles`` the new row waits for the caller's next flush (a week's booking writes all
    its rows in one round trip per table): ``titles`` knows it meanwhile. Without, it is
    flushed now, since `session.get` does not see rows still pending.
    """
    row = titles.labels.get(slot_key) if titles is not None else session.get(BlockLabel, slot_key)
    if row is None:
        row = BlockLabel(slot_key=slot_key, plan_id=plan.id, title=title)
        session.add(row)
        if titles is None:
            session.flush()
            return
        titles.labels[slot_key] = row
    else:
        row.title = title


def refresh(
    session: Session,
    plan: Plan,
    now: datetime,
    connectors: ConnectorFor,
    week: str | None = None,
    *,
    titles: Titles | None = None,
    blocks: Sequence[Block] | None = None,
) -> list[str]:
    """Retitle the plan's future blocks (of ``week``, or all) whose title is out of date.

    Booking passes what it already read: ``titles`` and the week's ``blocks`` (blocks it has
    just created carry their current title already). Answers the slot keys rewritten. A
    provider that fails is left for the next run: the title is cosmetic and must never stop
    booking.
    """
    spec = plan_spec(plan)
    titles = titles or Titles.load(session, plan)
    if blocks is None:
        query = select(Block).where(
            Block.plan_id == plan.id,
            Block.state == BlockState.BOOKED,
            Block.end > now,
            Block.provider_event_id.is_not(None),
        )
        if week is not None:
            query = query.where(Block.week == week)
        blocks = session.scalars(query.order_by(Block.start)).all()
    else:
        blocks = sorted(
            (
                b
                for b in blocks
                if b.state == BlockState.BOOKED
                and b.end > now
                and b.provider_event_id is not None
                and (week is None or b.week == week)
            ),
            key=lambda b: b.start,
        )
    rewritten: list[str] = []
    for block in blocks:
        title, description = label_for(session, plan, spec, block.start, titles)
        label = titles.labels.get(block.slot_key)
        written = label.title if label is not None else spec.block_title()
        if written == title:
            continue
        try:
            # a retitle never changes a flexible block's transparency (busy stays the row's);
            # as before, its change notice is not marked as our own echo
            when = Interval(block.start, block.end)
            rewrite_block(
                session, connectors, plan, block, when, title, description, expect_echo=False
            )
        except ConnectorError as error:
            log.info("retitling %s failed: %s", block.slot_key, type(error).__name__)
            continue
        audit_block(session, plan.user_id, block, "retitle_block", "ok", {"title": title})
        remember(session, plan, block.slot_key, title, titles)
        rewritten.append(block.slot_key)
    return rewritten

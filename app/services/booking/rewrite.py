"""Rewrite a booked block at its provider, and audit what happened.

Moving, pinning, retitling and turning a block busy all write the same event again with
other fields; this module is that one write, so they tag, address and audit it alike.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from app.db.models import Account, Block, Calendar, Plan
from app.domain.intervals import Interval
from app.services import audit
from app.services.accounts.live import ConnectorFor
from app.services.sync import channel_cache
from connectors.base import BlockSpec, BlockTag, Event


def audit_block(
    session: Session,
    user_id: int,
    block: Block,
    action: str,
    outcome: str,
    detail: dict[str, Any],
) -> None:
    """Add the audit row of a write to `block` (its calendar, event id and slot come from
    the row)."""
    calendar = session.get_one(Calendar, block.calendar_id)
    audit.record_write(
        session,
        user_id=user_id,
        calendar=calendar,
        action=action,
        outcome=outcome,
        provider_event_id=block.provider_event_id,
        slot_key=block.slot_key,
        detail=detail,
    )


def rewrite_block(
    session: Session,
    connectors: ConnectorFor,
    plan: Plan,
    block: Block,
    when: Interval,
    title: str,
    description: str,
    *,
    busy: bool | None = None,
    expect_echo: bool = True,
) -> Event:
    """Write `block`'s event again at its provider at `when`, with this title; its tag stays.

    `busy`: None keeps the block's transparency (only the defense switch changes it).
    `expect_echo`: the provider's change notice for this write is ours, not a person's.
    A `ConnectorError` is the caller's to handle (retry later, refuse, or skip).
    """
    calendar = session.get_one(Calendar, block.calendar_id)
    account = session.get_one(Account, calendar.account_id)
    spec = BlockSpec(
        tag=BlockTag(plan_id=str(plan.id), slot_key=block.slot_key),
        title=title,
        start=when.start,
        end=when.end,
        description=description,
        busy=block.busy if busy is None else busy,
    )
    if expect_echo:
        channel_cache.expect_echo(calendar.id)
    return connectors(account).update_block(
        calendar.provider_calendar_id, block.provider_event_id or "", spec
    )

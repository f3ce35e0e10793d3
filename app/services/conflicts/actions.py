"""What deciding a conflict does at the provider: decline the invite, move the block, re-accept.

Each action writes through the account's connector, records the write in the audit log, and
returns (or raises) what happened; none decides anything or commits.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.db.models import Account, Block, BlockState, Calendar, CalendarEvent, Conflict, Plan, User
from app.domain.counteroffer import alternatives
from app.domain.decide import Invite, render_decline_message
from app.domain.intervals import Interval
from app.domain.planner import Busy, plan_week
from app.domain.time import IsoWeek
from app.services import audit
from app.services.accounts.live import ConnectorFor
from app.services.accounts.rows import mark_needs_reauth
from app.services.conflicts import tell
from app.services.growth import titles as growth_titles
from app.services.planning.plans import plan_spec, plan_working_hours, plan_zone
from app.services.planning.policies import policy_spec
from app.services.sync import channel_cache
from connectors.base import BlockSpec, BlockTag, Response
from connectors.errors import ConnectorError, ReauthRequired

log = logging.getLogger(__name__)


class MoveRefusedError(Exception):
    """The provider refused to move the block (not the same as "no other slot fits")."""


def invite_of(conflict: Conflict) -> Invite:
    """The policy's view of the conflicting event, from the stored snapshot."""
    e = conflict.event
    return Invite(
        title=str(e["title"]),
        start=datetime.fromisoformat(e["start"]),
        end=datetime.fromisoformat(e["end"]),
        organizer_email=e.get("organizer_email"),
        self_is_organizer=bool(e.get("self_is_organizer")),
        self_response=e.get("self_response"),
        attendee_count=int(e.get("attendee_count") or 0),
        recurring=bool(e.get("recurring")),
        calendar=str(e.get("calendar") or ""),
        calendar_id=str(e.get("calendar_id") or ""),
    )


def busy_events(
    session: Session, user: User, start: datetime, end: datetime
) -> list[CalendarEvent]:
    """The person's cached busy events overlapping [start, end), declined ones left out."""
    rows = session.scalars(
        select(CalendarEvent)
        .join(Calendar, Calendar.id == CalendarEvent.calendar_id)
        .join(Account, Account.id == Calendar.account_id)
        .where(
            Account.user_id == user.id,
            Calendar.is_busy_source.is_(True),
            CalendarEvent.busy.is_(True),
            CalendarEvent.status != "cancelled",
            CalendarEvent.end > start,
            CalendarEvent.start < end,
        )
    )
    return [r for r in rows if r.self_response != "declined"]


def decline_invite(
    session: Session,
    connectors: ConnectorFor,
    conflict: Conflict,
    plan: Plan,
    user: User,
    now: datetime,
) -> tuple[str, dict[str, Any]]:
    """Decline the conflicting invite with the policy's message and other times offered.

    Answers ("done" | "failed", detail); a provider failure is recorded, never raised.
    """
    invite = invite_of(conflict)
    spec = plan_spec(plan)
    zone = plan_zone(spec, user)
    busy = [
        Interval(b.start, b.end) for b in busy_events(session, user, now, now + timedelta(days=8))
    ]
    offers = alternatives(
        invite.end - invite.start,
        busy,
        plan_working_hours(spec, user),
        zone,
        now,
        not_before=now,
    )
    message = render_decline_message(policy_spec(session, plan), invite, offers, zone)
    calendar = session.get_one(Calendar, conflict.calendar_id)
    account = session.get_one(Account, calendar.account_id)
    try:
        channel_cache.expect_echo(calendar.id)  # before the write, as it may come first
        connectors(account).respond(
            calendar.provider_calendar_id, conflict.provider_event_id, Response.DECLINE, message
        )
    except ReauthRequired as error:
        mark_needs_reauth(session, account, str(error))
        return "failed", {"error": "the account needs to be reconnected"}
    except ConnectorError as error:
        audit.record_write(
            session,
            user_id=user.id,
            calendar=calendar,
            action="decline",
            outcome="error",
            provider_event_id=conflict.provider_event_id,
            detail={"error": type(error).__name__},
        )
        return "failed", {"error": f"{type(error).__name__}"}
    audit.record_write(
        session,
        user_id=user.id,
        calendar=calendar,
        action="decline",
        outcome="ok",
        provider_event_id=conflict.provider_event_id,
        detail={"message": message},
    )
    return "done", {
        "message": message,
        "alternatives": [[o.start.isoformat(), o.end.isoformat()] for o in offers],
    }


def reaccept_invite(session: Session, connectors: ConnectorFor, conflict: Conflict) -> None:
    """Accept a meeting GrowthGuard declined; the provider's error is raised as it is."""
    calendar = session.get_one(Calendar, conflict.calendar_id)
    account = session.get_one(Account, calendar.account_id)
    channel_cache.expect_echo(calendar.id)  # before the write, as it may come first
    connectors(account).respond(
        calendar.provider_calendar_id, conflict.provider_event_id, Response.ACCEPT
    )
    audit.record_write(
        session,
        user_id=conflict.user_id,
        calendar=calendar,
        action="accept",
        outcome="ok",
        provider_event_id=conflict.provider_event_id,
    )


def move_block(
    session: Session,
    connectors: ConnectorFor,
    block: Block,
    plan: Plan,
    user: User,
    now: datetime,
) -> Interval | None:
    """Move the block to another free slot of its week; None when none fits.

    Raises MoveRefusedError when the provider refuses the move.
    """
    spec = plan_spec(plan)
    zone = plan_zone(spec, user)
    week = IsoWeek.parse(block.week)
    length = round((block.end - block.start).total_seconds() / 60)
    others = [
        Interval(b.start, b.end)
        for b in session.scalars(
            select(Block).where(
                Block.plan_id == plan.id,
                Block.week == block.week,
                Block.state == BlockState.BOOKED,
                Block.id != block.id,
            )
        )
    ]
    kept_minutes = sum(round(i.minutes) for i in others)
    one_more = spec.model_copy(
        update={
            "weekly_target_minutes": kept_minutes + length,
            "block_minutes": spec.block_minutes.model_copy(update={"min": length, "max": length}),
        }
    )
    busy = [
        Busy(b.start, b.end, all_day=b.all_day)
        for b in busy_events(session, user, week.start(zone), week.end(zone))
        if b.tag_slot_key != block.slot_key
    ]
    result = plan_week(
        one_more,
        week,
        busy,
        now,
        zone=zone,
        working_hours=plan_working_hours(spec, user),
        kept=others,
    )
    if not result.new_blocks:
        return None
    target = result.new_blocks[0]
    calendar = session.get_one(Calendar, block.calendar_id)
    account = session.get_one(Account, calendar.account_id)
    # The moved block keeps naming the milestone due at its new time (growth titles).
    title, description = growth_titles.label_for(session, plan, spec, target.start)
    spec_block = BlockSpec(
        tag=BlockTag(plan_id=str(plan.id), slot_key=block.slot_key),
        title=title,
        start=target.start,
        end=target.end,
        description=f"{description}\nMoved by GrowthGuard.",
        busy=block.busy,  # a move never changes a flexible block's transparency
    )
    try:
        channel_cache.expect_echo(calendar.id)
        connectors(account).update_block(
            calendar.provider_calendar_id, block.provider_event_id or "", spec_block
        )
    except ConnectorError as error:
        log.warning("moving block %s failed: %s", block.id, error)
        audit.record_write(
            session,
            user_id=user.id,
            calendar=calendar,
            action="move_block",
            outcome="error",
            provider_event_id=block.provider_event_id,
            slot_key=block.slot_key,
            detail={"error": f"{type(error).__name__}: {error}"},
        )
        raise MoveRefusedError(
            f"{account.display_name} refused to move the block ({type(error).__name__}: {error})"
        ) from error
    audit.record_write(
        session,
        user_id=user.id,
        calendar=calendar,
        action="move_block",
        outcome="ok",
        provider_event_id=block.provider_event_id,
        slot_key=block.slot_key,
        detail={"from": block.start.isoformat(), "to": target.start.isoformat()},
    )
    block.start, block.end = target.start, target.end
    growth_titles.remember(session, plan, block.slot_key, title)
    tell.block_moved(session, user.id, plan.id, target, zone)
    return target

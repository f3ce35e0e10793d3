"""The person's say: keep the meeting (override), decline now, and the grace-period deadline."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select

from app.db.models import Block, Conflict, ConflictState, Decision, Plan, User
from app.services import links
from app.services.conflicts import actions
from app.services.conflicts.deciding import CHOICE_LINK_TTL, CHOICE_PURPOSE, ConflictResolver
from app.services.errors import NotFoundError


def get_conflict(resolver: ConflictResolver, user: User, conflict_id: int) -> Conflict:
    conflict = resolver.session.get(Conflict, conflict_id)
    if conflict is None or conflict.user_id != user.id:
        raise NotFoundError("conflict")
    return conflict


def decision_of(resolver: ConflictResolver, conflict: Conflict) -> Decision | None:
    return resolver.session.scalars(
        select(Decision).where(Decision.conflict_id == conflict.id)
    ).first()


def keep_meeting(
    resolver: ConflictResolver, conflict: Conflict, now: datetime
) -> dict[str, object]:
    """Keep the meeting: cancel a pending decline, re-accept a declined one, move the block.

    A failed re-accept raises (the provider's error): the meeting is still declined, so
    nothing is recorded as kept. A block that cannot move is reported in the result.
    """
    session = resolver.session
    decision = decision_of(resolver, conflict)
    result: dict[str, object] = {"reaccepted": False, "block_moved": False}
    if decision is not None and decision.outcome == "pending":
        decision.outcome = "skipped"
    elif decision is not None and decision.action == "decline" and decision.outcome == "done":
        actions.reaccept_invite(session, resolver.connectors, conflict)
        result["reaccepted"] = True
    if conflict.state != ConflictState.OVERRIDDEN:
        block = session.get_one(Block, conflict.block_id)
        plan = session.get_one(Plan, block.plan_id)
        user = session.get_one(User, plan.user_id)
        # The meeting stays on the block, so give the growth time another slot if one fits.
        try:
            moved = resolver.move_block(block, plan, user, now)
        except actions.MoveRefusedError as error:
            moved, result["move_error"] = None, str(error)
        result["block_moved"] = moved is not None
    conflict.state = ConflictState.OVERRIDDEN
    session.flush()
    return result


def kept_message(result: dict[str, object]) -> str:
    """What to tell the person after keeping a meeting (only what really happened)."""
    if result.get("block_moved"):
        return "Kept: the meeting stays, and your growth block moved to another slot."
    if result.get("move_error"):
        return (
            f"Kept: the meeting stays, but your growth block could not move: {result['move_error']}"
        )
    return "Kept: the meeting stays; no other free slot fits your growth block this week."


def decline_now(resolver: ConflictResolver, conflict: Conflict, now: datetime) -> bool:
    """Carry out a pending decline_after at once (the person pressed "decline now")."""
    decision = decision_of(resolver, conflict)
    if decision is None or decision.outcome != "pending":
        return False
    return _execute(resolver, conflict, decision, now)


def execute_due(resolver: ConflictResolver, now: datetime) -> int:
    """Decline the invites whose grace period ended without the person choosing."""
    due = resolver.session.scalars(
        select(Decision)
        .join(Conflict, Conflict.id == Decision.conflict_id)
        .where(
            Decision.outcome == "pending",
            Decision.due_at <= now,
            Conflict.state == ConflictState.DECIDED,
        )
    ).all()
    done = 0
    for decision in due:
        conflict = resolver.session.get_one(Conflict, decision.conflict_id)
        done += _execute(resolver, conflict, decision, now)
    return done


def _execute(
    resolver: ConflictResolver, conflict: Conflict, decision: Decision, now: datetime
) -> bool:
    block = resolver.session.get_one(Block, conflict.block_id)
    plan = resolver.session.get_one(Plan, block.plan_id)
    user = resolver.session.get_one(User, plan.user_id)
    if datetime.fromisoformat(str(conflict.event["start"])) <= now:
        # Declining a meeting that is already under way helps nobody and looks rude.
        decision.outcome = "skipped"
        decision.explanation += " Not declined: the meeting had already started."
        return False
    # Re-check the invariants now: the person may have accepted meanwhile, or hit the cap.
    verdict = resolver.evaluate(conflict, block, plan, user, now, choice="decline")
    if verdict.action != "decline" or not verdict.writes:
        decision.outcome, decision.explanation = "skipped", verdict.explanation
        return False
    outcome, detail = resolver.decline_invite(conflict, plan, user, now)
    decision.outcome = outcome
    decision.executed_at = now
    decision.detail = {**decision.detail, **detail}
    resolver.session.flush()
    return outcome == "done"


@dataclass(frozen=True)
class ChoiceLink:
    """What a one-click link asks for, once its signature and expiry were checked."""

    conflict: Conflict
    choice: str
    payload: dict[str, Any]


def read_choice_link(
    resolver: ConflictResolver, conflict_id: int, token: str, *, check_unused: bool = True
) -> ChoiceLink:
    """Check a link's signature, expiry, owner and conflict; LinkRejectedError otherwise."""
    payload = links.read(resolver.secret_key, CHOICE_PURPOSE, token, CHOICE_LINK_TTL)
    choice = payload.get("k")
    conflict = resolver.session.get(Conflict, conflict_id)
    if (
        choice not in ("keep", "decline")
        or payload.get("c") != conflict_id
        or conflict is None
        or conflict.user_id != payload.get("u")
    ):
        raise links.LinkRejectedError("This link is not valid.")
    if check_unused and links.was_used(resolver.session, payload):
        raise links.LinkRejectedError("This link was already used.")
    return ChoiceLink(conflict, str(choice), payload)


def choose_by_link(resolver: ConflictResolver, conflict_id: int, token: str, now: datetime) -> str:
    """Act on a one-click link (the POST behind its confirmation page); single-use."""
    link = read_choice_link(resolver, conflict_id, token, check_unused=False)
    links.use_once(resolver.session, CHOICE_PURPOSE, link.payload, now, CHOICE_LINK_TTL)
    if link.choice == "keep":
        return kept_message(keep_meeting(resolver, link.conflict, now))
    if decline_now(resolver, link.conflict, now):
        return "Declined, with your message and other times offered."
    return "Nothing to do: this invite was already handled."

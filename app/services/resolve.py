"""Deciding conflicts with the boundary policy and carrying the decision out."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app import metrics
from app.db.models import (
    Account,
    Block,
    BlockState,
    Calendar,
    CalendarEvent,
    Conflict,
    ConflictState,
    Decision,
    Plan,
    User,
)
from app.domain.counteroffer import alternatives
from app.domain.decide import Context, Invite, decide, fallback_flag, render_decline_message
from app.domain.decide import Decision as Verdict
from app.domain.intervals import Interval
from app.domain.planner import Busy, plan_week
from app.domain.time import IsoWeek
from app.services import access, audit, links, notify, push_channels
from app.services.connections import ConnectorProvider, mark_needs_reauth
from app.services.growth import titles as growth_titles
from app.services.plans import plan_working_hours, plan_zone, spec_of
from app.services.policies import spec_for_plan
from app.services.users import user_domains
from connectors.base import BlockSpec, BlockTag, Response
from connectors.errors import ConnectorError, ReauthRequired

log = logging.getLogger(__name__)

CHOICE_PURPOSE = "choice"
# Long enough for the longest grace period (168 h) to run out before the link does.
CHOICE_LINK_TTL = timedelta(days=8)


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


class Resolver:
    """Decides one conflict and acts on it through the connectors; commits nothing itself."""

    def __init__(
        self, session: Session, connectors: ConnectorProvider, public_url: str, secret_key: str
    ) -> None:
        self.session = session
        self.connectors = connectors
        self.public_url = public_url
        self.secret_key = secret_key

    def resolve(
        self, conflict_id: int, now: datetime, choice: str | None = None
    ) -> Decision | None:
        """Decide an open conflict once; None when it was decided already or is gone."""
        conflict = self.session.get(Conflict, conflict_id, with_for_update=True)
        if conflict is None or conflict.state != ConflictState.OPEN:
            return None
        block = self.session.get_one(Block, conflict.block_id)
        plan = self.session.get_one(Plan, block.plan_id)
        user = self.session.get_one(User, plan.user_id)
        verdict = self.evaluate(conflict, block, plan, user, now, choice)
        return self.carry_out(conflict, block, plan, user, verdict, now)

    def evaluate(
        self,
        conflict: Conflict,
        block: Block,
        plan: Plan,
        user: User,
        now: datetime,
        choice: str | None,
    ) -> Verdict:
        zone = plan_zone(spec_of(plan), user)
        context = Context(
            now=now,
            zone=zone,
            user_domains=self._domains(user),
            block=Interval(block.start, block.end),
            declines_this_week=self._declines_this_week(user, now, zone),
            person_choice=choice,  # type: ignore[arg-type]
        )
        verdict = decide(invite_of(conflict), spec_for_plan(self.session, plan), context)
        # A book-only account only flags: the sentence says which access is missing.
        return access.held_back(
            verdict, self._account_of(conflict.calendar_id), self._account_of(block.calendar_id)
        )

    def _account_of(self, calendar_id: int) -> Account:
        calendar = self.session.get_one(Calendar, calendar_id)
        return self.session.get_one(Account, calendar.account_id)

    def carry_out(
        self,
        conflict: Conflict,
        block: Block,
        plan: Plan,
        user: User,
        verdict: Verdict,
        now: datetime,
    ) -> Decision:
        detail: dict[str, Any] = {}
        outcome = "done"
        due_at = None
        if verdict.writes and verdict.action == "decline":
            outcome, detail = self._decline(conflict, plan, user, now)
        elif verdict.writes and verdict.action == "decline_after":
            outcome, due_at = "pending", verdict.due_at
            detail = {
                "keep_url": self.link(conflict.id, "keep"),
                "decline_url": self.link(conflict.id, "decline"),
            }
        elif verdict.writes and verdict.action == "move_block":
            try:
                moved = self._move_block(block, plan, user, now)
            except MoveRefusedError as error:
                outcome, detail = "failed", {"error": str(error)}
            else:
                if moved is None:
                    verdict = fallback_flag(verdict, "no other free slot fits this week")
                else:
                    detail = {"moved_to": [moved.start.isoformat(), moved.end.isoformat()]}
        elif not verdict.writes and verdict.action in ("decline", "decline_after", "move_block"):
            outcome = "skipped"  # dry run
        if outcome == "failed":
            verdict = fallback_flag(verdict, str(detail.get("error", "the provider refused")))
        metrics.DECISIONS.labels(verdict.action).inc()
        decision = Decision(
            conflict_id=conflict.id,
            action=verdict.action,
            rule=verdict.rule,
            explanation=verdict.explanation,
            dry_run=not verdict.writes and outcome == "skipped",
            outcome=outcome,
            due_at=due_at,
            detail=detail,
            decided_at=now,
            executed_at=now if outcome == "done" else None,
        )
        self.session.add(decision)
        conflict.state = ConflictState.DECIDED
        self.session.flush()
        self._tell(user, conflict, decision)
        return decision

    def link(self, conflict_id: int, choice: str) -> str:
        """A one-click link (keep the meeting / decline now): signed, expiring, single-use.

        Opening it shows a confirmation page; only the button (a POST) acts, so mail scanners
        that follow links change nothing.
        """
        conflict = self.session.get_one(Conflict, conflict_id)
        token = links.make(
            self.secret_key, CHOICE_PURPOSE, {"u": conflict.user_id, "c": conflict_id, "k": choice}
        )
        return f"{self.public_url}/conflicts/{conflict_id}/choose?t={token}"

    # --- actions -----------------------------------------------------------------------------

    def _decline(
        self, conflict: Conflict, plan: Plan, user: User, now: datetime
    ) -> tuple[str, dict[str, Any]]:
        invite = invite_of(conflict)
        spec = spec_of(plan)
        zone = plan_zone(spec, user)
        busy = [Interval(b.start, b.end) for b in self._busy(user, now, now + timedelta(days=8))]
        offers = alternatives(
            invite.end - invite.start,
            busy,
            plan_working_hours(spec, user),
            zone,
            now,
            not_before=now,
        )
        message = render_decline_message(spec_for_plan(self.session, plan), invite, offers, zone)
        calendar = self.session.get_one(Calendar, conflict.calendar_id)
        account = self.session.get_one(Account, calendar.account_id)
        try:
            push_channels.expect_echo(calendar.id)  # before the write, as it may come first
            self.connectors(account).respond(
                calendar.provider_calendar_id, conflict.provider_event_id, Response.DECLINE, message
            )
        except ReauthRequired as error:
            mark_needs_reauth(self.session, account, str(error))
            return "failed", {"error": "the account needs to be reconnected"}
        except ConnectorError as error:
            audit.record_write(
                self.session,
                user_id=user.id,
                calendar=calendar,
                action="decline",
                outcome="error",
                provider_event_id=conflict.provider_event_id,
                detail={"error": type(error).__name__},
            )
            return "failed", {"error": f"{type(error).__name__}"}
        audit.record_write(
            self.session,
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

    def _move_block(self, block: Block, plan: Plan, user: User, now: datetime) -> Interval | None:
        spec = spec_of(plan)
        zone = plan_zone(spec, user)
        week = IsoWeek.parse(block.week)
        length = round((block.end - block.start).total_seconds() / 60)
        others = [
            Interval(b.start, b.end)
            for b in self.session.scalars(
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
                "block_minutes": spec.block_minutes.model_copy(
                    update={"min": length, "max": length}
                ),
            }
        )
        busy = [
            Busy(b.start, b.end, all_day=b.all_day)
            for b in self._busy(user, week.start(zone), week.end(zone))
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
        calendar = self.session.get_one(Calendar, block.calendar_id)
        account = self.session.get_one(Account, calendar.account_id)
        # The moved block keeps naming the milestone due at its new time (growth titles).
        title, description = growth_titles.label_for(self.session, plan, spec, target.start)
        spec_block = BlockSpec(
            tag=BlockTag(plan_id=str(plan.id), slot_key=block.slot_key),
            title=title,
            start=target.start,
            end=target.end,
            description=f"{description}\nMoved by GrowthGuard.",
        )
        try:
            push_channels.expect_echo(calendar.id)
            self.connectors(account).update_block(
                calendar.provider_calendar_id, block.provider_event_id or "", spec_block
            )
        except ConnectorError as error:
            log.warning("moving block %s failed: %s", block.id, error)
            audit.record_write(
                self.session,
                user_id=user.id,
                calendar=calendar,
                action="move_block",
                outcome="error",
                provider_event_id=block.provider_event_id,
                slot_key=block.slot_key,
                detail={"error": f"{type(error).__name__}: {error}"},
            )
            raise MoveRefusedError(
                f"{account.display_name} refused to move the block ({type(error).__name__}: "
                f"{error})"
            ) from error
        audit.record_write(
            self.session,
            user_id=user.id,
            calendar=calendar,
            action="move_block",
            outcome="ok",
            provider_event_id=block.provider_event_id,
            slot_key=block.slot_key,
            detail={"from": block.start.isoformat(), "to": target.start.isoformat()},
        )
        block.start, block.end = target.start, target.end
        growth_titles.remember(self.session, plan, block.slot_key, title)
        notify.record(
            self.session,
            user.id,
            "block.moved",
            {
                "plan_id": plan.id,
                "start": target.start.isoformat(),
                "end": target.end.isoformat(),
                "message": "Your growth block moved to "
                f"{target.start.astimezone(zone):%a %d %b %H:%M}.",
            },
        )
        return target

    # --- helpers -----------------------------------------------------------------------------

    def _busy(self, user: User, start: datetime, end: datetime) -> list[CalendarEvent]:
        rows = self.session.scalars(
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

    def _domains(self, user: User) -> frozenset[str]:
        return user_domains(self.session, user)

    def _declines_this_week(self, user: User, now: datetime, zone: Any) -> int:
        week = IsoWeek.containing(now, zone)
        return int(
            self.session.scalar(
                select(func.count())
                .select_from(Decision)
                .join(Conflict, Conflict.id == Decision.conflict_id)
                .where(
                    Conflict.user_id == user.id,
                    Decision.action.in_(("decline", "decline_after")),
                    Decision.outcome == "done",
                    Decision.executed_at >= week.start(zone),
                    Decision.executed_at < week.end(zone),
                )
            )
            or 0
        )

    def _tell(self, user: User, conflict: Conflict, decision: Decision) -> None:
        notify.record(
            self.session,
            user.id,
            "conflict.decided",
            {
                "conflict_id": conflict.id,
                "action": decision.action,
                "rule": decision.rule,
                "outcome": decision.outcome,
                "title": conflict.event.get("title"),
                "start": conflict.event.get("start"),
                "message": decision.explanation,
                "keep_url": self.link(conflict.id, "keep"),
                **(
                    {"decline_url": decision.detail["decline_url"]}
                    if "decline_url" in decision.detail
                    else {}
                ),
            },
            dedupe_key=f"conflict.decided:{conflict.id}",
        )

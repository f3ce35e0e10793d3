"""Deciding a conflict with the boundary policy, and recording the decision.

The decision is the domain's (`app.domain.decide`); the provider writes it calls for are in
`actions`, and what the person is told about it in `tell`.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app import metrics
from app.db.models import Account, Block, Calendar, Conflict, ConflictState, Decision, Plan, User
from app.domain.decide import Context, Verdict, decide, fallback_flag
from app.domain.intervals import Interval
from app.domain.time import IsoWeek
from app.services import links
from app.services.accounts.live import ConnectorFor
from app.services.conflicts import access, actions, tell
from app.services.people.users import user_domains
from app.services.planning.plans import plan_spec, plan_zone
from app.services.planning.policies import policy_spec

CHOICE_PURPOSE = "choice"
# Long enough for the longest grace period (168 h) to run out before the link does.
CHOICE_LINK_TTL = timedelta(days=8)


class ConflictResolver:
    """Decides one conflict and acts on it through the connectors; commits nothing itself."""

    def __init__(
        self, session: Session, connectors: ConnectorFor, public_url: str, secret_key: str
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
        """What the policy says about this conflict now (nothing is written)."""
        zone = plan_zone(plan_spec(plan), user)
        context = Context(
            now=now,
            zone=zone,
            user_domains=user_domains(self.session, user),
            block=Interval(block.start, block.end),
            declines_this_week=self._declines_this_week(user, now, zone),
            person_choice=choice,  # type: ignore[arg-type]
            block_level=conflict.block_level,  # as the invite found it
            block_pinned=block.pinned,
        )
        verdict = decide(actions.invite_of(conflict), policy_spec(self.session, plan), context)
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
        """Act on the verdict (through `actions`), record the decision, tell the person."""
        detail: dict[str, Any] = {}
        outcome = "done"
        due_at = None
        if verdict.writes and verdict.action == "decline":
            outcome, detail = self.decline_invite(conflict, plan, user, now)
        elif verdict.writes and verdict.action == "decline_after":
            outcome, due_at = "pending", verdict.due_at
            detail = {
                "keep_url": self.link(conflict.id, "keep"),
                "decline_url": self.link(conflict.id, "decline"),
            }
        elif verdict.writes and verdict.action == "move_block":
            try:
                moved = self.move_block(block, plan, user, now)
            except actions.MoveRefusedError as error:
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
        tell.conflict_decided(
            self.session, user.id, conflict, decision, self.link(conflict.id, "keep")
        )
        return decision

    def decline_invite(
        self, conflict: Conflict, plan: Plan, user: User, now: datetime
    ) -> tuple[str, dict[str, Any]]:
        """Decline the invite now (`actions.decline_invite` with this resolver's connectors)."""
        return actions.decline_invite(self.session, self.connectors, conflict, plan, user, now)

    def move_block(self, block: Block, plan: Plan, user: User, now: datetime) -> Interval | None:
        """Move the block to another free slot (`actions.move_block`); None when none fits."""
        return actions.move_block(self.session, self.connectors, block, plan, user, now)

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

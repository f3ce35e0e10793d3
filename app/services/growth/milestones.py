"""A plan's milestones: the proposal from the goal's date, and the person's own edits."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.db.growth_models import Milestone
from app.db.models import Plan, User
from app.domain import milestones as domain
from app.services.errors import InvalidInputError, NotFoundError
from app.services.planning import plans as plan_service

MAX_MILESTONES = 60


@dataclass(frozen=True, slots=True)
class MilestoneInput:
    """A milestone as the person writes it (validated by the API schema)."""

    title: str
    due: date
    done_on: date | None = None


def local_today(plan: Plan, user: User, now: datetime) -> date:
    """Today in the plan's zone (milestones are local dates)."""
    return now.astimezone(plan_service.plan_zone(plan_service.plan_spec(plan), user)).date()


def list_for_plan(session: Session, plan: Plan) -> list[Milestone]:
    """By date, then title."""
    return list(
        session.scalars(
            select(Milestone)
            .where(Milestone.plan_id == plan.id)
            .order_by(Milestone.due, Milestone.title, Milestone.id)
        )
    )


def views(rows: list[Milestone]) -> list[domain.MilestoneView]:
    return [domain.MilestoneView(r.title, r.due, r.done_on is not None) for r in rows]


def proposal(plan: Plan, user: User, now: datetime) -> list[domain.Proposal]:
    """Checkpoints worked backward from the goal's date; a missing or past date names the field."""
    spec = plan_service.plan_spec(plan)
    if spec.goal_by is None:
        raise InvalidInputError([("goal_by", "set the goal's date first (by when)")])
    try:
        return domain.propose(spec.goal_by, local_today(plan, user, now))
    except domain.GoalDateError as error:
        raise InvalidInputError([("goal_by", str(error))]) from None


def get(session: Session, user: User, milestone_id: int) -> Milestone:
    """The user's milestone; another user's is reported as not found."""
    row = session.get(Milestone, milestone_id)
    if row is None or row.user_id != user.id:
        raise NotFoundError("milestone")
    return row


def add(session: Session, user: User, plan: Plan, items: list[MilestoneInput]) -> list[Milestone]:
    """Add milestones to the plan (e.g. the accepted proposal)."""
    existing = len(list_for_plan(session, plan))
    if existing + len(items) > MAX_MILESTONES:
        raise InvalidInputError(
            [("milestones", f"a plan has at most {MAX_MILESTONES} milestones ({existing} now)")]
        )
    rows = [
        Milestone(user_id=user.id, plan_id=plan.id, title=i.title, due=i.due, done_on=i.done_on)
        for i in items
    ]
    session.add_all(rows)
    session.flush()
    return rows


def update(session: Session, user: User, milestone_id: int, item: MilestoneInput) -> Milestone:
    """Rename, move, or mark done (or not done) one milestone."""
    row = get(session, user, milestone_id)
    row.title, row.due, row.done_on = item.title, item.due, item.done_on
    session.flush()
    return row


def mark_done(session: Session, user: User, milestone_id: int, on: date) -> Milestone:
    """Mark a milestone done on ``on`` unless it already is."""
    row = get(session, user, milestone_id)
    if row.done_on is None:
        row.done_on = on
        session.flush()
    return row


def delete(session: Session, user: User, milestone_id: int) -> int:
    """Delete one milestone; answers its plan's id."""
    row = get(session, user, milestone_id)
    plan_id = row.plan_id
    session.delete(row)
    session.flush()
    return plan_id

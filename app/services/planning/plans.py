"""Growth plans: create, change, list, delete; always scoped to their owner."""

from __future__ import annotations

from datetime import datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.db.models import Block, Plan, User
from app.domain.plan import PlanSpec, plan_problems
from app.domain.time import IsoWeek, resolve_zone, weekday_of
from app.services.errors import InvalidInputError, NotFoundError
from app.services.people.users import WorkingHours, working_hours_of


def parse_spec(document: dict[str, Any]) -> PlanSpec:
    """Validate a plan document; errors name each bad field."""
    try:
        return PlanSpec.model_validate(document)
    except ValidationError as error:
        raise InvalidInputError(
            [
                (".".join(str(p) for p in item["loc"]) or "plan", item["msg"])
                for item in error.errors()
            ]
        ) from None


def check_spec(spec: PlanSpec, user: User) -> None:
    """Checks that need the user's context: does the plan fit their week at all?"""
    problems = plan_problems(spec, plan_working_hours(spec, user))
    if problems:
        raise InvalidInputError(problems)


def plan_working_hours(spec: PlanSpec, user: User) -> WorkingHours:
    """The plan's own working hours, or else the user's."""
    return spec.working_ranges(working_hours_of(user))


def plan_zone(spec: PlanSpec, user: User) -> ZoneInfo:
    """The plan's zone, or else the user's."""
    return resolve_zone(spec.timezone or user.timezone)


def allowed_time_left(spec: PlanSpec, user: User, week: IsoWeek, now: datetime) -> bool:
    """Whether any allowed day of `week` still has window and working time after `now`.

    A plan made on a Sunday evening cannot meet that week's target: that is no missed target.
    """
    zone = plan_zone(spec, user)
    hours = plan_working_hours(spec, user)
    windows = spec.window_ranges()
    for day in week.days():
        name = weekday_of(day)
        if name not in spec.days or not hours.get(name) or not windows:
            continue
        last = min(max(r.end_minute for r in windows), max(r.end_minute for r in hours[name]))
        end = datetime.combine(day, time(0), zone) + timedelta(minutes=last)
        if end > now:
            return True
    return False


def create_plan(session: Session, user: User, spec: PlanSpec, now: datetime | None = None) -> Plan:
    """Store a new plan after checking it fits the user's week (`now`: when it was made)."""
    check_spec(spec, user)
    plan = Plan(user_id=user.id, goal=spec.goal, spec=spec.model_dump(mode="json"))
    if now is not None:
        plan.created_at = plan.updated_at = now
    session.add(plan)
    session.flush()
    return plan


def replace_plan(session: Session, user: User, plan_id: int, spec: PlanSpec) -> Plan:
    """Replace a plan's document; blocks already booked stay until the next booking run."""
    plan = get_plan(session, user, plan_id)
    check_spec(spec, user)
    plan.goal = spec.goal
    plan.spec = spec.model_dump(mode="json")
    session.flush()
    return plan


def set_active(session: Session, user: User, plan_id: int, active: bool) -> Plan:
    plan = get_plan(session, user, plan_id)
    plan.active = active
    session.flush()
    return plan


def delete_plan(session: Session, user: User, plan_id: int) -> None:
    session.delete(get_plan(session, user, plan_id))
    session.flush()


def get_plan(session: Session, user: User, plan_id: int) -> Plan:
    """The user's plan; another user's plan is reported as not found."""
    plan = session.get(Plan, plan_id)
    if plan is None or plan.user_id != user.id:
        raise NotFoundError("plan")
    return plan


def list_plans(session: Session, user: User) -> list[Plan]:
    return list(session.scalars(select(Plan).where(Plan.user_id == user.id).order_by(Plan.id)))


def list_blocks(
    session: Session, user: User, plan_id: int | None = None, week: IsoWeek | None = None
) -> list[Block]:
    """The user's growth blocks in start order, optionally of one plan and/or one week."""
    query = select(Block).join(Plan, Plan.id == Block.plan_id).where(Plan.user_id == user.id)
    if plan_id is not None:
        query = query.where(Block.plan_id == plan_id)
    if week is not None:
        query = query.where(Block.week == str(week))
    return list(session.scalars(query.order_by(Block.start)))


def plan_spec(plan: Plan) -> PlanSpec:
    """The stored document as a PlanSpec (it was validated when stored)."""
    return PlanSpec.model_validate(plan.spec)

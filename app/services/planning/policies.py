"""Boundary policies: one per plan (a preset until the person writes their own)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.db.models import Plan, Policy, User
from app.domain.decide import Context, Invite, Verdict, decide
from app.domain.intervals import Interval
from app.domain.policy import DEFAULT_PRESET, PRESETS, PolicySpec
from app.domain.time import resolve_zone
from app.services.accounts.rows import target_calendar
from app.services.conflicts import access
from app.services.errors import InvalidInputError, NotFoundError
from app.services.people.users import user_domains
from app.services.planning.plans import get_plan, plan_spec, plan_zone


def parse_policy(document: dict[str, Any]) -> PolicySpec:
    """Validate a policy document; each error names the rule and field."""
    try:
        return PolicySpec.model_validate(document)
    except ValidationError as error:
        raise InvalidInputError(
            [
                (".".join(str(p) for p in item["loc"]) or "policy", item["msg"])
                for item in error.errors()
            ]
        ) from None


def preset(name: str) -> PolicySpec:
    if name not in PRESETS:
        known = ", ".join(sorted(PRESETS))
        raise InvalidInputError([("preset", f"unknown preset {name!r}; choose one of {known}")])
    return PRESETS[name]


@dataclass(frozen=True)
class PlanPolicy:
    """The policy a plan follows: its stored row, or (row None) the default preset."""

    row: Policy | None
    name: str
    spec: PolicySpec


def plan_policy(session: Session, plan: Plan) -> PlanPolicy:
    """The plan's stored policy, or the default preset when it has none."""
    row = session.scalars(select(Policy).where(Policy.plan_id == plan.id)).first()
    if row is None:
        return PlanPolicy(None, DEFAULT_PRESET, PRESETS[DEFAULT_PRESET])
    return PlanPolicy(row, row.name, PolicySpec.model_validate(row.document))


def policy_spec(session: Session, plan: Plan) -> PolicySpec:
    """The plan's policy, or the default preset when it has none."""
    return plan_policy(session, plan).spec


def policy_zone(session: Session, user: User, row: Policy) -> ZoneInfo:
    """The zone a stored policy's rules read times in: its plan's, else the person's."""
    if row.plan_id is None:
        return resolve_zone(user.timezone)
    plan = get_plan(session, user, row.plan_id)
    return plan_zone(plan_spec(plan), user)


def explain(
    session: Session,
    user: User,
    spec: PolicySpec,
    invite: Invite,
    *,
    block: Interval,
    now: datetime,
    zone: ZoneInfo,
    declines_this_week: int = 0,
) -> Verdict:
    """What `spec` would do with `invite` over `block`, and why. Nothing is written.

    The invite is taken to be on the account of the person's target calendar: when that
    account is book-only, a decline or move is shown as the flag it would become."""
    context = Context(
        now=now,
        zone=zone,
        user_domains=user_domains(session, user),
        block=block,
        declines_this_week=declines_this_week,
    )
    target = target_calendar(session, user)
    account = target[0] if target is not None else None
    return access.held_back(decide(invite, spec, context), account, account)


def set_policy(
    session: Session, user: User, plan_id: int, spec: PolicySpec, name: str = "custom"
) -> Policy:
    """Store (or replace) the plan's policy."""
    plan = get_plan(session, user, plan_id)
    row = session.scalars(select(Policy).where(Policy.plan_id == plan.id)).first()
    if row is None:
        row = Policy(user_id=user.id, plan_id=plan.id, name=name, document={})
        session.add(row)
    row.name = name
    row.document = spec.model_dump(mode="json")
    session.flush()
    return row


def get_policy(session: Session, user: User, policy_id: int) -> Policy:
    row = session.get(Policy, policy_id)
    if row is None or row.user_id != user.id:
        raise NotFoundError("policy")
    return row


def list_policies(session: Session, user: User) -> list[Policy]:
    return list(
        session.scalars(select(Policy).where(Policy.user_id == user.id).order_by(Policy.id))
    )


def delete_policy(session: Session, user: User, policy_id: int) -> None:
    session.delete(get_policy(session, user, policy_id))
    session.flush()

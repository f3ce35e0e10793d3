"""Boundary policies: one per plan (a preset until the person writes their own)."""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.db.models import Plan, Policy, User
from app.domain.policy import DEFAULT_PRESET, PRESETS, PolicySpec
from app.services.errors import InvalidInputError, NotFoundError
from app.services.plans import get_plan


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


def spec_for_plan(session: Session, plan: Plan) -> PolicySpec:
    """The plan's policy, or the default preset when it has none."""
    row = session.scalars(select(Policy).where(Policy.plan_id == plan.id)).first()
    return PolicySpec.model_validate(row.document) if row else PRESETS[DEFAULT_PRESET]


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

"""Boundary policies: presets, a plan's policy, and "explain" for a sample invite."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from fastapi import APIRouter
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, model_validator

from app.api.params import RowId
from app.db.models import Policy
from app.deps import CurrentUser, RuntimeDep, SessionDep
from app.domain.decide import Invite
from app.domain.intervals import Interval
from app.domain.policy import PRESETS, PolicySpec
from app.services.planning import plans as plan_service
from app.services.planning import policies as policy_service

router = APIRouter(tags=["policies"])


class PolicyOut(BaseModel):
    id: int | None
    plan_id: int | None
    name: str
    policy: PolicySpec


class SampleInvite(BaseModel):
    model_config = ConfigDict(extra="forbid")

    title: str = Field(max_length=500)
    start: AwareDatetime
    end: AwareDatetime
    organizer_email: str | None = None
    attendee_count: int = Field(default=2, ge=0, le=10000)
    recurring: bool = False
    self_response: Literal["needsAction", "tentative", "accepted"] = "needsAction"
    self_is_organizer: bool = False
    calendar: str = ""
    block_start: AwareDatetime | None = Field(
        default=None, description="The growth block it overlaps; default: the invite's own time"
    )
    block_end: AwareDatetime | None = None
    declines_this_week: int = Field(default=0, ge=0)

    @model_validator(mode="after")
    def _ordered(self) -> SampleInvite:
        if self.end < self.start:
            raise ValueError("end must not be before start")
        block_start, block_end = self.block_start or self.start, self.block_end or self.end
        if block_end < block_start:
            raise ValueError("block_end must not be before block_start")
        return self


class Explanation(BaseModel):
    action: str
    rule: str | None
    explanation: str
    writes: bool
    due_at: datetime | None


def _out(row: Policy) -> PolicyOut:
    return PolicyOut(
        id=row.id,
        plan_id=row.plan_id,
        name=row.name,
        policy=PolicySpec.model_validate(row.document),
    )


@router.get("/policies/presets", response_model=dict[str, PolicySpec])
def presets() -> dict[str, PolicySpec]:
    """The built-in presets: gentle (flag only), balanced (the default), strict."""
    return PRESETS


@router.get("/policies", response_model=list[PolicyOut])
def list_policies(user: CurrentUser, session: SessionDep) -> list[PolicyOut]:
    """The user's stored policies."""
    return [_out(row) for row in policy_service.list_policies(session, user)]


@router.get("/plans/{plan_id}/policy", response_model=PolicyOut)
def plan_policy(plan_id: RowId, user: CurrentUser, session: SessionDep) -> PolicyOut:
    """The plan's policy; a plan without one uses the balanced preset."""
    plan = plan_service.get_plan(session, user, plan_id)
    policy = policy_service.plan_policy(session, plan)
    if policy.row is None:
        return PolicyOut(id=None, plan_id=plan.id, name=policy.name, policy=policy.spec)
    return _out(policy.row)


@router.put("/plans/{plan_id}/policy", response_model=PolicyOut)
def set_plan_policy(
    plan_id: RowId, spec: PolicySpec, user: CurrentUser, session: SessionDep
) -> PolicyOut:
    """Replace the plan's policy (invalid rules get 422 naming the rule and field)."""
    return _out(policy_service.set_policy(session, user, plan_id, spec))


@router.put("/plans/{plan_id}/policy/preset/{name}", response_model=PolicyOut)
def use_preset(plan_id: RowId, name: str, user: CurrentUser, session: SessionDep) -> PolicyOut:
    """Use a preset for the plan (a copy: later edits do not change the preset)."""
    spec = policy_service.preset(name)
    return _out(policy_service.set_policy(session, user, plan_id, spec, name=name))


@router.get("/policies/{policy_id}", response_model=PolicyOut)
def get_policy(policy_id: RowId, user: CurrentUser, session: SessionDep) -> PolicyOut:
    return _out(policy_service.get_policy(session, user, policy_id))


@router.delete("/policies/{policy_id}", status_code=204)
def delete_policy(policy_id: RowId, user: CurrentUser, session: SessionDep) -> None:
    """Delete a policy; its plan goes back to the balanced preset."""
    policy_service.delete_policy(session, user, policy_id)


@router.post("/policies/{policy_id}/explain", response_model=Explanation)
def explain(
    policy_id: RowId,
    sample: SampleInvite,
    user: CurrentUser,
    session: SessionDep,
    runtime: RuntimeDep,
) -> Explanation:
    """What this policy would do with a sample invite, and why. Nothing is written."""
    row = policy_service.get_policy(session, user, policy_id)
    invite = Invite(
        title=sample.title,
        start=sample.start,
        end=sample.end,
        organizer_email=sample.organizer_email,
        self_is_organizer=sample.self_is_organizer,
        self_response=sample.self_response,
        attendee_count=sample.attendee_count,
        recurring=sample.recurring,
        calendar=sample.calendar,
        calendar_id=sample.calendar,
    )
    verdict = policy_service.explain(
        session,
        user,
        PolicySpec.model_validate(row.document),
        invite,
        block=Interval(sample.block_start or sample.start, sample.block_end or sample.end),
        now=runtime.clock(),
        zone=policy_service.policy_zone(session, user, row),
        declines_this_week=sample.declines_this_week,
    )
    return Explanation(
        action=verdict.action,
        rule=verdict.rule,
        explanation=verdict.explanation,
        writes=verdict.writes,
        due_at=verdict.due_at,
    )

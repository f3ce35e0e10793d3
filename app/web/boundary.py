"""Dashboard page: the boundary policy (preset, rules form, YAML, dry run, explain)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import yaml
from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, Response
from sqlalchemy import select

from app.db.models import Policy
from app.deps import RuntimeDep, SessionDep
from app.domain.decide import Context, Invite, decide
from app.domain.intervals import Interval
from app.domain.policy import DEFAULT_PRESET, PRESETS, PolicySpec
from app.services import policies as policy_service
from app.services.errors import InvalidInputError
from app.services.resolve import user_domains
from app.web.context import Page, form_action, signed_in
from app.web.forms import see_other
from app.web.planning import first_plan, page_zone

router = APIRouter(include_in_schema=False)

MATCHERS = {
    "organizer_in": "Organizer is one of (emails or @domains, comma-separated)",
    "attendees_at_least": "At least this many attendees",
    "starts_within_hours": "Starts within this many hours",
    "title_matches": "Title matches (regular expression)",
    "external": "Organizer is outside my domains (yes/no)",
    "recurring": "Is a recurring meeting (yes/no)",
}
ACTIONS = ["flag", "decline", "decline_after", "move_block", "allow"]


def _current(page: Page) -> tuple[Any, PolicySpec, str]:
    plan = first_plan(page)
    if plan is None:
        return None, PRESETS[DEFAULT_PRESET], DEFAULT_PRESET
    row = page.session.scalars(select(Policy).where(Policy.plan_id == plan.id)).first()
    if row is None:
        return plan, PRESETS[DEFAULT_PRESET], DEFAULT_PRESET
    return plan, PolicySpec.model_validate(row.document), row.name


def _page(
    page: Page, errors: list[tuple[str, str]] | None = None, status: int = 200, **extra: Any
) -> Response:
    plan, spec, name = _current(page)
    document = spec.model_dump(mode="json", exclude_none=True)
    return page.render(
        "boundary.html",
        "boundary",
        status_code=status,
        plan=plan,
        policy=spec,
        name=name,
        policy_yaml=extra.pop("policy_yaml", None) or yaml.safe_dump(document, sort_keys=False),
        presets=sorted(PRESETS),
        matchers=MATCHERS,
        actions=ACTIONS,
        errors=errors,
        **extra,
    )


@router.get("/dashboard/boundary", response_class=HTMLResponse)
def boundary(request: Request, runtime: RuntimeDep, session: SessionDep) -> Response:
    return signed_in(request, runtime, session, _page)


def _save(page: Page, spec: PolicySpec, name: str) -> Response:
    plan = first_plan(page)
    if plan is None:
        raise InvalidInputError([("plan", "create a plan first (Goal and plan)")])
    policy_service.set_policy(page.session, page.user, plan.id, spec, name=name)
    return see_other("/dashboard/boundary?flash=Boundary+saved")


@router.post("/dashboard/boundary", response_class=HTMLResponse)
async def save(request: Request, runtime: RuntimeDep, session: SessionDep) -> Response:
    form = {k: str(v) for k, v in (await request.form()).items()}
    action = form.get("action", "")

    def act(page: Page) -> Response:
        _, spec, name = _current(page)
        if action == "preset":
            return _save(
                page, policy_service.preset(form.get("preset", "")), form.get("preset", "")
            )
        if action == "dry_run":
            guard = spec.guardrails.model_copy(update={"dry_run": form.get("dry_run") == "on"})
            return _save(page, spec.model_copy(update={"guardrails": guard}), name)
        if action == "yaml":
            try:
                document = yaml.safe_load(form.get("policy_yaml", "")) or {}
            except yaml.YAMLError:
                raise InvalidInputError([("policy_yaml", "not valid YAML")]) from None
            if not isinstance(document, dict):
                raise InvalidInputError([("policy_yaml", "expected a mapping at the top level")])
            return _save(page, policy_service.parse_policy(document), "custom")
        if action == "add_rule":
            return _save(page, _with_rule(spec, form), "custom")
        if action.startswith("delete_rule:"):
            index = int(action.split(":", 1)[1])
            rules = [r for i, r in enumerate(spec.rules) if i != index]
            return _save(page, spec.model_copy(update={"rules": rules}), "custom")
        if action == "explain":
            return _page(page, explained=_explain(page, spec, form))
        raise InvalidInputError([("action", "unknown action")])

    def failed(page: Page, errors: list[tuple[str, str]], status: int) -> Response:
        return _page(page, errors, status, policy_yaml=form.get("policy_yaml"))

    # Validating, explaining and saving touch the database and run user patterns: never on
    # the event loop, which must keep answering every other request meanwhile.
    return await run_in_threadpool(
        form_action, request, runtime, session, form.get("csrf_token", ""), act, failed
    )


def _with_rule(spec: PolicySpec, form: dict[str, str]) -> PolicySpec:
    matcher, raw = form.get("matcher", ""), form.get("value", "").strip()
    value: Any = raw
    if matcher == "organizer_in":
        value = [part.strip() for part in raw.split(",") if part.strip()]
    elif matcher in ("external", "recurring"):
        value = raw.lower() in ("yes", "true", "1", "on")
    rule: dict[str, Any] = {
        "name": form.get("name", ""),
        "when": {matcher: value},
        "then": form.get("then", ""),
    }
    if form.get("then") == "decline_after":
        rule["grace_hours"] = form.get("grace_hours") or 4
    document = spec.model_dump(mode="json", exclude_none=True)
    document["rules"] = [*document.get("rules", []), rule]
    return policy_service.parse_policy(document)


def _explain(page: Page, spec: PolicySpec, form: dict[str, str]) -> dict[str, Any]:
    zone = page_zone(page)
    now = page.runtime.clock()
    try:
        hours_ahead = float(form.get("hours_ahead") or 48)
        attendees = int(form.get("attendees") or 2)
    except ValueError:
        raise InvalidInputError([("attendees", "enter numbers")]) from None
    start = now + timedelta(hours=hours_ahead)
    invite = Invite(
        title=form.get("title") or "Sample invite",
        start=start,
        end=start + timedelta(hours=1),
        organizer_email=form.get("organizer") or None,
        self_is_organizer=False,
        self_response="needsAction",
        attendee_count=attendees,
        recurring=form.get("recurring") == "on",
        calendar="",
        calendar_id="",
    )
    context = Context(
        now=now,
        zone=zone,
        user_domains=user_domains(page.session, page.user),
        block=Interval(start, start + timedelta(hours=1)),
        declines_this_week=0,
    )
    verdict = decide(invite, spec, context)
    return {"action": verdict.action, "rule": verdict.rule, "explanation": verdict.explanation}

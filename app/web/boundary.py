"""Dashboard page: the boundary policy (preset, rules form, YAML, dry run, explain)."""

from __future__ import annotations

import math
from datetime import timedelta
from typing import Any

import yaml
from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from app.deps import RuntimeDep, SessionDep
from app.domain.decide import Invite
from app.domain.intervals import Interval
from app.domain.policy import DEFAULT_PRESET, PRESETS, PolicySpec
from app.html.fielderrors import FormFields, plain
from app.html.forms import see_other
from app.html.words import ACTION_LABELS
from app.services.errors import InvalidInputError, MalformedRequestError
from app.services.planning import policies as policy_service
from app.web.context import Page, post_form, signed_in
from app.web.planning import first_plan, page_zone

router = APIRouter(include_in_schema=False)

MATCHERS = {
    "organizer_in": "Organizer is one of (emails or @domains, comma-separated)",
    "attendees_at_least": "At least this many attendees",
    "starts_within_hours": "Invite arrives less than this many hours ahead",
    "title_matches": "Title matches (regular expression)",
    "external": "Organizer is outside my domains (yes or no)",
    "recurring": "Is a recurring meeting (yes or no)",
}
ACTIONS = ["flag", "decline", "decline_after", "move_block", "allow"]
YES_NO = {"yes": True, "no": False}
MAX_HOURS_AHEAD = 24 * 366
MAX_ATTENDEES = 100_000
CUSTOM = "custom"

FIELDS = FormFields(
    labels={
        "preset": "Preset",
        "rule-name": "Name",
        "rule-matcher": "When",
        "rule-value": "Value",
        "rule-then": "Then",
        "rule-grace": "Grace hours",
        "policy_yaml": "Policy (YAML)",
        "ex-attendees": "Attendees",
        "ex-hours": "Starts in (hours)",
    },
    paths={"policy_yaml-empty": "policy_yaml"},
)


def _current(page: Page) -> tuple[Any, PolicySpec, str]:
    plan = first_plan(page)
    if plan is None:
        return None, PRESETS[DEFAULT_PRESET], DEFAULT_PRESET
    policy = policy_service.plan_policy(page.session, plan)
    return plan, policy.spec, policy.name


def _page(
    page: Page, errors: list[tuple[str, str]] | None = None, status: int = 200, **extra: Any
) -> Response:
    plan, spec, name = _current(page)
    document = _whole_numbers(spec.model_dump(mode="json", exclude_none=True))
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
        action_names=ACTION_LABELS,
        errors=errors,
        fields=FIELDS,
        **extra,
    )


def _whole_numbers(value: Any) -> Any:
    """24.0 → 24 for the YAML a person reads (the model takes either)."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, dict):
        return {k: _whole_numbers(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_whole_numbers(v) for v in value]
    return value


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
            return _save(page, _from_yaml(form), CUSTOM)
        if action == "add_rule":
            return _save(page, _with_rule(spec, form), CUSTOM)
        if action.startswith("delete_rule:"):
            number = action.split(":", 1)[1]
            if not number.isdigit() or int(number) >= len(spec.rules):
                raise MalformedRequestError([("action", "no such rule to remove")])
            index = int(number)
            rules = [r for i, r in enumerate(spec.rules) if i != index]
            return _save(page, spec.model_copy(update={"rules": rules}), "custom")
        if action == "explain":
            return _page(page, explained=_explain(page, spec, form), sample=form)
        raise InvalidInputError([("action", "unknown action")])

    def failed(page: Page, errors: list[tuple[str, str]], status: int) -> Response:
        # What the person typed stays in the form it came from.
        return _page(
            page,
            errors,
            status,
            policy_yaml=form.get("policy_yaml"),
            rule_form=form if action == "add_rule" else {},
            sample=form if action == "explain" else {},
            confirm_empty=any(f == "policy_yaml-empty" for f, _ in errors),
        )

    # Validating, explaining and saving touch the database and run user patterns: never on
    # the event loop, which must keep answering every other request meanwhile.
    return await post_form(request, runtime, session, form, act, failed)


def _from_yaml(form: dict[str, str]) -> PolicySpec:
    """The YAML box's policy; errors give the line and column, or the rule and field."""
    text = form.get("policy_yaml", "")
    if not text.strip() and form.get("confirm_empty") != "yes":
        raise InvalidInputError(
            [
                (
                    "policy_yaml-empty",
                    "the box is empty: saving it removes every rule, so the default applies to "
                    "every invite. Tick the box below to confirm, or undo your change",
                )
            ]
        )
    try:
        document = yaml.safe_load(text) or {}
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
        problem = error.problem or error.context or "not valid YAML"
        raise InvalidInputError([("policy_yaml", f"{where}{problem}")]) from None
    except yaml.YAMLError:
        raise InvalidInputError([("policy_yaml", "not valid YAML")]) from None
    if not isinstance(document, dict):
        raise InvalidInputError(
            [("policy_yaml", "expected settings such as 'rules:' and 'default:' at the top")]
        )
    try:
        return policy_service.parse_policy(document)
    except InvalidInputError as error:
        raise InvalidInputError(
            [
                ("policy_yaml", f"{_where(path)}: {plain(message)}")
                for path, message in error.problems
            ]
        ) from None


def _where(path: str) -> str:
    """ "rules.2.when.attendees_at_least" → "rule 3, when attendees at least"."""
    parts = path.split(".")
    words: list[str] = []
    if len(parts) >= 2 and parts[0] == "rules" and parts[1].isdigit():
        words.append(f"rule {int(parts[1]) + 1}")
        parts = parts[2:]
    if parts:
        words.append(" ".join(parts).replace("_", " "))
    return ", ".join(words) or "policy"


def _rule_field(path: str) -> str:
    parts = path.split(".")
    if len(parts) >= 3 and parts[0] == "rules":
        return {"name": "rule-name", "when": "rule-value", "then": "rule-then"}.get(
            parts[2], "rule-grace" if parts[2] == "grace_hours" else "form"
        )
    return "form"


def _with_rule(spec: PolicySpec, form: dict[str, str]) -> PolicySpec:
    matcher, raw = form.get("matcher", ""), form.get("value", "").strip()
    value: Any = raw
    if matcher not in MATCHERS:
        raise InvalidInputError([("rule-matcher", "choose a condition from the list")])
    if matcher == "organizer_in":
        value = [part.strip() for part in raw.split(",") if part.strip()]
    elif matcher in ("external", "recurring"):
        if raw.lower() not in YES_NO:
            raise InvalidInputError([("rule-value", "answer yes or no")])
        value = YES_NO[raw.lower()]
    rule: dict[str, Any] = {
        "name": form.get("name", ""),
        "when": {matcher: value},
        "then": form.get("then", ""),
    }
    if form.get("then") == "decline_after":
        rule["grace_hours"] = form.get("grace_hours") or 4
    document = spec.model_dump(mode="json", exclude_none=True)
    document["rules"] = [*document.get("rules", []), rule]
    try:
        return policy_service.parse_policy(document)
    except InvalidInputError as error:
        raise InvalidInputError(
            [(_rule_field(path), message) for path, message in error.problems]
        ) from None


def _number(form: dict[str, str], name: str, field: str, default: float, most: float) -> float:
    """A number from the explain form, within 0..most (the API's limits), or a field error."""
    raw = form.get(name, "").strip()
    try:
        value = float(raw) if raw else default
    except ValueError:
        raise InvalidInputError([(field, "enter a number")]) from None
    if not math.isfinite(value) or not 0 <= value <= most:
        raise InvalidInputError([(field, f"enter a number from 0 to {most:g}")])
    return value


def _explain(page: Page, spec: PolicySpec, form: dict[str, str]) -> dict[str, Any]:
    zone = page_zone(page)
    now = page.runtime.clock()
    hours_ahead = _number(form, "hours_ahead", "ex-hours", 48.0, MAX_HOURS_AHEAD)
    attendees = _number(form, "attendees", "ex-attendees", 2.0, MAX_ATTENDEES)
    if attendees != int(attendees):
        raise InvalidInputError([("ex-attendees", "enter a whole number")])
    start = now + timedelta(hours=hours_ahead)
    invite = Invite(
        title=form.get("title") or "Sample invite",
        start=start,
        end=start + timedelta(hours=1),
        organizer_email=form.get("organizer") or None,
        self_is_organizer=False,
        self_response="needsAction",
        attendee_count=int(attendees),
        recurring=form.get("recurring") == "on",
        calendar="",
        calendar_id="",
    )
    verdict = policy_service.explain(
        page.session,
        page.user,
        spec,
        invite,
        block=Interval(start, start + timedelta(hours=1)),
        now=now,
        zone=zone,
    )
    return {"action": verdict.action, "rule": verdict.rule, "explanation": verdict.explanation}

"""Dashboard pages for growth: milestones, the growth log, counting rules, the quarterly review.

Also the one-field page a signed log link opens (from an email or the in-app list), which works
without signing in: the link is the key, and it is used once.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any
from urllib.parse import quote_plus

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, Response

from app import tasks
from app.api.params import RowId
from app.db.models import Plan
from app.deps import RuntimeDep, SessionDep
from app.domain.growth_rules import GrowthRules, rule_matched
from app.domain.ledger import previous_quarter
from app.domain.time import IsoWeek, resolve_zone
from app.html import render, templates
from app.html.fielderrors import NO_FIELDS, FormFields
from app.html.forms import see_other
from app.services import links
from app.services.errors import InvalidInputError
from app.services.growth import counting, export, review
from app.services.growth import log as growth_log
from app.services.growth import milestones as milestone_service
from app.services.planning import plans as plan_service
from app.web.context import Page, post_form, signed_in
from app.web.planning import first_plan

router = APIRouter(include_in_schema=False)
templates.env.filters.setdefault("tz", resolve_zone)  # "Europe/Berlin"|tz -> ZoneInfo
TEXT_MAX, ANSWER_MAX = 300, 4000
KEEP_MAX = 10_000  # what is shown again of one typed field (the limits above say the rest)
Errors = list[tuple[str, str]] | None


@dataclass(frozen=True)
class Sent:
    """One form as the person sent it: which form on the page, its fields, what they typed."""

    form: str = ""
    fields: FormFields = NO_FIELDS
    values: Mapping[str, str] = field(default_factory=dict)

    def of(self, form: str | int) -> Mapping[str, str]:
        """What was typed into `form` (nothing for the page's other forms)."""
        return self.values if self.form and self.form == str(form) else {}


NOTHING_SENT = Sent()
View = Callable[[Page, Errors, int, Sent], Response]


def _sent(form_key: str, fields: FormFields, form: Mapping[str, Any]) -> Sent:
    values = {
        name: value[:KEEP_MAX]
        for name, value in form.items()
        if isinstance(value, str) and name not in {"csrf_token", "t"}
    }
    return Sent(form_key, fields, values)


def _shown(sent: Sent) -> dict[str, Any]:
    """The template context of a form's errors: fields to show them at, values to keep."""
    return {"fields": sent.fields, "typed": sent}


# The forms' inputs, by page. Ids are unique on their page: one row's form names its row.
def milestone_fields(key: str | int) -> FormFields:
    """The fields of one milestone's form (`key`: its id, or "new" for the add form)."""
    prefix = f"milestone-{key}"
    return FormFields(
        labels={f"{prefix}-title": "Milestone", f"{prefix}-due": "Due", f"{prefix}-done": "Done"},
        paths={"title": f"{prefix}-title", "due": f"{prefix}-due"},
    )


def entry_fields(prefix: str) -> FormFields:
    """The fields of a log entry's form (`prefix`: "entry-<id>", or "log" on a link's page)."""
    return FormFields(
        labels={
            f"{prefix}-text": "What you did",
            f"{prefix}-outcome": "Outcome",
            f"{prefix}-milestone": "Milestone",
            f"{prefix}-done": "Milestone done",
        },
        paths={
            "text": f"{prefix}-text",
            "outcome": f"{prefix}-outcome",
            "milestone_id": f"{prefix}-milestone",
        },
    )


RULE_FIELDS = FormFields(
    labels={
        "rule-keyword": "Tag in the title",
        "rule-organizers": "Organizers",
        "rule-words": "Title words",
        "rule-calendars": "Calendars",
    },
    paths={
        "keyword": "rule-keyword",
        "organizers": "rule-organizers",
        "title_words": "rule-words",
        "calendars": "rule-calendars",
    },
)
# The quarter rides in a hidden input: a bad one (an edited page) is the form's problem.
ANSWER_FIELDS = FormFields(
    labels={f"answer-{key}": question for key, question in review.PROMPTS},
    paths={key: f"answer-{key}" for key, _ in review.PROMPTS},
)
GOAL_FIELDS = FormFields(
    labels={"adjust-goal": "Goal", "adjust-by": "By", "adjust-target": "Weekly target"},
    paths={
        "goal": "adjust-goal",
        "goal_by": "adjust-by",
        "weekly_target_minutes": "adjust-target",
    },
)


def _text(form: dict[str, Any], name: str, limit: int, required: bool = False) -> str:
    raw = str(form.get(name, ""))
    # One-line fields collapse their whitespace; long answers keep their line breaks.
    value = " ".join(raw.split()) if limit <= TEXT_MAX else raw.strip()
    if required and not value:
        raise InvalidInputError([(name, "write at least a few words")])
    if len(value) > limit:
        raise InvalidInputError([(name, f"use at most {limit} characters")])
    return value


def _date(form: dict[str, Any], name: str, required: bool = True) -> date | None:
    raw = str(form.get(name, "")).strip()
    if not raw and not required:
        return None
    try:
        return date.fromisoformat(raw)
    except ValueError:
        raise InvalidInputError([(name, "give a date like 2027-03-01")]) from None


def _int(form: dict[str, Any], name: str, problem: str = "choose one from the list") -> int | None:
    raw = str(form.get(name, "")).strip()
    if not raw:
        return None
    if not raw.isdigit() or len(raw) > 10:
        raise InvalidInputError([(name, problem)])
    return int(raw)


def _back(form: dict[str, Any], default: str, flash: str) -> Response:
    # Only our own pages: a form cannot send the browser anywhere else.
    target = str(form.get("next", ""))
    allowed = {
        "/dashboard/milestones",
        "/dashboard/growth-log",
        "/dashboard/review",
        "/dashboard/growth-rules",
        "/dashboard/week",
    }
    url = target if target.split("?")[0] in allowed and "//" not in target else default
    joiner = "&" if "?" in url else "?"
    return see_other(f"{url}{joiner}flash={quote_plus(flash)}")


async def _post(
    request: Request,
    runtime: RuntimeDep,
    session: SessionDep,
    act: Callable[[Page, dict[str, Any]], Response],
    show: View,
    form_key: str = "",
    fields: FormFields = NO_FIELDS,
) -> Response:
    """Run a form's action; on a problem, show the page again with what was typed kept."""
    form = dict(await request.form())
    sent = _sent(form_key, fields, form)
    return await post_form(
        request,
        runtime,
        session,
        form,
        lambda page: act(page, form),
        lambda page, errors, code: show(page, errors, code, sent),
    )


def _retitle(page: Page, plan_id: int) -> None:
    # At the provider, so after the request's commit (never inside its transaction). The
    # title is cosmetic: a provider that fails then is retried by the next booking.
    page.after_commit(tasks.retitle_plan, plan_id)


# --- milestones ---------------------------------------------------------------------------


def _milestones(
    page: Page, errors: Errors = None, code: int = 200, sent: Sent = NOTHING_SENT
) -> Response:
    plan = first_plan(page)
    if plan is None:
        return page.render(
            "growth_milestones.html", "milestones", code, plan=None, errors=errors, **_shown(sent)
        )
    spec = plan_service.plan_spec(plan)
    rows = milestone_service.list_for_plan(page.session, plan)
    proposal: list[Any] = []
    proposal_problem = ""
    try:
        taken = {m.due for m in rows}
        found = milestone_service.proposal(plan, page.user, page.runtime.clock())
        proposal = [p for p in found if p.due not in taken]
    except InvalidInputError as error:
        proposal_problem = error.problems[0][1]
    return page.render(
        "growth_milestones.html",
        "milestones",
        code,
        plan=plan,
        spec=spec,
        milestones=rows,
        proposal=proposal,
        proposal_problem=proposal_problem,
        errors=errors,
        **_shown(sent),
    )


@router.get("/dashboard/milestones", response_class=HTMLResponse)
def milestones_page(request: Request, runtime: RuntimeDep, session: SessionDep) -> Response:
    return signed_in(request, runtime, session, _milestones)


def _plan_or_refuse(page: Page) -> Plan:
    plan = first_plan(page)
    if plan is None:
        raise InvalidInputError([("plan", "create a plan on Goal and plan first")])
    return plan


@router.post("/dashboard/milestones/accept", response_class=HTMLResponse)
async def accept_proposal(request: Request, runtime: RuntimeDep, session: SessionDep) -> Response:
    def act(page: Page, form: dict[str, Any]) -> Response:
        plan = _plan_or_refuse(page)
        found = milestone_service.proposal(plan, page.user, page.runtime.clock())
        taken = {m.due for m in milestone_service.list_for_plan(page.session, plan)}
        # Accepting twice (a double click, a second tab) adds nothing twice.
        items = [
            milestone_service.MilestoneInput(p.title, p.due) for p in found if p.due not in taken
        ]
        milestone_service.add(page.session, page.user, plan, items)
        _retitle(page, plan.id)
        return _back(form, "/dashboard/milestones", f"{len(items)} milestones added")

    return await _post(request, runtime, session, act, _milestones)


@router.post("/dashboard/milestones", response_class=HTMLResponse)
async def add_milestone(request: Request, runtime: RuntimeDep, session: SessionDep) -> Response:
    def act(page: Page, form: dict[str, Any]) -> Response:
        plan = _plan_or_refuse(page)
        title = _text(form, "title", 200, required=True)
        due = _date(form, "due")
        assert due is not None
        milestone_service.add(
            page.session, page.user, plan, [milestone_service.MilestoneInput(title, due)]
        )
        _retitle(page, plan.id)
        return _back(form, "/dashboard/milestones", "Milestone added")

    return await _post(request, runtime, session, act, _milestones, "new", milestone_fields("new"))


@router.post("/dashboard/milestones/{milestone_id}", response_class=HTMLResponse)
async def edit_milestone(
    milestone_id: RowId, request: Request, runtime: RuntimeDep, session: SessionDep
) -> Response:
    def act(page: Page, form: dict[str, Any]) -> Response:
        row = milestone_service.get(page.session, page.user, milestone_id)
        title = _text(form, "title", 200, required=True)
        due = _date(form, "due")
        assert due is not None
        today = milestone_service.local_today(
            page.session.get_one(Plan, row.plan_id), page.user, page.runtime.clock()
        )
        done_on = (row.done_on or today) if form.get("done") else None
        milestone_service.update(
            page.session,
            page.user,
            milestone_id,
            milestone_service.MilestoneInput(title, due, done_on),
        )
        _retitle(page, row.plan_id)
        return _back(form, "/dashboard/milestones", "Milestone saved")

    key = str(milestone_id)
    return await _post(request, runtime, session, act, _milestones, key, milestone_fields(key))


@router.post("/dashboard/milestones/{milestone_id}/delete", response_class=HTMLResponse)
async def remove_milestone(
    milestone_id: RowId, request: Request, runtime: RuntimeDep, session: SessionDep
) -> Response:
    def act(page: Page, form: dict[str, Any]) -> Response:
        plan_id = milestone_service.delete(page.session, page.user, milestone_id)
        _retitle(page, plan_id)
        return _back(form, "/dashboard/milestones", "Milestone deleted")

    return await _post(request, runtime, session, act, _milestones)


# --- the growth log -----------------------------------------------------------------------


def _log(page: Page, errors: Errors = None, code: int = 200, sent: Sent = NOTHING_SENT) -> Response:
    secret = page.runtime.settings.secret_key.get_secret_value()
    growth_log.ask(page.session, page.user, page.runtime.clock(), secret)
    waiting = [
        (block, growth_log.link_path(secret, page.user.id, block.id))
        for block in growth_log.ended_unlogged(page.session, page.user, page.runtime.clock())
    ]
    plan = first_plan(page)
    stones = milestone_service.list_for_plan(page.session, plan) if plan else []
    return page.render(
        "growth_log.html",
        "growth-log",
        code,
        waiting=waiting,
        entries=growth_log.entries(page.session, page.user),
        milestones=stones,
        zone=page.user.timezone,
        errors=errors,
        **_shown(sent),
    )


@router.get("/dashboard/growth-log", response_class=HTMLResponse)
def log_page(request: Request, runtime: RuntimeDep, session: SessionDep) -> Response:
    return signed_in(request, runtime, session, _log)


def _entry_from(form: dict[str, Any]) -> growth_log.EntryInput:
    return growth_log.EntryInput(
        text=_text(form, "text", TEXT_MAX, required=True),
        outcome=_text(form, "outcome", TEXT_MAX),
        milestone_id=_int(form, "milestone_id"),
        milestone_done=bool(form.get("milestone_done")),
    )


@router.post("/dashboard/growth-log/{entry_id}", response_class=HTMLResponse)
async def edit_entry(
    entry_id: RowId, request: Request, runtime: RuntimeDep, session: SessionDep
) -> Response:
    def act(page: Page, form: dict[str, Any]) -> Response:
        growth_log.update(page.session, page.user, entry_id, _entry_from(form))
        return _back(form, "/dashboard/growth-log", "Entry saved")

    key = str(entry_id)
    return await _post(request, runtime, session, act, _log, key, entry_fields(f"entry-{key}"))


@router.post("/dashboard/growth-log/{entry_id}/delete", response_class=HTMLResponse)
async def remove_entry(
    entry_id: RowId, request: Request, runtime: RuntimeDep, session: SessionDep
) -> Response:
    def act(page: Page, form: dict[str, Any]) -> Response:
        growth_log.delete(page.session, page.user, entry_id)
        return _back(form, "/dashboard/growth-log", "Entry deleted")

    return await _post(request, runtime, session, act, _log)


# --- the one-field page of a signed link ----------------------------------------------------


def _link_page(
    request: Request, session: SessionDep, runtime: RuntimeDep, block_id: int, token: str
) -> tuple[Any, Any] | HTMLResponse:
    secret = runtime.settings.secret_key.get_secret_value()
    try:
        return growth_log.read_link(session, secret, block_id, token)
    except links.LinkRejectedError as error:
        return render(request, "problem.html", {"message": str(error), "user": None}, 410)


LINK_FIELDS = entry_fields("log")


def _link_form(
    request: Request,
    session: SessionDep,
    found: tuple[Any, Any],
    token: str,
    errors: Errors = None,
    sent: Sent = NOTHING_SENT,
) -> HTMLResponse:
    user, block = found
    plan = session.get_one(Plan, block.plan_id)
    return render(
        request,
        "growth_log_link.html",
        {
            "user": None,
            "token": token,
            "block": block,
            "zone": user.timezone,
            "goal": plan_service.plan_spec(plan).goal,
            "milestones": [
                m for m in milestone_service.list_for_plan(session, plan) if m.done_on is None
            ],
            "errors": errors,
            **_shown(sent),
        },
        422 if errors else 200,
    )


@router.get("/growth/blocks/{block_id}/log", response_class=HTMLResponse)
def log_link_page(
    block_id: RowId, request: Request, session: SessionDep, runtime: RuntimeDep, t: str = ""
) -> HTMLResponse:
    """What did you do in this block? One line (nothing changes on GET)."""
    found = _link_page(request, session, runtime, block_id, t[:2000])
    if isinstance(found, HTMLResponse):
        return found
    return _link_form(request, session, found, t)


@router.post("/growth/blocks/{block_id}/log", response_class=HTMLResponse)
async def log_link_submit(
    block_id: RowId, request: Request, session: SessionDep, runtime: RuntimeDep
) -> HTMLResponse:
    """Record the entry and use the link up."""
    form = dict(await request.form())
    token = str(form.get("t", ""))[:2000]

    def act() -> HTMLResponse:
        found = _link_page(request, session, runtime, block_id, token)
        if isinstance(found, HTMLResponse):
            return found
        user, block = found
        try:
            entry = _entry_from(form)
            growth_log.use_link(
                session, runtime.settings.secret_key.get_secret_value(), token, runtime.clock()
            )
            growth_log.create(session, user, block.id, entry, runtime.clock())
        except InvalidInputError as error:
            # The link stays good: the same page again, the problem at its field.
            session.rollback()
            sent = _sent("link", LINK_FIELDS, form)
            return _link_form(request, session, found, token, error.problems, sent)
        except links.LinkRejectedError as error:
            session.rollback()
            return render(request, "problem.html", {"message": str(error), "user": None}, 422)
        return render(
            request,
            "choice.html",
            {"message": "Logged. Thank you — it is in your growth log.", "user": None},
        )

    return await run_in_threadpool(act)


# --- what counts as growth ----------------------------------------------------------------


def _rules(
    page: Page, errors: Errors = None, code: int = 200, sent: Sent = NOTHING_SENT
) -> Response:
    rules = counting.rules_of(page.session, page.user)
    plan = first_plan(page)
    zone = plan_service.plan_zone(plan_service.plan_spec(plan), page.user) if plan else None
    now = page.runtime.clock()
    week = IsoWeek.containing(now, zone) if zone else None
    events: list[dict[str, Any]] = []
    if week is not None and zone is not None:
        # This week and the next, so marks can be set ahead.
        rows = counting.events_to_count(
            page.session, page.user, week.start(zone), week.end(zone) + timedelta(days=7)
        )
        decide = counting.decider(page.session, page.user)
        for row, calendar in rows:
            mark = decide.marks.get((row.calendar_id, row.provider_event_id))
            why = rule_matched(
                rules, title=row.title, organizer=row.organizer_email, calendar=calendar.name
            )
            events.append(
                {
                    "row": row,
                    "start": row.start.astimezone(zone),
                    "growth": decide.row(row),
                    "why": "your mark" if mark is not None else (why or ""),
                    "marked": mark is not None,
                }
            )
    return page.render(
        "growth_rules.html",
        "growth-rules",
        code,
        rules=rules,
        events=events,
        errors=errors,
        **_shown(sent),
    )


@router.get("/dashboard/growth-rules", response_class=HTMLResponse)
def rules_page(request: Request, runtime: RuntimeDep, session: SessionDep) -> Response:
    return signed_in(request, runtime, session, _rules)


def _lines(form: dict[str, Any], name: str) -> list[str]:
    items = [line.strip() for line in str(form.get(name, "")).splitlines() if line.strip()]
    if len(items) > 50 or any(len(item) > 320 for item in items):
        raise InvalidInputError([(name, "use at most 50 lines, each at most 320 characters")])
    return items


@router.post("/dashboard/growth-rules", response_class=HTMLResponse)
async def save_rules(request: Request, runtime: RuntimeDep, session: SessionDep) -> Response:
    def act(page: Page, form: dict[str, Any]) -> Response:
        rules = GrowthRules.of(
            keyword=_text(form, "keyword", 50),
            organizers=_lines(form, "organizers"),
            title_words=_lines(form, "title_words"),
            calendars=_lines(form, "calendars"),
        )
        counting.set_rules(page.session, page.user, rules)
        return see_other("/dashboard/growth-rules?flash=Rules+saved")

    return await _post(request, runtime, session, act, _rules, "rules", RULE_FIELDS)


@router.post("/dashboard/calendars/{calendar_id}/growth-mark", response_class=HTMLResponse)
async def mark_event(
    calendar_id: RowId, request: Request, runtime: RuntimeDep, session: SessionDep
) -> Response:
    def act(page: Page, form: dict[str, Any]) -> Response:
        event_id = str(form.get("event_id", ""))[:1024]
        choice = {"yes": True, "no": False}.get(str(form.get("growth", "")))
        counting.set_mark(page.session, page.user, calendar_id, event_id, choice)
        return _back(form, "/dashboard/growth-rules", "Saved")

    return await _post(request, runtime, session, act, _rules)


# --- the quarterly review -----------------------------------------------------------------


def _quarter(page: Page, plan: Plan, sent: Sent) -> review.Quarter:
    # A form shown again stays on the quarter it was sent for.
    text = sent.values.get("quarter") or page.request.query_params.get("quarter")
    if text:
        try:
            return review.Quarter.parse(text)
        except InvalidInputError:
            pass  # a bad address shows the current quarter
    return review.current_quarter(plan, page.user, page.runtime.clock())


def _review(
    page: Page, errors: Errors = None, code: int = 200, sent: Sent = NOTHING_SENT
) -> Response:
    plan = first_plan(page)
    if plan is None:
        return page.render(
            "growth_review.html", "review", code, plan=None, errors=errors, **_shown(sent)
        )
    quarter = _quarter(page, plan, sent)
    found = review.build(page.session, page.user, plan, quarter, page.runtime.clock())
    previous = review.Quarter(*previous_quarter(quarter.year, quarter.number))
    return page.render(
        "growth_review.html",
        "review",
        code,
        plan=plan,
        spec=plan_service.plan_spec(plan),
        review=found,
        quarter=quarter,
        previous=previous,
        prompts=review.PROMPTS,
        sections=export.SECTIONS,
        milestones=milestone_service.list_for_plan(page.session, plan),
        errors=errors,
        **_shown(sent),
    )


@router.get("/dashboard/review", response_class=HTMLResponse)
def review_page(request: Request, runtime: RuntimeDep, session: SessionDep) -> Response:
    return signed_in(request, runtime, session, _review)


@router.post("/dashboard/review/answers", response_class=HTMLResponse)
async def save_answers(request: Request, runtime: RuntimeDep, session: SessionDep) -> Response:
    def act(page: Page, form: dict[str, Any]) -> Response:
        quarter = review.Quarter.parse(str(form.get("quarter", ""))[:10])
        answers = {key: _text(form, key, ANSWER_MAX) for key, _ in review.PROMPTS}
        review.save_answers(page.session, page.user, quarter, answers)
        return see_other(f"/dashboard/review?quarter={quarter}&flash=Answers+kept")

    return await _post(request, runtime, session, act, _review, "answers", ANSWER_FIELDS)


@router.post("/dashboard/review/goal", response_class=HTMLResponse)
async def adjust_goal(request: Request, runtime: RuntimeDep, session: SessionDep) -> Response:
    """Adjust the goal, its date and the weekly target in place (the rest of the plan stays)."""

    def act(page: Page, form: dict[str, Any]) -> Response:
        plan = _plan_or_refuse(page)
        document = dict(plan.spec)
        document["goal"] = _text(form, "goal", 200, required=True)
        goal_by = _date(form, "goal_by", required=False)
        document["goal_by"] = goal_by.isoformat() if goal_by else None
        target = _int(form, "weekly_target_minutes", "enter a whole number of minutes")
        if target is not None:
            document["weekly_target_minutes"] = target
        spec = plan_service.parse_spec(document)
        plan_service.replace_plan(page.session, page.user, plan.id, spec)
        _retitle(page, plan.id)
        quarter = str(form.get("quarter", ""))[:10]
        return see_other(f"/dashboard/review?quarter={quote_plus(quarter)}&flash=Goal+saved")

    return await _post(request, runtime, session, act, _review, "goal", GOAL_FIELDS)

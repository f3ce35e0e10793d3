"""Dashboard pages: goal and plan (with a live preview), and the week view."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime
from typing import Any
from urllib.parse import quote_plus
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from app.api.params import RowId
from app.db.models import Plan
from app.demo import service as demo_service
from app.deps import RuntimeDep, SessionDep
from app.domain.plan import PlanSpec
from app.domain.time import WEEKDAYS, IsoWeek, TimeRange, resolve_zone
from app.html.fielderrors import FormErrors, FormFields
from app.html.forms import see_other
from app.services.booking import pins, reconcile
from app.services.booking import week_view as week_service
from app.services.conflicts import choices
from app.services.conflicts.deciding import ConflictResolver
from app.services.errors import InvalidInputError, MalformedRequestError
from app.services.people import onboarding
from app.services.planning import plans as plan_service
from app.web.context import Page, post_form, signed_in
from connectors.errors import ConnectorError

router = APIRouter(include_in_schema=False)


def first_plan(page: Page) -> Plan | None:
    plans = plan_service.list_plans(page.session, page.user)
    wanted = page.request.query_params.get("plan_id")
    for plan in plans:
        if wanted and str(plan.id) == wanted:
            return plan
    return plans[0] if plans else None


# --- goal and plan -------------------------------------------------------------------------

PLAN_FIELDS = FormFields(
    labels={
        "goal": "What",
        "goal_why": "Why it matters",
        "goal_by": "By when",
        "weekly_target_minutes": "Weekly target",
        "block_min": "Shortest block",
        "block_max": "Longest block",
        "max_blocks_per_day": "At most blocks per day",
        "days": "Days",
        "working_hours": "Working hours",
        "windows": "Windows",
        "preferred_windows": "Preferred windows",
        "buffer_minutes": "Buffer around meetings",
        "timezone": "Time zone",
        "book_day": "Weekly booking day",
        "book_time": "Weekly booking time",
        "defense": "How hard to defend blocks",
        "flexible_hours_before": "Flexible blocks turn busy",
    },
    paths={
        "block_minutes.min": "block_min",
        "block_minutes": "block_max",
        "book_at.day": "book_day",
        "book_at": "book_time",
    },
)


def spec_from_form(form: dict[str, Any]) -> dict[str, Any]:
    """The plan document from the form's fields (validation happens in PlanSpec)."""

    def ranges(name: str) -> list[str]:
        return [part.strip() for part in str(form.get(name, "")).split(",") if part.strip()]

    def number(name: str, default: int) -> Any:
        value = str(form.get(name, "")).strip()
        return int(value) if value.isdigit() else (value or default)

    document: dict[str, Any] = {
        "goal": form.get("goal", ""),
        "goal_why": form.get("goal_why", ""),
        "goal_by": form.get("goal_by") or None,
        "weekly_target_minutes": number("weekly_target_minutes", 240),
        "block_minutes": {
            "min": number("block_min", 120),
            "max": number("block_max", 120),
        },
        "max_blocks_per_day": number("max_blocks_per_day", 1),
        "days": [day for day in WEEKDAYS if form.get(f"day_{day}") == "on"],
        "windows": ranges("windows"),
        "preferred_windows": ranges("preferred_windows"),
        "buffer_minutes": number("buffer_minutes", 10),
        "book_at": {"day": form.get("book_day", "sun"), "time": form.get("book_time", "18:00")},
    }
    if form.get("defense"):
        document["defense"] = str(form["defense"])[:16]
        document["flexible_hours_before"] = number("flexible_hours_before", 24)
    hours = ranges("working_hours")
    if hours:  # the same hours on every day; the allowed days decide where blocks go
        document["working_hours"] = dict.fromkeys(WEEKDAYS, hours)
    if str(form.get("timezone", "")).strip():
        document["timezone"] = str(form["timezone"]).strip()
    return document


def _preview(page: Page, plan: Plan | None, spec: PlanSpec) -> dict[str, Any]:
    now = page.runtime.clock()
    zone = plan_service.plan_zone(spec, page.user)
    week = IsoWeek.containing(now, zone).next()
    # A transient row (never added to the session): previews work for unsaved forms too.
    draft = Plan(
        id=plan.id if plan else 0,
        user_id=page.user.id,
        goal=spec.goal,
        spec=spec.model_dump(mode="json"),
    )
    result = reconcile.preview_week(page.session, draft, week, now, page.runtime.connectors)
    return {
        "week": str(week),
        "week_label": week.label(),
        "zone": zone.key,
        "blocks": [
            (i.start.astimezone(zone), i.end.astimezone(zone)) for i in result.kept + result.new
        ],
        "booked": result.booked_minutes,
        "target": result.target_minutes,
        "reason": result.shortfall_reason,
        "target_note": result.target_note,
    }


def _blank_spec() -> dict[str, Any]:
    document = PlanSpec(goal="-").model_dump(mode="json")
    document["goal"] = ""
    return document


def _hours_text(spec: dict[str, Any], page: Page) -> tuple[str, bool]:
    """The working-hours field's value, and whether the stored hours differ by day."""
    stored = spec.get("working_hours") or page.user.working_hours or {}
    days = [d for d in spec.get("days") or WEEKDAYS if stored.get(d)] or list(stored)
    distinct = {tuple(stored[d]) for d in days if d in stored}
    first = stored.get(days[0], []) if days else []
    return ", ".join(first), len(distinct) > 1


def _within(inner: TimeRange, outer: TimeRange) -> bool:
    return outer.start_minute <= inner.start_minute and inner.end_minute <= outer.end_minute


def plan_warnings(spec: dict[str, Any], today: date) -> list[str]:
    """Things worth a second look that do not stop the plan from saving."""
    warnings: list[str] = []
    try:
        windows = [TimeRange.parse(t) for t in spec.get("windows") or []]
        preferred = [TimeRange.parse(t) for t in spec.get("preferred_windows") or []]
    except ValueError:
        return warnings  # the errors say it already
    for p in preferred:
        if not any(
            w.start_minute <= p.start_minute and p.end_minute <= w.end_minute for w in windows
        ):
            warnings.append(
                f"The preferred window {p} is not inside the windows blocks may go in "
                f"({', '.join(str(w) for w in windows) or 'none'}): only its overlap is used."
            )
    goal_by = spec.get("goal_by")
    if goal_by:
        try:
            when = date.fromisoformat(str(goal_by))
        except ValueError:
            return warnings
        if when < today:
            warnings.append(
                f"The goal's date ({when:%d %b %Y}) is in the past: set a new date for it."
            )
    return warnings


def _render_plan(
    page: Page,
    shown: dict[str, Any],
    preview: dict[str, Any] | None,
    errors: list[tuple[str, str]] | None,
    status: int,
) -> Response:
    plan = first_plan(page)
    hours_text, hours_differ = _hours_text(shown, page)
    zone = plan_service.plan_zone(plan_service.plan_spec(plan), page.user) if plan else None
    today = page.runtime.clock().astimezone(zone or resolve_zone(page.user.timezone)).date()
    return page.render(
        "plan.html",
        "plan",
        status_code=status,
        plan=plan,
        spec=shown,
        preview=preview,
        preview_problems=FormErrors(errors, PLAN_FIELDS).problems if errors else [],
        errors=errors,
        fields=PLAN_FIELDS,
        warnings=[] if errors else plan_warnings(shown, today),
        working_hours_text=hours_text,
        hours_differ=hours_differ,
        weekdays=WEEKDAYS,
    )


def _plan_page(
    page: Page,
    errors: list[tuple[str, str]] | None = None,
    status: int = 200,
    form_spec: dict[str, Any] | None = None,
) -> Response:
    plan = first_plan(page)
    spec = plan_service.plan_spec(plan) if plan else None
    preview = None
    if form_spec is not None and not errors:
        preview = _preview(page, plan, PlanSpec.model_validate(form_spec))
    elif spec is not None:
        preview = _preview(page, plan, spec)
    shown = form_spec or (spec.model_dump(mode="json") if spec else _blank_spec())
    return _render_plan(page, shown, preview, errors, status)


@router.get("/dashboard/plan", response_class=HTMLResponse)
def plan_page(request: Request, runtime: RuntimeDep, session: SessionDep) -> Response:
    return signed_in(request, runtime, session, _plan_page)


@router.post("/dashboard/plan", response_class=HTMLResponse)
async def save_plan(request: Request, runtime: RuntimeDep, session: SessionDep) -> Response:
    form = dict((await request.form()).items())
    document = spec_from_form(form)
    preview_only = form.get("action") == "preview"

    def act(page: Page) -> Response:
        spec = plan_service.parse_spec(document)
        if preview_only:
            plan_service.check_spec(spec, page.user)
            return _plan_page(page, form_spec=spec.model_dump(mode="json"))
        plan = first_plan(page)
        if plan is None:
            plan = plan_service.create_plan(page.session, page.user, spec, runtime.clock())
        else:
            plan = plan_service.replace_plan(page.session, page.user, plan.id, spec)
        scheduler = getattr(request.app.state, "scheduler", None)
        if scheduler is not None:
            # the first booking runs in another thread: once the request's commit is done
            page.after_commit(scheduler.plan_changed, plan.id)
        return see_other(f"/dashboard/plan?plan_id={plan.id}&flash=Plan+saved")

    def failed(page: Page, errors: list[tuple[str, str]], status: int) -> Response:
        # Show the person what they typed, each problem next to its field.
        return _render_plan(page, document, None, errors, status)

    return await post_form(request, runtime, session, form, act, failed)


# --- the week ------------------------------------------------------------------------------


def page_zone(page: Page) -> ZoneInfo:
    """The zone the dashboard shows times in: the plan's, else the person's."""
    plan = first_plan(page)
    if plan is not None:
        return plan_service.plan_zone(plan_service.plan_spec(plan), page.user)
    return resolve_zone(page.user.timezone)


def _week_page(
    page: Page,
    week_text: str | None,
    errors: list[tuple[str, str]] | None = None,
    status: int = 200,
) -> Response:
    zone = page_zone(page)
    now = page.runtime.clock()
    try:
        week = IsoWeek.parse(week_text) if week_text else IsoWeek.containing(now, zone)
    except ValueError as error:
        raise MalformedRequestError(
            [("week", f"{error}. Open the week page from the menu.")]
        ) from None
    days = week_service.week_days(page.session, page.user, week, zone)
    plan = first_plan(page)
    why = onboarding.why_nothing_booked(page.session, page.user, plan, week, now, zone.key)
    preview = _week_preview(page, plan, week) if why and plan is not None else None
    return page.render(
        "week.html",
        "week",
        status_code=status,
        errors=errors,
        week=week,
        is_current=week == IsoWeek.containing(now, zone),
        zone=zone.key,
        days=days,
        previous=week.plus(-1),
        following=week.next(),
        why=why,
        preview=preview,
        steps=onboarding.steps(page.session, page.user),
        demo_account=demo_service.demo_account(page.session, page.user),
        poll_seconds=page.runtime.settings.demo_poll_seconds,
        now=now,
    )


def _week_preview(page: Page, plan: Plan, week: IsoWeek) -> list[tuple[datetime, datetime]] | None:
    """What the plan would book in `week` (read live; None when a calendar cannot be read)."""
    zone = page_zone(page)
    now = page.runtime.clock()
    if week.end(zone) <= now:
        return None
    try:
        result = reconcile.preview_week(page.session, plan, week, now, page.runtime.connectors)
    except (ConnectorError, reconcile.BookingBlockedError):
        page.session.rollback()
        return None
    return [(i.start.astimezone(zone), i.end.astimezone(zone)) for i in result.new]


@router.get("/dashboard/week", response_class=HTMLResponse)
def week_page(request: Request, runtime: RuntimeDep, session: SessionDep) -> Response:
    week = request.query_params.get("week")
    return signed_in(request, runtime, session, lambda page: _week_page(page, week))


def _back_to_week(week: str, message: str) -> Response:
    """Post/redirect/get to the week page the form came from, with a done message."""
    return see_other(f"/dashboard/week?week={quote_plus(week)}&flash={quote_plus(message)}")


async def _week_form(
    request: Request,
    runtime: RuntimeDep,
    session: SessionDep,
    form: Any,
    week: str,
    act: Callable[[Page], Response],
) -> Response:
    """Run a form posted from the week page; on a problem, show that week again with it."""
    return await post_form(
        request,
        runtime,
        session,
        form,
        act,
        lambda page, errors, status: _week_page(page, week or None, errors, status),
    )


@router.post("/dashboard/conflicts/{conflict_id}/keep", response_class=HTMLResponse)
async def keep_meeting(
    conflict_id: RowId, request: Request, runtime: RuntimeDep, session: SessionDep
) -> Response:
    form = await request.form()
    week = str(form.get("week", ""))

    def act(page: Page) -> Response:
        resolver = ConflictResolver(
            page.session,
            runtime.connectors,
            runtime.settings.public_url,
            runtime.settings.secret_key.get_secret_value(),
        )
        conflict = choices.get_conflict(resolver, page.user, conflict_id)
        result = choices.keep_meeting(resolver, conflict, runtime.clock())
        return _back_to_week(week, choices.kept_message(result))

    return await _week_form(request, runtime, session, form, week, act)


def _local_time(text: str, zone: ZoneInfo, field: str) -> datetime:
    """A `datetime-local` value (YYYY-MM-DDTHH:MM) read in the week's zone."""
    try:
        naive = datetime.fromisoformat(text.strip().replace(" ", "T", 1))
    except ValueError:
        raise InvalidInputError([(field, f"{text[:40]!r} is not a date and time")]) from None
    if naive.tzinfo is not None:
        raise InvalidInputError([(field, "give a local time without an offset")])
    return naive.replace(tzinfo=zone)


def parse_slot_lines(text: str, zone: ZoneInfo) -> list[pins.SlotIn]:
    """One slot a line: `YYYY-MM-DD HH:MM-HH:MM` in the week's zone."""
    slots: list[pins.SlotIn] = []
    lines = [line.strip() for line in text[:4000].splitlines() if line.strip()]
    for n, line in enumerate(lines):
        day, _, hours = line.partition(" ")
        begin, _, finish = hours.strip().partition("-")
        if not finish:
            problem = f"line {n + 1}: write it as 2027-01-12 09:00-11:00"
            raise InvalidInputError([("slots", problem)])
        start = _local_time(f"{day}T{begin.strip()}", zone, "slots")
        end = _local_time(f"{day}T{finish.strip()}", zone, "slots")
        slots.append(pins.SlotIn(start, end))
    return slots


@router.post("/dashboard/blocks/{block_id}/pin", response_class=HTMLResponse)
async def pin_block(
    block_id: RowId, request: Request, runtime: RuntimeDep, session: SessionDep
) -> Response:
    """ "Keep it here": pin a block where it is, or at the time the form names."""
    form = await request.form()
    week = str(form.get("week", ""))[:10]
    start_text = str(form.get("start", ""))[:40]

    def act(page: Page) -> Response:
        start = _local_time(start_text, page_zone(page), "start") if start_text else None
        pins.pin_block(
            page.session, page.user, None, block_id, runtime.clock(), runtime.connectors, start
        )
        return _back_to_week(week, "Pinned: booking keeps this block here.")

    return await _week_form(request, runtime, session, form, week, act)


@router.post("/dashboard/week/slots", response_class=HTMLResponse)
async def choose_slots(request: Request, runtime: RuntimeDep, session: SessionDep) -> Response:
    """Choose a week's slots: exactly these are booked (and pinned)."""
    form = await request.form()
    week_text = str(form.get("week", ""))[:10]
    lines = str(form.get("slots", ""))

    def act(page: Page) -> Response:
        try:
            week = IsoWeek.parse(week_text)
        except ValueError:
            raise MalformedRequestError([("week", "open the week page from the menu")]) from None
        plan = first_plan(page)
        if plan is None:
            raise InvalidInputError([("slots", "make a plan first")])
        slots = parse_slot_lines(lines, page_zone(page))
        pins.choose_week(
            page.session, page.user, plan.id, week, slots, runtime.clock(), runtime.connectors
        )
        return _back_to_week(week_text, "Booked the slots you chose; booking keeps them.")

    return await _week_form(request, runtime, session, form, week_text, act)

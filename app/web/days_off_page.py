"""Dashboard page: days off (leave days and the public-holiday region)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import date, timedelta
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from app.deps import RuntimeDep, SessionDep
from app.domain.time import resolve_zone
from app.html.fielderrors import NO_FIELDS, FormFields
from app.html.forms import see_other
from app.services.errors import InvalidInputError
from app.services.planning import days_off
from app.web.context import Page, post_form, signed_in

router = APIRouter(include_in_schema=False)
PATH = "/dashboard/days-off"
UPCOMING_HOLIDAYS = 10

REGION_FIELDS = FormFields(
    labels={"holiday-country": "Country", "holiday-subdivision": "State or region"},
    paths={"country": "holiday-country", "subdivision": "holiday-subdivision"},
)
LEAVE_FIELDS = FormFields(
    labels={"leave-day": "First day", "leave-until": "Last day", "leave-note": "Note"},
    paths={"day": "leave-day", "until": "leave-until", "note": "leave-note"},
)
Errors = list[tuple[str, str]] | None


def _today(page: Page) -> date:
    return page.runtime.clock().astimezone(resolve_zone(page.user.timezone)).date()


def _view(
    page: Page,
    errors: Errors = None,
    code: int = 200,
    form: str = "",
    fields: FormFields = NO_FIELDS,
    typed: Mapping[str, str] | None = None,
) -> Response:
    today = _today(page)
    user = page.user
    holidays = days_off.public_holidays(
        user.holiday_country, user.holiday_subdivision, today, today + timedelta(days=366)
    )
    return page.render(
        "days_off.html",
        "days-off",
        code,
        leave=days_off.list_leave(page.session, user),
        holidays=sorted(holidays.items())[:UPCOMING_HOLIDAYS],
        regions=days_off.supported_regions(),
        errors=errors,
        fields=fields,
        form=form,
        typed=typed or {},
    )


@router.get(PATH, response_class=HTMLResponse)
def days_off_page(request: Request, runtime: RuntimeDep, session: SessionDep) -> Response:
    return signed_in(request, runtime, session, _view)


def _date(form: Mapping[str, Any], name: str, required: bool) -> date | None:
    raw = str(form.get(name, "")).strip()[:20]
    if not raw:
        if required:
            raise InvalidInputError([(name, "enter a date")])
        return None
    try:
        return date.fromisoformat(raw)
    except ValueError:
        raise InvalidInputError([(name, "enter a date like 2026-12-24")]) from None


async def _post(
    request: Request,
    runtime: RuntimeDep,
    session: SessionDep,
    act: Callable[[Page, dict[str, Any]], Response],
    form_key: str = "",
    fields: FormFields = NO_FIELDS,
) -> Response:
    form = dict(await request.form())
    typed = {k: v[:300] for k, v in form.items() if isinstance(v, str) and k != "csrf_token"}
    return await post_form(
        request,
        runtime,
        session,
        form,
        lambda page: act(page, form),
        lambda page, errors, code: _view(page, errors, code, form_key, fields, typed),
    )


@router.post(f"{PATH}/region", response_class=HTMLResponse)
async def save_region(request: Request, runtime: RuntimeDep, session: SessionDep) -> Response:
    def act(page: Page, form: dict[str, Any]) -> Response:
        country = str(form.get("country", ""))[:10]
        subdivision = str(form.get("subdivision", ""))[:20]
        days_off.set_region(page.session, page.user, country, subdivision)
        return see_other(f"{PATH}?flash=Public+holidays+saved")

    return await _post(request, runtime, session, act, "region", REGION_FIELDS)


@router.post(f"{PATH}/leave", response_class=HTMLResponse)
async def add_leave(request: Request, runtime: RuntimeDep, session: SessionDep) -> Response:
    def act(page: Page, form: dict[str, Any]) -> Response:
        first = _date(form, "day", required=True)
        assert first is not None  # required
        until = _date(form, "until", required=False)
        note = str(form.get("note", ""))[: days_off.NOTE_MAX + 1]
        days_off.add_leave(page.session, page.user, first, until, note, _today(page))
        return see_other(f"{PATH}?flash=Leave+added")

    return await _post(request, runtime, session, act, "leave", LEAVE_FIELDS)


@router.post(f"{PATH}/leave/remove", response_class=HTMLResponse)
async def remove_leave(request: Request, runtime: RuntimeDep, session: SessionDep) -> Response:
    def act(page: Page, form: dict[str, Any]) -> Response:
        day = _date(form, "day", required=True)
        assert day is not None
        days_off.remove_leave(page.session, page.user, day)
        return see_other(f"{PATH}?flash=Leave+removed")

    return await _post(request, runtime, session, act)

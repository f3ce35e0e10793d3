"""Dashboard page: sync health of each calendar, "sync now", and the next booking's dry run."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, Response

from app import tasks
from app.api.params import RowId
from app.deps import RuntimeDep, SessionDep
from app.domain.time import resolve_zone
from app.html.forms import see_other
from app.services.booking import dry_run as booking_dry_run
from app.services.sync import health as sync_health
from app.web.context import Page, form_action, signed_in

router = APIRouter(include_in_schema=False)


def _sync_page(
    page: Page,
    errors: list[tuple[str, str]] | None = None,
    status: int = 200,
    *,
    with_dry_run: bool = False,
) -> Response:
    now = page.runtime.clock()
    runs = None
    if with_dry_run:  # reads the calendars: only when asked, never on every visit
        runs = booking_dry_run.dry_run(page.session, page.user, page.runtime.connectors, now)
    return page.render(
        "sync_health.html",
        "sync-health",
        status_code=status,
        calendars=sync_health.health_of_user(page.session, page.user, page.runtime.settings, now),
        runs=runs,
        zone=resolve_zone(page.user.timezone),
        errors=errors,
    )


@router.get("/dashboard/sync-health", response_class=HTMLResponse)
def sync_page(
    request: Request, runtime: RuntimeDep, session: SessionDep, dry_run: bool = False
) -> Response:
    return signed_in(request, runtime, session, lambda p: _sync_page(p, with_dry_run=dry_run))


@router.post("/dashboard/calendars/{calendar_id}/sync", response_class=HTMLResponse)
def sync_now(
    calendar_id: RowId,
    request: Request,
    runtime: RuntimeDep,
    session: SessionDep,
    csrf: Annotated[str, Form(alias="csrf_token")] = "",
    full: Annotated[str, Form()] = "",
) -> Response:
    """Queue a sync (incremental, or a full re-read); the page shows its outcome."""

    def act(page: Page) -> Response:
        calendar = sync_health.check_sync_request(page.session, page.user, calendar_id)
        everything = full == "yes"
        tasks.enqueue_sync(calendar.id, full=everything)
        what = "Re-reading+everything" if everything else "Sync+requested"
        return see_other(f"/dashboard/sync-health?flash={what}")

    return form_action(request, runtime, session, csrf, act, _sync_page)

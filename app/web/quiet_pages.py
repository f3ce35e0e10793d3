"""The "Quiet during blocks" settings page: connect or disconnect Slack, quiet mode on/off."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from app import tasks
from app.deps import RuntimeDep, SessionDep
from app.domain.time import resolve_zone
from app.html.forms import BROWSER_COOKIE, cookie_flags, see_other
from app.services.accounts import connect as account_service
from app.services.errors import MalformedRequestError
from app.services.quiet import link as quiet_link
from app.services.quiet.slack import chat_factory
from app.web.context import Page, form_action, signed_in

router = APIRouter(include_in_schema=False)
Csrf = Annotated[str, Form(alias="csrf_token")]
PAGE = "/dashboard/quiet"


def _page(page: Page, errors: list[tuple[str, str]] | None = None, status: int = 200) -> Response:
    runtime = page.runtime
    return page.render(
        "quiet.html",
        "quiet",
        status_code=status,
        quiet=quiet_link.view(page.session, runtime.settings, page.user, runtime.clock()),
        zone=resolve_zone(page.user.timezone),
        errors=errors,
    )


@router.get(PAGE, response_class=HTMLResponse)
def quiet_page(request: Request, runtime: RuntimeDep, session: SessionDep) -> Response:
    return signed_in(request, runtime, session, _page)


@router.post(PAGE + "/connect", response_class=HTMLResponse)
def connect(
    request: Request, runtime: RuntimeDep, session: SessionDep, csrf: Csrf = ""
) -> Response:
    """To Slack's consent page; the state is one-time and bound to this browser and person."""
    browser_id = request.cookies.get(BROWSER_COOKIE) or account_service.new_browser_id()

    def act(page: Page) -> Response:
        url = quiet_link.begin_connect(
            page.session, runtime.cipher, runtime.settings, page.user, browser_id, runtime.clock()
        )
        response = RedirectResponse(url, status_code=303)
        response.set_cookie(BROWSER_COOKIE, browser_id, max_age=3600, **cookie_flags(runtime))
        return response

    return form_action(request, runtime, session, csrf, act, _page)


@router.get(PAGE + "/callback", response_class=HTMLResponse)
def callback(request: Request, runtime: RuntimeDep, session: SessionDep) -> Response:
    """Slack sends the browser back here with a code (or an error) and our state."""
    params = {k: v[:2048] for k, v in request.query_params.items()}

    def view(page: Page) -> Response:
        try:
            quiet_link.finish_connect(
                runtime.sessions,
                page.session,
                runtime.cipher,
                runtime.settings,
                page.user,
                params,
                request.cookies.get(BROWSER_COOKIE),
                runtime.clock(),
            )
        except account_service.ConnectRejectedError as error:
            page.session.rollback()
            return _page(page, [("slack", str(error))], 400)
        return see_other(PAGE + "?flash=Slack+connected")

    return signed_in(request, runtime, session, view)


@router.post(PAGE + "/mode", response_class=HTMLResponse)
def mode(
    request: Request,
    runtime: RuntimeDep,
    session: SessionDep,
    csrf: Csrf = "",
    enabled: Annotated[str, Form()] = "",
) -> Response:
    def act(page: Page) -> Response:
        if enabled not in ("on", "off"):
            raise MalformedRequestError([("enabled", "must be on or off")])
        quiet_link.set_quiet(page.session, page.user, enabled == "on")
        # After the commit: start or end quiet for a block under way now, not in a minute.
        page.after_commit(tasks.enqueue_quiet, page.user.id)
        word = "on" if enabled == "on" else "off"
        return see_other(f"{PAGE}?flash=Quiet+mode+{word}")

    return form_action(request, runtime, session, csrf, act, _page)


@router.post(PAGE + "/disconnect", response_class=HTMLResponse)
def disconnect(
    request: Request, runtime: RuntimeDep, session: SessionDep, csrf: Csrf = ""
) -> Response:
    def act(page: Page) -> Response:
        quiet_link.disconnect(
            page.session,
            runtime.cipher,
            chat_factory(runtime.settings),
            page.user,
            runtime.clock(),
        )
        return see_other(PAGE + "?flash=Slack+disconnected")

    return form_action(request, runtime, session, csrf, act, _page)

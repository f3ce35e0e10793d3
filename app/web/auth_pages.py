"""The front door: sign in with a provider or a local account, sign up, sign out."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, Response

from app.db.models import User
from app.db.session import transaction
from app.deps import SESSION_COOKIE, RuntimeDep, SessionDep, signed_in_user_id
from app.services import passwords, websessions
from app.services.accounts import new_browser_id
from app.services.errors import ConflictError, InvalidInputError
from app.web import render
from app.web.forms import BROWSER_COOKIE, cookie_flags, csrf_ok, csrf_token, see_other

router = APIRouter(include_in_schema=False)


@router.get("/", response_class=HTMLResponse)
def home(request: Request, runtime: RuntimeDep, session: SessionDep) -> Response:
    """Signed in: go to this week. Otherwise: the sign-in page."""
    user_id = signed_in_user_id(request, runtime)
    if user_id is not None and session.get(User, user_id) is not None:
        return see_other("/dashboard/week")
    browser_id = request.cookies.get(BROWSER_COOKIE) or new_browser_id()
    response = render(
        request,
        "signin.html",
        {
            "providers": [e for e in runtime.providers.oauth() if e.sign_in],
            "demo": runtime.demo is not None and runtime.demo.available,
            "csrf": csrf_token(request, runtime, anchor=browser_id),
            "timezone": runtime.settings.default_timezone,
            "user": None,
        },
    )
    response.set_cookie(BROWSER_COOKIE, browser_id, max_age=3600, **cookie_flags(runtime))
    return response


def _signed_in(runtime: RuntimeDep, user_id: int) -> Response:
    with transaction(runtime.sessions) as session:
        cookie = websessions.sign_in(session, user_id, runtime.clock())
    response = see_other("/dashboard/week")
    response.set_cookie(SESSION_COOKIE, cookie, max_age=14 * 86400, **cookie_flags(runtime))
    return response


def _front_door_error(
    request: Request, runtime: RuntimeDep, errors: list[tuple[str, str]], status: int
) -> Response:
    return render(
        request,
        "signin.html",
        {
            "providers": [e for e in runtime.providers.oauth() if e.sign_in],
            "demo": runtime.demo is not None and runtime.demo.available,
            "csrf": csrf_token(request, runtime),
            "timezone": runtime.settings.default_timezone,
            "errors": errors,
            "user": None,
        },
        status_code=status,
    )


@router.post("/signin", response_class=HTMLResponse)
def sign_in(
    request: Request,
    runtime: RuntimeDep,
    email: Annotated[str, Form()],
    password: Annotated[str, Form()],
    csrf_token_: Annotated[str, Form(alias="csrf_token")] = "",
) -> Response:
    """Local sign-in with email and password."""
    if not csrf_ok(request, runtime, csrf_token_):
        return _front_door_error(request, runtime, [("form", "the page expired; try again")], 403)
    with transaction(runtime.sessions) as session:
        user = passwords.authenticate(session, email, password)
        user_id = user.id if user is not None else None
    if user_id is None:
        return _front_door_error(
            request, runtime, [("email", "unknown email or wrong password")], 401
        )
    return _signed_in(runtime, user_id)


@router.post("/signup", response_class=HTMLResponse)
def sign_up(
    request: Request,
    runtime: RuntimeDep,
    email: Annotated[str, Form()],
    password: Annotated[str, Form()],
    timezone: Annotated[str, Form()],
    csrf_token_: Annotated[str, Form(alias="csrf_token")] = "",
) -> Response:
    """Create a local account (for people who use CalDAV only)."""
    if not csrf_ok(request, runtime, csrf_token_):
        return _front_door_error(request, runtime, [("form", "the page expired; try again")], 403)
    if not runtime.settings.allow_signup:
        return _front_door_error(request, runtime, [("form", "sign-up is disabled")], 403)
    try:
        with transaction(runtime.sessions) as session:
            user_id = passwords.sign_up(session, email, password, timezone).id
    except InvalidInputError as error:
        return _front_door_error(request, runtime, error.problems, 422)
    except ConflictError as error:
        return _front_door_error(request, runtime, [("email", str(error))], 409)
    return _signed_in(runtime, user_id)

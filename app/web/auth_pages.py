"""The front door: sign in with a provider or a local account, sign up, sign out."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, Response

from app.db.models import User
from app.db.session import transaction
from app.deps import SESSION_COOKIE, RuntimeDep, SessionDep, client_address, signed_in_user_id
from app.html import render
from app.html.fielderrors import FormFields
from app.html.forms import (
    BROWSER_COOKIE,
    cookie_flags,
    front_door_csrf_ok,
    front_door_csrf_token,
    see_other,
)
from app.ratelimit import RateLimited
from app.services import links
from app.services.accounts.connect import new_browser_id
from app.services.errors import InvalidInputError
from app.services.people import passwords, signup, websessions
from app.services.people.users import FIRST_TOKEN_NAME, issue_token

router = APIRouter(include_in_schema=False)
EXPIRED = [("form", "the page expired; try again")]


def _browser_id(request: Request) -> str:
    return request.cookies.get(BROWSER_COOKIE) or new_browser_id()


def _with_browser_cookie(response: Response, runtime: RuntimeDep, browser_id: str) -> Response:
    response.set_cookie(BROWSER_COOKIE, browser_id, max_age=3600, **cookie_flags(runtime))
    return response


@router.get("/", response_class=HTMLResponse)
def home(request: Request, runtime: RuntimeDep, session: SessionDep) -> Response:
    """Signed in: go to this week. Otherwise: the sign-in page."""
    user_id = signed_in_user_id(request, runtime)
    if user_id is not None and session.get(User, user_id) is not None:
        return see_other("/dashboard/week")
    response = _front_door(request, runtime, [], 200)
    if request.cookies.get(SESSION_COOKIE):
        response.delete_cookie(SESSION_COOKIE, path="/")  # stale: expired or unknown
    return response


SIGN_IN_FIELDS = FormFields(
    {"signin-email": "Email", "signin-password": "Password"},
    {"email": "signin-email", "password": "signin-password"},
)
SIGN_UP_FIELDS = FormFields(
    {"signup-email": "Email", "signup-password": "Password", "signup-timezone": "Time zone"},
    {"email": "signup-email", "password": "signup-password", "timezone": "signup-timezone"},
)


def _front_door(
    request: Request,
    runtime: RuntimeDep,
    errors: list[tuple[str, str]],
    status: int,
    *,
    signing_up: bool = False,
    typed: dict[str, str] | None = None,
) -> Response:
    """The front door; after a failed form, its errors sit at its fields with what was typed."""
    browser_id = _browser_id(request)
    response = render(
        request,
        "signin.html",
        {
            "providers": [e for e in runtime.providers.oauth() if e.sign_in],
            "demo": runtime.demo is not None and runtime.demo.available,
            "csrf": front_door_csrf_token(request, runtime, browser_id),
            "timezone": runtime.settings.default_timezone,
            "errors": errors,
            "fields": SIGN_UP_FIELDS if signing_up else SIGN_IN_FIELDS,
            "typed": typed or {},
            "signing_up": signing_up,
            "user": None,
        },
        status_code=status,
    )
    return _with_browser_cookie(response, runtime, browser_id)


def _signed_in(runtime: RuntimeDep, user_id: int, to: str = "/dashboard/week") -> Response:
    with transaction(runtime.sessions) as session:
        cookie = websessions.sign_in(session, user_id, runtime.clock())
    response = see_other(to)
    response.set_cookie(SESSION_COOKIE, cookie, max_age=14 * 86400, **cookie_flags(runtime))
    return response


def _too_many(request: Request, runtime: RuntimeDep, error: RateLimited) -> Response:
    response = _front_door(
        request, runtime, [("form", f"too many attempts; try again in {error.retry_after} s")], 429
    )
    response.headers["Retry-After"] = str(error.retry_after)
    return response


@router.post("/signin", response_class=HTMLResponse)
def sign_in(
    request: Request,
    runtime: RuntimeDep,
    email: Annotated[str, Form(max_length=320)],
    password: Annotated[str, Form(max_length=passwords.MAX_LENGTH)],
    csrf_token_: Annotated[str, Form(alias="csrf_token", max_length=200)] = "",
) -> Response:
    """Local sign-in with email and password (rate-limited per address and per account)."""
    if not front_door_csrf_ok(request, runtime, csrf_token_):
        return _front_door(request, runtime, EXPIRED, 403)
    account = email.strip().lower()
    address = client_address(request)
    try:
        runtime.throttle.take("signin.address", address)
        runtime.throttle.check("signin.account", account)
    except RateLimited as error:
        return _too_many(request, runtime, error)
    with transaction(runtime.sessions) as session:
        user = passwords.authenticate(session, email, password)
        user_id = user.id if user is not None else None
    if user_id is None:
        runtime.throttle.hit("signin.account", account)
        return _front_door(
            request,
            runtime,
            [("email", "unknown email or wrong password")],
            401,
            typed={"email": email},
        )
    return _signed_in(runtime, user_id)


@router.post("/signup", response_class=HTMLResponse)
def sign_up(
    request: Request,
    runtime: RuntimeDep,
    email: Annotated[str, Form(max_length=320)],
    password: Annotated[str, Form(max_length=passwords.MAX_LENGTH)],
    timezone: Annotated[str, Form(max_length=64)],
    csrf_token_: Annotated[str, Form(alias="csrf_token", max_length=200)] = "",
) -> Response:
    """Ask for a local account: the same "check your email" whether or not it exists."""
    if not front_door_csrf_ok(request, runtime, csrf_token_):
        return _front_door(request, runtime, EXPIRED, 403)
    if not runtime.settings.allow_signup:
        return _front_door(request, runtime, [("form", "sign-up is disabled")], 403)
    try:
        runtime.throttle.take("signup.address", client_address(request))
        runtime.throttle.take("signup.email", email.strip().lower())
    except RateLimited as error:
        return _too_many(request, runtime, error)
    try:
        with transaction(runtime.sessions) as session:
            mail = signup.request_sign_up(
                session,
                runtime.cipher,
                email=email,
                timezone=timezone,
                password=password,
                public_url=runtime.settings.public_url,
                now=runtime.clock(),
                origin="web",
            )
    except InvalidInputError as error:
        typed = {"email": email, "timezone": timezone}
        return _front_door(request, runtime, error.problems, 422, signing_up=True, typed=typed)
    runtime.send_account_mail(mail)
    return render(
        request,
        "check_email.html",
        {"email": email.strip(), "mailbox": runtime.mailbox is not None, "user": None},
    )


@router.get("/signup/confirm", response_class=HTMLResponse)
def confirm_page(
    request: Request, runtime: RuntimeDep, session: SessionDep, t: str = ""
) -> Response:
    """The emailed link: a button that confirms (opening a link alone changes nothing)."""
    try:
        request_ = signup.read_link(runtime.cipher, t)
        if links.was_used(session, request_):
            raise links.LinkRejectedError("This link was already used. Sign in instead.")
    except links.LinkRejectedError as error:
        return render(request, "problem.html", {"message": str(error)}, 410)
    browser_id = _browser_id(request)
    response = render(
        request,
        "confirm_signup.html",
        {
            "token": t,
            "email": request_["email"],
            "csrf": front_door_csrf_token(request, runtime, browser_id),
            "user": None,
        },
    )
    return _with_browser_cookie(response, runtime, browser_id)


@router.post("/signup/confirm", response_class=HTMLResponse)
def confirm(
    request: Request,
    runtime: RuntimeDep,
    t: Annotated[str, Form(max_length=4096)] = "",
    csrf_token_: Annotated[str, Form(alias="csrf_token", max_length=200)] = "",
) -> Response:
    """Create the account, sign this browser in; an API sign-up also gets its first token."""
    if not front_door_csrf_ok(request, runtime, csrf_token_):
        return render(
            request, "problem.html", {"message": "The page expired; open the link again."}, 403
        )
    try:
        with transaction(runtime.sessions) as session:
            confirmed = signup.confirm_sign_up(session, runtime.cipher, t, runtime.clock())
            token = (
                issue_token(session, confirmed.user, FIRST_TOKEN_NAME)
                if confirmed.origin == "api"
                else None
            )
            user_id = confirmed.user.id
    except links.LinkRejectedError as error:
        return render(request, "problem.html", {"message": str(error)}, 410)
    if token is None:
        return _signed_in(runtime, user_id)
    response = render(request, "signed_up_token.html", {"api_token": token, "user": None})
    with transaction(runtime.sessions) as session:
        cookie = websessions.sign_in(session, user_id, runtime.clock())
    response.set_cookie(SESSION_COOKIE, cookie, max_age=14 * 86400, **cookie_flags(runtime))
    return response

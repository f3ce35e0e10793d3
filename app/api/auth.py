"""Connect / sign in with an OAuth provider (start, callback), and sign out."""

from __future__ import annotations

from fastapi import APIRouter, Request, status
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from app.db.session import transaction
from app.deps import SESSION_COOKIE, RuntimeDep, signed_in_user_id
from app.html import render
from app.html.forms import BROWSER_COOKIE, cookie_flags, csrf_ok
from app.services.accounts import connect
from app.services.people import onboarding, websessions

router = APIRouter(tags=["auth"])


@router.get("/auth/{provider}/start", response_class=RedirectResponse, status_code=302)
def start(provider: str, request: Request, runtime: RuntimeDep, mode: str = "full") -> Response:
    """Send the browser to the provider's consent screen (PKCE; state bound to this browser).

    `mode=book_only` asks only for the narrowest scopes the provider offers (see the
    connect page); the account then books blocks and its policy only flags."""
    browser_id = request.cookies.get(BROWSER_COOKIE) or connect.new_browser_id()
    try:
        with transaction(runtime.sessions) as session:
            url = connect.begin_connect(
                session,
                runtime.cipher,
                runtime.providers,
                provider,
                browser_id,
                runtime.clock(),
                mode=mode,
            )
    except connect.ConnectRejectedError as error:
        code = status.HTTP_400_BAD_REQUEST if error.field == "mode" else status.HTTP_404_NOT_FOUND
        return _problem(request, str(error), code)
    response = RedirectResponse(url, status_code=status.HTTP_302_FOUND)
    response.set_cookie(BROWSER_COOKIE, browser_id, max_age=3600, **cookie_flags(runtime))
    return response


@router.get("/auth/{provider}/callback", response_class=HTMLResponse)
def callback(provider: str, request: Request, runtime: RuntimeDep) -> Response:
    """Finish the authorization: verify state, exchange the code, sign in, list calendars."""
    params = dict(request.query_params)
    now = runtime.clock()
    try:
        secrets_ = connect.consume_state(
            runtime.sessions,
            runtime.cipher,
            provider,
            params.get("state", ""),
            request.cookies.get(BROWSER_COOKIE),
            now,
        )
        with transaction(runtime.sessions) as session:
            connected = connect.complete_connect(
                session,
                cipher=runtime.cipher,
                providers=runtime.providers,
                connectors=runtime.connectors,
                provider=provider,
                secrets_=secrets_,
                params=params,
                default_timezone=runtime.settings.default_timezone,
                signed_in_user_id=signed_in_user_id(request, runtime),
                now=now,
            )
            cookie = websessions.sign_in(session, connected.user_id, now)
    except connect.MissingPermissionsError as error:
        return render(
            request,
            "missing_scopes.html",
            {
                "provider": connect.label_of(runtime.providers, provider),
                "provider_name": provider,
                "missing": error.missing,
            },
            status_code=status.HTTP_400_BAD_REQUEST,
        )
    except connect.ConnectRejectedError as error:
        return _problem(request, str(error), status.HTTP_400_BAD_REQUEST)
    onboarding.after_connect(runtime, connected.account_id)
    response = RedirectResponse("/dashboard/accounts", status_code=status.HTTP_303_SEE_OTHER)
    response.set_cookie(SESSION_COOKIE, cookie, max_age=14 * 86400, **cookie_flags(runtime))
    response.delete_cookie(BROWSER_COOKIE, path="/")
    return response


@router.post(
    "/auth/sign-out", status_code=status.HTTP_303_SEE_OTHER, response_class=RedirectResponse
)
async def sign_out(request: Request, runtime: RuntimeDep) -> Response:
    """End the browser session (a form post, so it carries the CSRF token)."""
    form = await request.form()
    if not csrf_ok(request, runtime, str(form.get("csrf_token", ""))):
        return _problem(request, "The page expired; reload it and sign out again.", 403)
    value = request.cookies.get(SESSION_COOKIE)
    if value:
        with transaction(runtime.sessions) as session:
            websessions.sign_out(session, value)
    response = RedirectResponse("/", status_code=status.HTTP_303_SEE_OTHER)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


def _problem(request: Request, message: str, code: int) -> Response:
    return render(request, "problem.html", {"message": message}, status_code=code)

"""Form plumbing for the dashboard: CSRF tokens, the signed-in user, redirects."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qsl, quote, unquote, urlencode, urlsplit, urlunsplit

from fastapi import Request
from fastapi.responses import RedirectResponse, Response

from app.deps import SESSION_COOKIE
from app.runtime import Runtime
from app.security import hmac_hex, verify_signature

BROWSER_COOKIE = "gg_browser"  # a random id for a browser that is not signed in yet


def cookie_flags(runtime: Runtime) -> dict[str, Any]:
    """HttpOnly, SameSite=Lax, and Secure whenever the service is reached over https."""
    return {
        "httponly": True,
        "samesite": "lax",
        "secure": runtime.settings.public_url.startswith("https://"),
        "path": "/",
    }


def csrf_token(request: Request, runtime: Runtime, anchor: str | None = None) -> str:
    """A token bound to this browser's cookie (synchronizer token derived with HMAC)."""
    anchor = anchor or request.cookies.get(SESSION_COOKIE) or request.cookies.get(BROWSER_COOKIE)
    return hmac_hex(f"csrf:{anchor or ''}", runtime.settings.secret_key.get_secret_value())


def csrf_ok(request: Request, runtime: Runtime, token: str | None) -> bool:
    """Whether a submitted form carries this browser's CSRF token."""
    anchor = request.cookies.get(SESSION_COOKIE) or request.cookies.get(BROWSER_COOKIE)
    if not token or not anchor:
        return False
    return verify_signature(f"csrf:{anchor}", token, runtime.settings.secret_key.get_secret_value())


def front_door_csrf_token(request: Request, runtime: Runtime, browser_id: str) -> str:
    """The token of the sign-in and sign-up forms: bound to the browser cookie only.

    A leftover session cookie (expired, or from another database) must not change it, or the
    person could never sign in again without clearing cookies.
    """
    return csrf_token(request, runtime, anchor=browser_id)


def front_door_csrf_ok(request: Request, runtime: Runtime, token: str | None) -> bool:
    """Whether a sign-in or sign-up form carries this browser's front-door token."""
    anchor = request.cookies.get(BROWSER_COOKIE)
    if not token or not anchor:
        return False
    return verify_signature(f"csrf:{anchor}", token, runtime.settings.secret_key.get_secret_value())


FLASH_COOKIE = "gg_flash"  # the next page's "done" message, shown once


def see_other(url: str) -> RedirectResponse:
    """Post/redirect/get. A `flash=` message in `url` rides in a cookie instead, so the next
    page shows it once (a reload or a bookmark does not repeat it)."""
    parts = urlsplit(url)
    query = parse_qsl(parts.query, keep_blank_values=True)
    flash = next((value for name, value in query if name == "flash"), None)
    if flash is None:
        return RedirectResponse(url, status_code=303)
    rest = urlencode([(name, value) for name, value in query if name != "flash"])
    response = RedirectResponse(urlunsplit(parts._replace(query=rest)), status_code=303)
    response.set_cookie(
        FLASH_COOKIE, quote(flash[:300]), max_age=60, httponly=True, samesite="lax", path="/"
    )
    return response


def take_flash(request: Request, response: Response) -> None:
    """Forget the shown flash message (called by the page that showed it)."""
    if FLASH_COOKIE in request.cookies:
        response.delete_cookie(FLASH_COOKIE, path="/")


def flash_of(request: Request) -> str | None:
    """The message the previous form left for this page, if any."""
    raw = request.cookies.get(FLASH_COOKIE)
    return unquote(raw) if raw else None


SECRET_SECONDS = 120  # how long a secret waits for the page that shows it


def pass_secret(response: Response, runtime: Runtime, cookie: str, secret: str, path: str) -> None:
    """Hand a secret just made (an API token, a signing secret) to the next page at `path`,
    once: in a short-lived, encrypted, HttpOnly cookie, never in the URL."""
    sealed = runtime.cipher.encrypt(secret.encode()).decode()
    flags = {**cookie_flags(runtime), "path": path}
    response.set_cookie(cookie, sealed, max_age=SECRET_SECONDS, **flags)


def show_secret_once(
    request: Request,
    runtime: Runtime,
    cookie: str,
    path: str,
    render: Callable[[str | None], Response],
) -> Response:
    """Render the page with the secret `pass_secret` left (None when there is none, or it is
    stale or forged), and delete it with this answer: a reload does not show it again."""
    sealed = request.cookies.get(cookie)
    secret = None
    if sealed:
        try:
            secret = runtime.cipher.decrypt(sealed.encode(), ttl=SECRET_SECONDS).decode()
        except ValueError:
            secret = None
    response = render(secret)
    if sealed:
        response.delete_cookie(cookie, path=path)
    return response

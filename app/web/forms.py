"""Form plumbing for the dashboard: CSRF tokens, the signed-in user, redirects."""

from __future__ import annotations

from typing import Any

from fastapi import Request
from fastapi.responses import RedirectResponse

from app.deps import SESSION_COOKIE
from app.runtime import Runtime
from app.security import sign, verify_signature

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
    return sign(f"csrf:{anchor or ''}", runtime.settings.secret_key.get_secret_value())


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


def see_other(url: str) -> RedirectResponse:
    """Post/redirect/get."""
    return RedirectResponse(url, status_code=303)

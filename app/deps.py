"""FastAPI dependencies: the runtime, a session per request, the signed-in user."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated

from fastapi import Depends, HTTPException, Request, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.orm import Session

from app.db.models import User
from app.db.session import transaction
from app.ratelimit import RateLimited
from app.runtime import Runtime
from app.scheduler import PlanSchedule
from app.security import verify_signature
from app.services.people.users import user_for_token
from app.services.people.websessions import user_id_for


def runtime_of(request: Request) -> Runtime:
    """The application's runtime (for the few routes that take no dependencies)."""
    runtime: Runtime = request.app.state.runtime
    return runtime


async def get_runtime(request: Request) -> Runtime:
    # async: a plain attribute read, not worth a trip to the thread pool on every request
    return runtime_of(request)


RuntimeDep = Annotated[Runtime, Depends(get_runtime)]


def get_session(runtime: RuntimeDep) -> Iterator[Session]:
    """One transaction per request, committed before the response is sent."""
    with runtime.sessions() as session:
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise


# scope="function": the commit happens before the response leaves, so a failed commit is a 500,
# never a 2xx for something that was not saved.
SessionDep = Annotated[Session, Depends(get_session, scope="function")]

_bearer = HTTPBearer(auto_error=False, description="A personal API token (POST /users gives one)")


SESSION_COOKIE = "gg_session"


def signed_in_user_id(request: Request, runtime: Runtime) -> int | None:
    """The user of the browser session cookie, if any."""
    value = request.cookies.get(SESSION_COOKIE)
    if not value:
        return None
    with runtime.sessions() as own:
        return user_id_for(own, value, runtime.clock())


SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
CSRF_HEADER = "x-csrf-token"


def client_address(request: Request) -> str:
    """The peer's address (behind a proxy: what uvicorn's --forwarded-allow-ips trusts)."""
    return request.client.host if request.client is not None else "unknown"


@contextmanager
def throttled() -> Iterator[None]:
    """Turn a spent rate limit into 429 Too Many Requests with Retry-After."""
    try:
        yield
    except RateLimited as error:
        raise HTTPException(
            status.HTTP_429_TOO_MANY_REQUESTS,
            str(error),
            headers={"Retry-After": str(error.retry_after)},
        ) from None


def _cookie_csrf_ok(request: Request, runtime: Runtime, cookie: str) -> bool:
    # The dashboard's synchronizer token, bound to the session cookie (app/html/forms.py).
    token = request.headers.get(CSRF_HEADER, "")
    key = runtime.settings.secret_key.get_secret_value()
    return bool(token) and verify_signature(f"csrf:{cookie}", token, key)


def get_current_user(
    request: Request,
    session: SessionDep,
    runtime: RuntimeDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> User:
    """The user of the bearer token or the browser session; 401 otherwise.

    A browser session may write (POST, PUT, PATCH, DELETE) only with the X-CSRF-Token header:
    another site can make a browser send the cookie, never that header.
    """
    user_id = None
    if credentials is not None:
        address = client_address(request)
        with throttled():
            runtime.throttle.check("token.address", address)
        # Resolved (and last-use stamped) in its own short transaction, so the request's
        # session never holds a write lock that a task started by the request would wait on.
        with transaction(runtime.sessions) as own:
            found = user_for_token(own, credentials.credentials, runtime.clock())
            user_id = found.id if found is not None else None
        with throttled():
            if user_id is None:
                runtime.throttle.hit("token.address", address)
            else:
                runtime.throttle.take("token.account", str(user_id))
    else:
        user_id = signed_in_user_id(request, runtime)
        cookie = request.cookies.get(SESSION_COOKIE, "")
        if (
            user_id is not None
            and request.method not in SAFE_METHODS
            and not _cookie_csrf_ok(request, runtime, cookie)
        ):
            raise HTTPException(
                status.HTTP_403_FORBIDDEN,
                "a signed-in browser must send the X-CSRF-Token header on writes "
                "(GET /users/me/csrf-token), or use an API token",
            )
    user = session.get(User, user_id) if user_id is not None else None
    if user is None:
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            "a valid API token is required (Authorization: Bearer <token>)",
            headers={"WWW-Authenticate": "Bearer"},
        )
    return user


CurrentUser = Annotated[User, Depends(get_current_user)]


def get_scheduler(request: Request) -> PlanSchedule | None:
    scheduler: PlanSchedule | None = getattr(request.app.state, "scheduler", None)
    return scheduler


SchedulerDep = Annotated[PlanSchedule | None, Depends(get_scheduler)]

"""FastAPI dependencies: the runtime, a session per request, the signed-in user."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, HTTPException, Request, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.orm import Session

from app.db.models import User
from app.db.session import transaction
from app.runtime import Runtime
from app.scheduler import BookingScheduler
from app.services.users import user_for_token
from app.services.websessions import user_id_for


def get_runtime(request: Request) -> Runtime:
    runtime: Runtime = request.app.state.runtime
    return runtime


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


def get_current_user(
    request: Request,
    session: SessionDep,
    runtime: RuntimeDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> User:
    """The user of the bearer token or the browser session; 401 otherwise."""
    user_id = None
    if credentials is not None:
        # Resolved (and last-use stamped) in its own short transaction, so the request's
        # session never holds a write lock that a task started by the request would wait on.
        with transaction(runtime.sessions) as own:
            found = user_for_token(own, credentials.credentials, runtime.clock())
            user_id = found.id if found is not None else None
    else:
        user_id = signed_in_user_id(request, runtime)
    user = session.get(User, user_id) if user_id is not None else None
    if user is None:
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            "a valid API token is required (Authorization: Bearer <token>)",
            headers={"WWW-Authenticate": "Bearer"},
        )
    return user


CurrentUser = Annotated[User, Depends(get_current_user)]


def get_scheduler(request: Request) -> BookingScheduler | None:
    scheduler: BookingScheduler | None = getattr(request.app.state, "scheduler", None)
    return scheduler


SchedulerDep = Annotated[BookingScheduler | None, Depends(get_scheduler)]

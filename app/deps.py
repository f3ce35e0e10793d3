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


def get_current_user(
    session: SessionDep,
    runtime: RuntimeDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> User:
    """The user the bearer token belongs to; 401 otherwise."""
    user = None
    if credentials is not None:
        # Resolved (and last-use stamped) in its own short transaction, so the request's
        # session never holds a write lock that a task started by the request would wait on.
        with transaction(runtime.sessions) as own:
            found = user_for_token(own, credentials.credentials, runtime.clock())
            user_id = found.id if found is not None else None
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

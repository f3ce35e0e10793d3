"""Local users (bootstrap) and the signed-in user."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, status

from app.api.schemas import NotificationOut, UserCreate, UserCreated, UserOut
from app.deps import CurrentUser, RuntimeDep, SessionDep
from app.services import notify
from app.services.users import create_user

router = APIRouter(tags=["users"])


@router.post("/users", response_model=UserCreated, status_code=status.HTTP_201_CREATED)
def create(body: UserCreate, session: SessionDep, runtime: RuntimeDep) -> UserCreated:
    """Create a local user and return a personal API token (shown once)."""
    if not runtime.settings.allow_signup:
        raise HTTPException(status.HTTP_403_FORBIDDEN, "sign-up is disabled (GG_ALLOW_SIGNUP)")
    user, token = create_user(session, body.email, body.timezone, body.working_hours)
    return UserCreated(**UserOut.model_validate(user).model_dump(), api_token=token)


@router.get("/users/me", response_model=UserOut)
def me(user: CurrentUser) -> UserOut:
    """The signed-in user."""
    return UserOut.model_validate(user)


@router.get("/notifications", response_model=list[NotificationOut])
def notifications(user: CurrentUser, session: SessionDep) -> list[NotificationOut]:
    """The in-app notification list, newest first."""
    return [NotificationOut.model_validate(n) for n in notify.list_for_user(session, user.id)]

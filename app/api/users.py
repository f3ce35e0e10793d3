"""Local users (sign-up by emailed link) and the signed-in user."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, Request, status

from app.api.schemas import (
    NotificationOut,
    SignUpConfirm,
    SignUpRequested,
    UserCreate,
    UserCreated,
    UserOut,
)
from app.deps import CurrentUser, RuntimeDep, SessionDep, client_address, throttled
from app.html.forms import csrf_token
from app.services import links
from app.services.notifications import outbox
from app.services.people import signup
from app.services.people.users import FIRST_TOKEN_NAME, issue_token

router = APIRouter(tags=["users"])

CHECK_EMAIL = "If this address can be used, a confirmation link is on its way to it."


@router.post("/users", response_model=SignUpRequested, status_code=status.HTTP_202_ACCEPTED)
def create(
    body: UserCreate, request: Request, session: SessionDep, runtime: RuntimeDep
) -> SignUpRequested:
    """Ask for an account: the address gets a confirmation link (the same answer either way).

    Confirm with `POST /users/confirm` (or by opening the link), which returns the first API
    token. In development, the mail is at /dev/mailbox.
    """
    if not runtime.settings.allow_signup:
        raise HTTPException(status.HTTP_403_FORBIDDEN, "sign-up is disabled (GG_ALLOW_SIGNUP)")
    with throttled():
        runtime.throttle.take("signup.address", client_address(request))
        runtime.throttle.take("signup.email", str(body.email).lower())
    mail = signup.request_sign_up(
        session,
        runtime.cipher,
        email=str(body.email),
        timezone=body.timezone,
        working_hours=body.working_hours,
        password=body.password,
        public_url=runtime.settings.public_url,
        now=runtime.clock(),
        origin="api",
    )
    runtime.send_account_mail(mail)
    return SignUpRequested(detail=CHECK_EMAIL)


@router.post(
    "/users/confirm",
    response_model=UserCreated,
    status_code=status.HTTP_201_CREATED,
    responses={410: {"description": "The link expired, was used, or is not valid"}},
)
def confirm(body: SignUpConfirm, session: SessionDep, runtime: RuntimeDep) -> UserCreated:
    """Use the emailed link's token: creates the account and returns an API token (shown once)."""
    try:
        confirmed = signup.confirm_sign_up(session, runtime.cipher, body.token, runtime.clock())
    except links.LinkRejectedError as error:
        raise HTTPException(status.HTTP_410_GONE, str(error)) from None
    token = issue_token(session, confirmed.user, FIRST_TOKEN_NAME)
    return UserCreated(**UserOut.model_validate(confirmed.user).model_dump(), api_token=token)


@router.get("/users/me", response_model=UserOut)
def me(user: CurrentUser) -> UserOut:
    """The signed-in user."""
    return UserOut.model_validate(user)


@router.get("/users/me/csrf-token", response_model=dict[str, str])
def my_csrf_token(request: Request, runtime: RuntimeDep, user: CurrentUser) -> dict[str, str]:
    """For scripts in a signed-in browser: send it as `X-CSRF-Token` on writes."""
    del user  # signed in, by cookie or token
    return {"csrf_token": csrf_token(request, runtime)}


@router.get("/notifications", response_model=list[NotificationOut])
def notifications(user: CurrentUser, session: SessionDep) -> list[NotificationOut]:
    """The in-app notification list, newest first."""
    return [NotificationOut.model_validate(n) for n in outbox.list_for_user(session, user.id)]

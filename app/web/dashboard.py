"""Dashboard pages: accounts and calendars, notifications and channels, API tokens."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, Response

from app.api.params import RowId
from app.deps import RuntimeDep, SessionDep
from app.services import calendars as calendar_service
from app.services import channels as channel_service
from app.services import notify
from app.services import users as user_service
from app.services.delivery import send_test
from app.web.context import Page, form_action, signed_in
from app.web.forms import see_other

router = APIRouter(include_in_schema=False)
Csrf = Annotated[str, Form(alias="csrf_token")]


# --- accounts ------------------------------------------------------------------------------


def _accounts(
    page: Page, errors: list[tuple[str, str]] | None = None, status: int = 200
) -> Response:
    return page.render(
        "accounts.html",
        "accounts",
        status_code=status,
        providers=page.runtime.providers.names(),
        accounts=calendar_service.accounts_of(page.session, page.user),
        errors=errors,
    )


@router.get("/dashboard/accounts", response_class=HTMLResponse)
def accounts(request: Request, runtime: RuntimeDep, session: SessionDep) -> Response:
    return signed_in(request, runtime, session, _accounts)


@router.post("/dashboard/calendars/{calendar_id}/roles", response_class=HTMLResponse)
def calendar_roles(
    calendar_id: RowId,
    request: Request,
    runtime: RuntimeDep,
    session: SessionDep,
    csrf: Csrf = "",
    busy: Annotated[str | None, Form()] = None,
    target: Annotated[str | None, Form()] = None,
) -> Response:
    def act(page: Page) -> Response:
        calendar_service.set_roles(
            page.session, page.user, calendar_id, busy_source=busy == "on", target=target == "on"
        )
        return see_other("/dashboard/accounts?flash=Calendar+roles+saved")

    return form_action(request, runtime, session, csrf, act, _accounts)


@router.post("/dashboard/accounts/{account_id}/disconnect", response_class=HTMLResponse)
def disconnect(
    account_id: RowId, request: Request, runtime: RuntimeDep, session: SessionDep, csrf: Csrf = ""
) -> Response:
    def act(page: Page) -> Response:
        calendar_service.disconnect(
            page.session,
            page.user,
            account_id,
            cipher=runtime.cipher,
            providers=runtime.providers,
            connectors=runtime.connectors,
        )
        return see_other("/dashboard/accounts?flash=Account+disconnected")

    return form_action(request, runtime, session, csrf, act, _accounts)


# --- notifications -------------------------------------------------------------------------


def _notifications(
    page: Page, errors: list[tuple[str, str]] | None = None, status: int = 200, **extra: object
) -> Response:
    return page.render(
        "notifications.html",
        "notifications",
        status_code=status,
        channels=channel_service.list_channels(page.session, page.user.id),
        notifications=notify.list_for_user(page.session, page.user.id, limit=50),
        errors=errors,
        **extra,
    )


@router.get("/dashboard/notifications", response_class=HTMLResponse)
def notifications(request: Request, runtime: RuntimeDep, session: SessionDep) -> Response:
    return signed_in(request, runtime, session, _notifications)


@router.post("/dashboard/channels", response_class=HTMLResponse)
def add_channel(
    request: Request,
    runtime: RuntimeDep,
    session: SessionDep,
    kind: Annotated[str, Form()],
    target: Annotated[str, Form()],
    csrf: Csrf = "",
) -> Response:
    def act(page: Page) -> Response:
        _, secret = channel_service.create_channel(
            page.session,
            runtime.cipher,
            page.user.id,
            kind,
            target,
            allow_loopback=runtime.settings.loopback_targets_allowed,
        )
        page.session.flush()
        return _notifications(page, secret=secret, flash_now="Channel added")

    return form_action(request, runtime, session, csrf, act, _notifications)


@router.post("/dashboard/channels/{channel_id}/test", response_class=HTMLResponse)
def send_channel_test(
    channel_id: RowId, request: Request, runtime: RuntimeDep, session: SessionDep, csrf: Csrf = ""
) -> Response:
    def act(page: Page) -> Response:
        ok = send_test(
            page.session, runtime.cipher, page.user.id, channel_id, runtime.clock(), runtime.senders
        )
        message = "Test+message+sent" if ok else "The+test+message+could+not+be+delivered"
        return see_other(f"/dashboard/notifications?flash={message}")

    return form_action(request, runtime, session, csrf, act, _notifications)


@router.post("/dashboard/channels/{channel_id}/delete", response_class=HTMLResponse)
def delete_channel(
    channel_id: RowId, request: Request, runtime: RuntimeDep, session: SessionDep, csrf: Csrf = ""
) -> Response:
    def act(page: Page) -> Response:
        channel_service.delete_channel(page.session, page.user.id, channel_id)
        return see_other("/dashboard/notifications?flash=Channel+removed")

    return form_action(request, runtime, session, csrf, act, _notifications)


# --- API tokens ----------------------------------------------------------------------------


def _tokens(
    page: Page, errors: list[tuple[str, str]] | None = None, status: int = 200, **extra: object
) -> Response:
    return page.render(
        "tokens.html",
        "tokens",
        status_code=status,
        tokens=user_service.list_tokens(page.session, page.user),
        errors=errors,
        **extra,
    )


@router.get("/dashboard/tokens", response_class=HTMLResponse)
def tokens(request: Request, runtime: RuntimeDep, session: SessionDep) -> Response:
    return signed_in(request, runtime, session, _tokens)


@router.post("/dashboard/tokens", response_class=HTMLResponse)
def new_token(
    request: Request,
    runtime: RuntimeDep,
    session: SessionDep,
    name: Annotated[str, Form(max_length=100)],
    csrf: Csrf = "",
) -> Response:
    def act(page: Page) -> Response:
        token = user_service.issue_token(page.session, page.user, name.strip() or "script")
        return _tokens(page, new_token=token)

    return form_action(request, runtime, session, csrf, act, _tokens)


@router.post("/dashboard/tokens/{token_id}/revoke", response_class=HTMLResponse)
def revoke(
    token_id: RowId, request: Request, runtime: RuntimeDep, session: SessionDep, csrf: Csrf = ""
) -> Response:
    def act(page: Page) -> Response:
        user_service.revoke_token(page.session, page.user, token_id)
        return see_other("/dashboard/tokens?flash=Token+revoked")

    return form_action(request, runtime, session, csrf, act, _tokens)

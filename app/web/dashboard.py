"""Dashboard pages: accounts and calendars, notifications and channels, API tokens."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated
from urllib.parse import quote_plus

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, Response

from app import tasks
from app.api.params import RowId
from app.demo import service as demo_service
from app.deps import RuntimeDep, SessionDep
from app.domain.time import IsoWeek, resolve_zone
from app.html.fielderrors import FormFields
from app.html.forms import pass_secret, see_other, show_secret_once
from app.services.accounts import connect as account_service
from app.services.accounts import manage as calendar_service
from app.services.growth import log as growth_log
from app.services.notifications import channels as channel_service
from app.services.notifications import outbox
from app.services.notifications.delivery import why_test_failed
from app.services.people import onboarding
from app.services.people import users as user_service
from app.web.context import Page, form_action, post_form, signed_in

router = APIRouter(include_in_schema=False)
Csrf = Annotated[str, Form(alias="csrf_token")]


# --- accounts ------------------------------------------------------------------------------


def _accounts(
    page: Page,
    errors: list[tuple[str, str]] | None = None,
    status: int = 200,
    *,
    form_errors: dict[str, dict[str, str]] | None = None,
    form_values: dict[str, dict[str, str]] | None = None,
) -> Response:
    runtime = page.runtime
    demo = runtime.demo
    demo_account = demo_service.demo_account(page.session, page.user)
    login = demo.login(page.user.id) if demo is not None and demo_account is not None else None
    return page.render(
        "accounts.html",
        "accounts",
        status_code=status,
        oauth=runtime.providers.oauth(),
        forms=runtime.providers.forms(),
        labels={e.name: e.label for e in runtime.providers.entries.values()},
        kinds={e.name: e.kind.value for e in runtime.providers.entries.values()},
        accounts=calendar_service.accounts_of(page.session, page.user),
        steps=onboarding.steps(page.session, page.user),
        demo=demo,
        demo_account=demo_account,
        demo_login=login,
        demo_calendar_url=demo.calendar_url(login[0]) if demo and login else None,
        errors=errors,
        form_errors=form_errors or {},
        form_values=form_values or {},
    )


@router.get("/dashboard/accounts", response_class=HTMLResponse)
def accounts(request: Request, runtime: RuntimeDep, session: SessionDep) -> Response:
    return signed_in(request, runtime, session, _accounts)


@router.post("/dashboard/accounts/connect/{provider}", response_class=HTMLResponse)
async def connect_with_form(
    provider: str, request: Request, runtime: RuntimeDep, session: SessionDep
) -> Response:
    """Connect an account with a credentials form (e.g. a CalDAV server and app password)."""
    form = {k: str(v) for k, v in (await request.form()).items()}

    def act(page: Page) -> Response:
        entry = runtime.providers.entry(provider)
        names = {f.name for f in entry.fields} if entry is not None else set()
        fields = {k: v for k, v in form.items() if k in names}
        try:
            connected = account_service.connect_with_form(
                page.session,
                cipher=runtime.cipher,
                providers=runtime.providers,
                connectors=runtime.connectors,
                provider=provider,
                fields=fields,
                user=page.user,
                now=runtime.clock(),
            )
        except account_service.ConnectRejectedError as error:
            page.session.rollback()
            field = error.field or "form"
            kept = {k: v for k, v in fields.items() if k != "password"}
            return _accounts(
                page,
                [(field, str(error))],
                422,
                form_errors={provider: {field: str(error)}},
                form_values={provider: kept},
            )
        # The first sync reads the account: it starts once the request's commit is done.
        page.after_commit(onboarding.after_connect, runtime, connected.account_id)
        return see_other("/dashboard/accounts?flash=Calendar+connected")

    # Connecting talks to the server (up to its timeout): never on the event loop.
    return await post_form(request, runtime, session, form, act, _accounts)


@router.post("/dashboard/accounts/{account_id}/check", response_class=HTMLResponse)
def check_account(
    account_id: RowId, request: Request, runtime: RuntimeDep, session: SessionDep, csrf: Csrf = ""
) -> Response:
    def act(page: Page) -> Response:
        account = calendar_service.check(
            page.session,
            page.user,
            account_id,
            cipher=runtime.cipher,
            providers=runtime.providers,
            connectors=runtime.connectors,
        )
        flash = "Connection+works" if account.status == "ok" else "Connection+failed"
        return see_other(f"/dashboard/accounts?flash={flash}")

    return form_action(request, runtime, session, csrf, act, _accounts)


@router.post("/dashboard/demo/connect", response_class=HTMLResponse)
def use_demo(
    request: Request, runtime: RuntimeDep, session: SessionDep, csrf: Csrf = ""
) -> Response:
    """Create and connect the person's demo calendar (seeded with a working week)."""

    def act(page: Page) -> Response:
        account = demo_service.connect(
            page.session,
            runtime.demo,
            page.user,
            cipher=runtime.cipher,
            connectors=runtime.connectors,
            now=runtime.clock(),
        )
        page.after_commit(onboarding.after_connect, runtime, account.id)
        return see_other("/dashboard/accounts?flash=Demo+calendar+connected")

    return form_action(request, runtime, session, csrf, act, _accounts)


@router.post("/dashboard/demo/invite", response_class=HTMLResponse)
def sample_invite(
    request: Request, runtime: RuntimeDep, session: SessionDep, csrf: Csrf = ""
) -> Response:
    """Write an invite from an outside organizer over the next growth block (demo only)."""

    def act(page: Page) -> Response:
        sent = demo_service.send_sample_invite(
            page.session, runtime.demo, page.user, runtime.clock()
        )
        seconds = runtime.settings.demo_poll_seconds
        message = quote_plus(
            f"Invite “{sent.title}” sent; GrowthGuard will notice it within {seconds} seconds"
        )
        week = IsoWeek.containing(sent.start, resolve_zone(page.user.timezone))
        return see_other(f"/dashboard/week?week={week}&flash={message}")

    return form_action(request, runtime, session, csrf, act, _accounts)


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
        calendar = calendar_service.set_roles(
            page.session, page.user, calendar_id, busy_source=busy == "on", target=target == "on"
        )
        if calendar.is_target:
            # a worker's job in scaled mode, queued once the request's commit is done
            page.after_commit(tasks.enqueue_user_bookings, page.user.id)
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


CHANNEL_KIND_LABELS = {"email": "Email", "slack": "Slack", "webhook": "Webhook"}


def _notifications(
    page: Page, errors: list[tuple[str, str]] | None = None, status: int = 200, **extra: object
) -> Response:
    # Growth hook: blocks that ended are asked about here (once each), with a one-field link.
    secret = page.runtime.settings.secret_key.get_secret_value()
    growth_log.ask(page.session, page.user, page.runtime.clock(), secret)
    channels = channel_service.list_channels(page.session, page.user.id)
    labels = {"channel-kind": "Kind", "channel-target": "Email address or URL"}
    for channel in channels:
        labels[f"channel-{channel.id}"] = f"{CHANNEL_KIND_LABELS.get(channel.kind, channel.kind)}"
    return page.render(
        "notifications.html",
        "notifications",
        status_code=status,
        channels=channels,
        kinds=CHANNEL_KIND_LABELS,
        notifications=outbox.list_for_user(page.session, page.user.id, limit=50),
        zone=resolve_zone(page.user.timezone),
        errors=errors,
        fields=FormFields(labels, {"kind": "channel-kind", "target": "channel-target"}),
        **extra,
    )


@dataclass(frozen=True)
class _Handoff:
    """How a secret just made reaches the one page that shows it: a cookie scoped to `path`."""

    cookie: str
    path: str


def _page_with_secret(
    request: Request,
    runtime: RuntimeDep,
    session: SessionDep,
    handoff: _Handoff,
    render: Callable[[Page, str | None], Response],
) -> Response:
    """A signed-in page that shows, once, the secret a form just handed it."""

    def view(page: Page) -> Response:
        return show_secret_once(
            request, runtime, handoff.cookie, handoff.path, lambda secret: render(page, secret)
        )

    return signed_in(request, runtime, session, view)


def _redirect_with_secret(
    runtime: RuntimeDep, url: str, handoff: _Handoff, secret: str | None
) -> Response:
    """Post/redirect/get to `url`, handing `secret` (if any) to its page once."""
    response = see_other(url)
    if secret:
        pass_secret(response, runtime, handoff.cookie, secret, handoff.path)
    return response


# a webhook's signing secret, for the next page
NEW_SECRET = _Handoff("gg_new_channel_secret", "/dashboard/notifications")


@router.get("/dashboard/notifications", response_class=HTMLResponse)
def notifications(request: Request, runtime: RuntimeDep, session: SessionDep) -> Response:
    # Shown once: the cookie set by adding a channel is read here and deleted with this page.
    return _page_with_secret(
        request, runtime, session, NEW_SECRET, lambda page, s: _notifications(page, secret=s)
    )


@router.post("/dashboard/channels", response_class=HTMLResponse)
def add_channel(
    request: Request,
    runtime: RuntimeDep,
    session: SessionDep,
    csrf: Csrf = "",
    kind: Annotated[str, Form()] = "",
    target: Annotated[str, Form()] = "",
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
        # Post/redirect/get: a reload must not add the channel again. A webhook's signing
        # secret rides to the next page once, in a short-lived, encrypted, HttpOnly cookie.
        added = "/dashboard/notifications?flash=Channel+added"
        return _redirect_with_secret(runtime, added, NEW_SECRET, secret)

    def failed(page: Page, errors: list[tuple[str, str]], status: int) -> Response:
        return _notifications(page, errors, status, typed={"kind": kind, "target": target})

    return form_action(request, runtime, session, csrf, act, failed)


@router.post("/dashboard/channels/{channel_id}/test", response_class=HTMLResponse)
def send_channel_test(
    channel_id: RowId, request: Request, runtime: RuntimeDep, session: SessionDep, csrf: Csrf = ""
) -> Response:
    def act(page: Page) -> Response:
        reason = why_test_failed(
            page.session, runtime.cipher, page.user.id, channel_id, runtime.clock(), runtime.senders
        )
        if reason is None:
            return see_other("/dashboard/notifications?flash=Test+message+sent")
        # An error, with its reason, where the person pressed the button (502: the channel
        # refused, not the request).
        problem = (f"channel-{channel_id}", f"The test message was not delivered: {reason}")
        return _notifications(page, [problem], 502, errors_title="The test message did not arrive")

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


NEW_TOKEN = _Handoff("gg_new_token", "/dashboard/tokens")  # the token just made, for the next page
TOKEN_FIELDS = FormFields({"token-name": "Name"}, {"name": "token-name"})


def _tokens(
    page: Page, errors: list[tuple[str, str]] | None = None, status: int = 200, **extra: object
) -> Response:
    return page.render(
        "tokens.html",
        "tokens",
        status_code=status,
        tokens=user_service.list_tokens(page.session, page.user),
        zone=resolve_zone(page.user.timezone),
        errors=errors,
        fields=TOKEN_FIELDS,
        **extra,
    )


@router.get("/dashboard/tokens", response_class=HTMLResponse)
def tokens(request: Request, runtime: RuntimeDep, session: SessionDep) -> Response:
    # Shown once: the cookie set by the POST is read here and deleted with this answer.
    return _page_with_secret(
        request, runtime, session, NEW_TOKEN, lambda page, token: _tokens(page, new_token=token)
    )


@router.post("/dashboard/tokens", response_class=HTMLResponse)
def new_token(
    request: Request,
    runtime: RuntimeDep,
    session: SessionDep,
    name: Annotated[str, Form()] = "",
    csrf: Csrf = "",
) -> Response:
    def act(page: Page) -> Response:
        token = user_service.issue_token(page.session, page.user, name)
        # Post/redirect/get: a reload must not make another token. The token rides to the
        # next page in a short-lived, encrypted, HttpOnly cookie, never in the URL.
        return _redirect_with_secret(runtime, "/dashboard/tokens", NEW_TOKEN, token)

    def failed(page: Page, errors: list[tuple[str, str]], status: int) -> Response:
        return _tokens(page, errors, status, typed_name=name)

    return form_action(request, runtime, session, csrf, act, failed)


@router.post("/dashboard/tokens/{token_id}/revoke", response_class=HTMLResponse)
def revoke(
    token_id: RowId,
    request: Request,
    runtime: RuntimeDep,
    session: SessionDep,
    csrf: Csrf = "",
    confirm: Annotated[str, Form()] = "",
) -> Response:
    def act(page: Page) -> Response:
        if confirm != "yes":  # the first press asks; scripts using it would stop at once
            token = user_service.get_token(page.session, page.user, token_id)
            return _tokens(page, confirm_revoke=token)
        user_service.revoke_token(page.session, page.user, token_id)
        return see_other("/dashboard/tokens?flash=Token+revoked")

    return form_action(request, runtime, session, csrf, act, _tokens)

"""Connected accounts and their calendars."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, BackgroundTasks, Query
from pydantic import AwareDatetime, BaseModel, ConfigDict, StringConstraints

from app.api.params import RowId
from app.db.models import Account, Calendar
from app.deps import CurrentUser, RuntimeDep, SessionDep
from app.services.accounts import connect as account_service
from app.services.accounts import manage as calendar_service
from app.services.errors import InvalidInputError
from app.services.people import onboarding
from app.services.sync.events import cached_events

router = APIRouter(tags=["accounts"])


class CalendarOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    name: str
    is_primary: bool
    is_busy_source: bool
    is_target: bool
    timezone: str | None
    last_synced_at: datetime | None
    push_active: bool = False


class AccountOut(BaseModel):
    id: int
    provider: str
    email: str
    status: str
    status_detail: str
    # "full", or "book_only": connected with the narrowest scopes; its policy only flags.
    access_mode: str = "full"
    calendars: list[CalendarOut]


class CalendarRoles(BaseModel):
    model_config = ConfigDict(extra="forbid")

    is_busy_source: bool | None = None
    is_target: bool | None = None


class EventOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    provider_event_id: str
    title: str
    start: datetime
    end: datetime
    all_day: bool
    busy: bool
    status: str
    event_type: str
    organizer_email: str | None
    self_is_organizer: bool
    self_response: str | None
    attendee_count: int
    tag_slot_key: str | None
    synced_at: datetime


def _calendar_out(calendar: object) -> CalendarOut:
    out = CalendarOut.model_validate(calendar)
    # A channel being created (recorded before the provider answered) is not active yet.
    out.push_active = getattr(calendar, "watch_expires_at", None) is not None
    return out


def _account_out(account: Account, calendars: list[Calendar]) -> AccountOut:
    return AccountOut(
        id=account.id,
        provider=account.provider,
        email=account.display_name,
        status=account.status,
        status_detail=account.status_detail,
        access_mode=account.access_mode,
        calendars=[_calendar_out(c) for c in calendars],
    )


@router.get("/accounts", response_model=list[AccountOut])
def list_accounts(user: CurrentUser, session: SessionDep) -> list[AccountOut]:
    """Connected accounts with their calendars and status."""
    return [
        _account_out(a, calendars) for a, calendars in calendar_service.accounts_of(session, user)
    ]


class ConnectFields(BaseModel):
    """The provider's form fields (e.g. server, username, password); see its entry."""

    model_config = ConfigDict(extra="forbid")

    fields: dict[str, Annotated[str, StringConstraints(max_length=1000)]]


@router.post("/accounts/connect/{provider}", response_model=AccountOut, status_code=201)
def connect(
    provider: str,
    body: ConnectFields,
    user: CurrentUser,
    session: SessionDep,
    runtime: RuntimeDep,
    background: BackgroundTasks,
) -> AccountOut:
    """Connect an account with credentials (a CalDAV server and app password); 422 says why not."""
    try:
        connected = account_service.connect_with_form(
            session,
            cipher=runtime.cipher,
            providers=runtime.providers,
            connectors=runtime.connectors,
            provider=provider,
            fields=dict(body.fields),
            user=user,
            now=runtime.clock(),
        )
    except account_service.ConnectRejectedError as error:
        session.rollback()
        raise InvalidInputError([(f"fields.{error.field or 'server'}", str(error))]) from None
    # The first sync reads the account: it starts once the request's commit is done.
    background.add_task(onboarding.after_connect, runtime, connected.account_id)
    account = calendar_service.get_account(session, user, connected.account_id)
    mine = [
        c
        for _, calendars in calendar_service.accounts_of(session, user)
        for c in calendars
        if c.account_id == account.id
    ]
    return _account_out(account, mine)


@router.patch("/calendars/{calendar_id}", response_model=CalendarOut)
def change_roles(
    calendar_id: RowId, body: CalendarRoles, user: CurrentUser, session: SessionDep
) -> CalendarOut:
    """Choose whether a calendar counts as busy and whether blocks are written to it."""
    calendar = calendar_service.set_roles(
        session, user, calendar_id, busy_source=body.is_busy_source, target=body.is_target
    )
    return _calendar_out(calendar)


@router.delete("/accounts/{account_id}", response_model=AccountOut)
def disconnect(
    account_id: RowId, user: CurrentUser, session: SessionDep, runtime: RuntimeDep
) -> AccountOut:
    """Disconnect: stop push, revoke the grant, delete the stored credential."""
    account = calendar_service.disconnect(
        session,
        user,
        account_id,
        cipher=runtime.cipher,
        providers=runtime.providers,
        connectors=runtime.connectors,
    )
    return _account_out(account, [])  # its calendars are gone with the grant


# POST /calendars/{calendar_id}/sync lives with the sync health (app/api/sync_health.py).


@router.get("/calendars/{calendar_id}/events", response_model=list[EventOut])
def events(
    calendar_id: RowId,
    user: CurrentUser,
    session: SessionDep,
    start: Annotated[AwareDatetime | None, Query()] = None,
    end: Annotated[AwareDatetime | None, Query()] = None,
) -> list[EventOut]:
    """Events as last synced from the provider."""
    calendar = calendar_service.get_calendar(session, user, calendar_id)
    return [EventOut.model_validate(e) for e in cached_events(session, calendar, start, end)]

"""Request and response bodies of the HTTP API."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from pydantic import AwareDatetime, BaseModel, ConfigDict, EmailStr, Field

from app.domain.plan import PlanSpec
from app.services.booking.reconcile import BookingReport  # the API answers it as it is

# Field limits: nothing a stranger sends is stored or parsed without a bound.
Hours = Annotated[list[Annotated[str, Field(max_length=11)]], Field(max_length=8)]
WorkingHoursIn = Annotated[dict[Annotated[str, Field(max_length=3)], Hours], Field(max_length=7)]


class UserCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    email: EmailStr = Field(max_length=320)
    timezone: str = Field(max_length=64, description="IANA time zone, e.g. Europe/Berlin")
    working_hours: WorkingHoursIn | None = Field(
        default=None,
        description='Per weekday, e.g. {"mon": ["09:00-12:00", "13:00-17:00"]}; '
        "missing weekdays are days off. Default: Mon-Fri 09:00-17:00.",
    )
    password: str | None = Field(
        default=None,
        min_length=12,
        max_length=1024,
        description="Optional: a password for signing in to the dashboard (12+ characters).",
    )


class SignUpRequested(BaseModel):
    detail: str = Field(description="The same answer whether or not the address has an account")


class SignUpConfirm(BaseModel):
    model_config = ConfigDict(extra="forbid")

    token: str = Field(max_length=4096, description="The `t` value of the emailed link")


class UserOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    email: str
    timezone: str
    working_hours: dict[str, list[str]]


class UserCreated(UserOut):
    api_token: str = Field(description="Shown once; send it as `Authorization: Bearer <token>`")


class PlanOut(BaseModel):
    id: int
    active: bool
    spec: PlanSpec
    next_booking_at: datetime | None = None
    created_at: datetime
    updated_at: datetime


class PlanActive(BaseModel):
    model_config = ConfigDict(extra="forbid")

    active: bool


class Slot(BaseModel):
    start: datetime
    end: datetime
    minutes: int
    status: str = Field(description="kept (already on the calendar) or new (would be booked)")


class PreviewOut(BaseModel):
    plan_id: int
    week: str
    timezone: str
    blocks: list[Slot]
    target_minutes: int
    booked_minutes: int
    shortfall_reason: str | None
    target_note: str = Field(
        default="", description="Why days off reduced the target (leave, holidays, out of office)"
    )


class BlockOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    plan_id: int
    week: str
    slot_key: str
    start: datetime
    end: datetime
    state: str
    provider_event_id: str | None
    level: str = Field(description="flexible (shown free until its threshold), firm or locked")
    busy: bool = Field(description="shown busy at the provider (false: a flexible block, free)")
    pinned: bool = Field(description="the person keeps it here: booking never moves it")


class PinIn(BaseModel):
    """Keep a block where it is (empty body), or move it to `start` (and `end`) and keep it."""

    model_config = ConfigDict(extra="forbid")

    start: AwareDatetime | None = None
    end: AwareDatetime | None = None


class ChosenSlot(BaseModel):
    model_config = ConfigDict(extra="forbid")

    start: AwareDatetime
    end: AwareDatetime


class WeekSlotsIn(BaseModel):
    """The week's blocks, chosen by the person: booking books exactly these (future) times."""

    model_config = ConfigDict(extra="forbid")

    slots: list[ChosenSlot] = Field(max_length=30)


class BookingRunOut(BaseModel):
    """A booking request and what became of it."""

    id: int
    plan_id: int
    weeks: list[str]
    state: str = Field(description="queued, running, retrying, done, blocked or failed")
    attempts: int
    next_attempt_at: datetime | None = Field(description="When a retrying run tries again")
    reason: str | None = Field(description="Why it is retrying, blocked or failed")
    reports: list[BookingReport] = Field(description="Per week, once done")
    requested_at: datetime
    finished_at: datetime | None
    status_url: str


def run_out(run: Any) -> BookingRunOut:
    detail = run.detail or {}
    return BookingRunOut(
        id=run.id,
        plan_id=run.plan_id,
        weeks=list(run.weeks),
        state=str(run.state),
        attempts=run.attempts,
        next_attempt_at=run.next_attempt_at,
        reason=detail.get("reason"),
        reports=[BookingReport(**r) for r in detail.get("reports", [])],
        requested_at=run.requested_at,
        finished_at=run.finished_at,
        status_url=f"/plans/{run.plan_id}/bookings/{run.id}",
    )


class NotificationOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    kind: str
    payload: dict[str, Any]
    status: str
    created_at: datetime


class Health(BaseModel):
    status: str

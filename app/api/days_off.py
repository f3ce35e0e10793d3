"""Days off: leave days and the public-holiday region (they reduce the weekly target)."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from fastapi import APIRouter, Path, Response, status
from pydantic import BaseModel, ConfigDict, Field

from app.db.models import User
from app.deps import CurrentUser, RuntimeDep, SessionDep
from app.domain.time import resolve_zone
from app.services.planning import days_off

router = APIRouter(tags=["days off"])


class LeaveIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    day: dt.date = Field(description="The first day of leave (a local date)")
    until: dt.date | None = Field(
        default=None,
        description=f"The last day, inclusive (at most {days_off.MAX_LEAVE_SPAN_DAYS})",
    )
    note: str = Field(default="", max_length=days_off.NOTE_MAX)


class LeaveOut(BaseModel):
    day: dt.date
    note: str


class RegionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    country: str | None = Field(
        default=None, max_length=3, description="ISO 3166 country code (e.g. DE); null: none"
    )
    subdivision: str | None = Field(
        default=None, max_length=10, description="A state or region code (e.g. BY), optional"
    )


class DaysOffOut(BaseModel):
    country: str | None
    subdivision: str | None
    leave: list[LeaveOut]


def _out(session: SessionDep, user: User) -> DaysOffOut:
    return DaysOffOut(
        country=user.holiday_country,
        subdivision=user.holiday_subdivision,
        leave=[LeaveOut(day=row.day, note=row.note) for row in days_off.list_leave(session, user)],
    )


@router.get("/users/me/days-off", response_model=DaysOffOut)
def get_days_off(user: CurrentUser, session: SessionDep) -> DaysOffOut:
    """Leave days and the public-holiday region: both reduce a week's target pro rata."""
    return _out(session, user)


@router.put("/users/me/holiday-region", response_model=DaysOffOut)
def put_region(body: RegionIn, user: CurrentUser, session: SessionDep) -> DaysOffOut:
    """Choose whose public holidays count as days off (null country: none)."""
    days_off.set_region(session, user, body.country, body.subdivision)
    return _out(session, user)


@router.post("/users/me/leave", response_model=DaysOffOut, status_code=status.HTTP_201_CREATED)
def add_leave(
    body: LeaveIn, user: CurrentUser, session: SessionDep, runtime: RuntimeDep
) -> DaysOffOut:
    """Mark a day (or days through `until`) as leave: no blocks are booked on them."""
    today = runtime.clock().astimezone(resolve_zone(user.timezone)).date()
    days_off.add_leave(session, user, body.day, body.until, body.note, today)
    return _out(session, user)


@router.delete("/users/me/leave/{day}", status_code=status.HTTP_204_NO_CONTENT)
def remove_leave(
    day: Annotated[dt.date, Path(description="The leave day to unmark")],
    user: CurrentUser,
    session: SessionDep,
) -> Response:
    """Unmark a leave day (404 when it was not marked)."""
    days_off.remove_leave(session, user, day)
    return Response(status_code=status.HTTP_204_NO_CONTENT)

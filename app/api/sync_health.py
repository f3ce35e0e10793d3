"""Sync health per calendar, "sync now" / "re-read everything", and the next booking's dry run."""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter, status
from pydantic import BaseModel

from app import tasks
from app.api.params import RowId
from app.deps import CurrentUser, RuntimeDep, SessionDep
from app.domain.intervals import Interval
from app.services.booking import dry_run as booking_dry_run
from app.services.sync import health as sync_health

router = APIRouter(tags=["sync health"])


class CalendarHealthOut(BaseModel):
    id: int  # the calendar's
    calendar_name: str
    account_id: int
    account_name: str
    provider: str
    account_status: str
    access_mode: str
    is_busy_source: bool
    is_target: bool
    last_synced_at: datetime | None
    last_error: str | None
    last_error_at: datetime | None
    push_active: bool
    push_expires_at: datetime | None
    poll_seconds: int | None
    sync_state: str
    events_this_week: int
    can_sync: bool


class SyncRequested(BaseModel):
    calendar_id: int
    full: bool
    queued: bool  # False: the same sync was already waiting (it covers this request)


class IntervalOut(BaseModel):
    start: datetime
    end: datetime
    minutes: int


class DryRunWeekOut(BaseModel):
    week: str
    create: list[IntervalOut]
    keep: list[IntervalOut]
    moved: list[IntervalOut]
    lose: list[IntervalOut]
    target_minutes: int
    booked_minutes: int
    why: str


class PlanDryRunOut(BaseModel):
    id: int  # the plan's
    goal: str
    runs_at: datetime | None
    timezone: str
    target: str | None
    weeks: list[DryRunWeekOut]
    blocked: str | None
    book_only: bool


def _out(health: sync_health.CalendarHealth) -> CalendarHealthOut:
    fields = dict(health.__dict__)
    return CalendarHealthOut(id=fields.pop("calendar_id"), **fields)


def _intervals(items: list[Interval]) -> list[IntervalOut]:
    return [IntervalOut(start=i.start, end=i.end, minutes=round(i.minutes)) for i in items]


@router.get("/sync-health", response_model=list[CalendarHealthOut])
def list_health(
    user: CurrentUser, session: SessionDep, runtime: RuntimeDep
) -> list[CalendarHealthOut]:
    """Every calendar of the caller: last sync, push or polling, last error, events this week."""
    found = sync_health.health_of_user(session, user, runtime.settings, runtime.clock())
    return [_out(h) for h in found]


@router.get("/calendars/{calendar_id}/health", response_model=CalendarHealthOut)
def calendar_health(
    calendar_id: RowId, user: CurrentUser, session: SessionDep, runtime: RuntimeDep
) -> CalendarHealthOut:
    """One calendar's sync health (404 unless it is the caller's)."""
    return _out(
        sync_health.health_of_calendar(
            session, user, calendar_id, runtime.settings, runtime.clock()
        )
    )


@router.post(
    "/calendars/{calendar_id}/sync",
    response_model=SyncRequested,
    status_code=status.HTTP_202_ACCEPTED,
)
def request_sync(
    calendar_id: RowId,
    user: CurrentUser,
    session: SessionDep,
    full: bool = False,
) -> SyncRequested:
    """Queue a sync of the calendar: incremental, or `full=true` to re-read everything (the
    stored sync token is dropped). Answers at once; the page shows the outcome."""
    sync_health.check_sync_request(session, user, calendar_id)  # writes nothing to commit
    queued = tasks.enqueue_sync(calendar_id, full=full)
    return SyncRequested(calendar_id=calendar_id, full=full, queued=queued)


@router.get("/sync-health/next-booking", response_model=list[PlanDryRunOut])
def next_booking(
    user: CurrentUser, session: SessionDep, runtime: RuntimeDep
) -> list[PlanDryRunOut]:
    """Dry run of each active plan's next weekly booking: what it would create, keep and
    lose, and why. Reads the calendars; writes nothing."""
    runs = booking_dry_run.dry_run(session, user, runtime.connectors, runtime.clock())
    return [
        PlanDryRunOut(
            id=run.plan_id,
            goal=run.goal,
            runs_at=run.runs_at,
            timezone=run.timezone,
            target=run.target,
            blocked=run.blocked,
            book_only=run.book_only,
            weeks=[
                DryRunWeekOut(
                    week=w.week,
                    create=_intervals(w.create),
                    keep=_intervals(w.keep),
                    moved=_intervals(w.moved),
                    lose=_intervals(w.lose),
                    target_minutes=w.target_minutes,
                    booked_minutes=w.booked_minutes,
                    why=w.why,
                )
                for w in run.weeks
            ],
        )
        for run in runs
    ]

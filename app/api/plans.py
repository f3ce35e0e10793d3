"""Growth plans, their preview, on-demand booking and their blocks."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, BackgroundTasks, Depends, Query, Response, status
from fastapi.responses import JSONResponse
from pydantic import AwareDatetime

from app import tasks
from app.api.params import RowId
from app.api.schemas import (
    BlockOut,
    BookingRunOut,
    PinIn,
    PlanActive,
    PlanOut,
    PreviewOut,
    Slot,
    WeekSlotsIn,
    run_out,
)
from app.db.models import Plan, User
from app.deps import CurrentUser, RuntimeDep, SchedulerDep, SessionDep
from app.domain.plan import PlanSpec
from app.domain.time import IsoWeek
from app.runtime import Runtime
from app.scheduler import PlanSchedule, next_weekly_run
from app.services.booking import jobs as booking_jobs
from app.services.booking import pins
from app.services.booking.reconcile import booking_obstacle, horizon_weeks, preview_week
from app.services.errors import InvalidInputError
from app.services.planning import plans as plan_service

router = APIRouter(tags=["plans"])

WeekQuery = Annotated[
    str | None,
    Query(description="ISO week, e.g. 2027-W03; default: the current week in the plan's zone"),
]
NowQuery = Annotated[
    AwareDatetime | None,
    Query(description="Evaluate as of this moment (ISO 8601 with offset); default: now"),
]


def _week(text: str | None, now: datetime, zone_of: tuple[Plan, User]) -> IsoWeek:
    if text is None:
        plan, user = zone_of
        return IsoWeek.containing(now, plan_service.plan_zone(plan_service.plan_spec(plan), user))
    try:
        return IsoWeek.parse(text)
    except ValueError as error:
        raise InvalidInputError([("query.week", str(error))]) from None


def _out(plan: Plan, user: User, runtime: Runtime) -> PlanOut:
    # Computed from the plan, not asked of the scheduler: a request holding a transaction
    # must never wait for the scheduler's lock (that once deadlocked SQLite).
    return PlanOut(
        id=plan.id,
        active=plan.active,
        spec=plan_service.plan_spec(plan),
        next_booking_at=next_weekly_run(plan, user, runtime.clock()),
        created_at=plan.created_at,
        updated_at=plan.updated_at,
    )


def _reschedule(scheduler: PlanSchedule | None, plan_id: int) -> None:
    # Runs as a background task, i.e. after the request's transaction has committed.
    if scheduler is not None:
        scheduler.plan_changed(plan_id)


def _plan_changed(scheduler: SchedulerDep, background: BackgroundTasks) -> Callable[[int], None]:
    """Reschedules a changed plan once the request's transaction has committed."""

    def changed(plan_id: int) -> None:
        background.add_task(_reschedule, scheduler, plan_id)

    return changed


PlanChanged = Annotated[Callable[[int], None], Depends(_plan_changed)]


@router.post("/plans", response_model=PlanOut, status_code=status.HTTP_201_CREATED)
def create_plan(
    spec: PlanSpec,
    user: CurrentUser,
    session: SessionDep,
    runtime: RuntimeDep,
    changed: PlanChanged,
) -> PlanOut:
    """Create a plan; its first booking runs right away, then weekly at `book_at`."""
    plan = plan_service.create_plan(session, user, spec, runtime.clock())
    changed(plan.id)
    return _out(plan, user, runtime)


@router.get("/plans", response_model=list[PlanOut])
def list_plans(user: CurrentUser, session: SessionDep, runtime: RuntimeDep) -> list[PlanOut]:
    """The user's plans."""
    return [_out(plan, user, runtime) for plan in plan_service.list_plans(session, user)]


@router.get("/plans/{plan_id}", response_model=PlanOut)
def get_plan(
    plan_id: RowId, user: CurrentUser, session: SessionDep, runtime: RuntimeDep
) -> PlanOut:
    """One plan."""
    return _out(plan_service.get_plan(session, user, plan_id), user, runtime)


@router.put("/plans/{plan_id}", response_model=PlanOut)
def replace_plan(
    plan_id: RowId,
    spec: PlanSpec,
    user: CurrentUser,
    session: SessionDep,
    runtime: RuntimeDep,
    changed: PlanChanged,
) -> PlanOut:
    """Replace a plan's document."""
    plan = plan_service.replace_plan(session, user, plan_id, spec)
    changed(plan.id)
    return _out(plan, user, runtime)


@router.patch("/plans/{plan_id}", response_model=PlanOut)
def set_active(
    plan_id: RowId,
    body: PlanActive,
    user: CurrentUser,
    session: SessionDep,
    runtime: RuntimeDep,
    changed: PlanChanged,
) -> PlanOut:
    """Pause or resume a plan."""
    plan = plan_service.set_active(session, user, plan_id, body.active)
    changed(plan.id)
    return _out(plan, user, runtime)


@router.delete("/plans/{plan_id}", status_code=status.HTTP_204_NO_CONTENT)
def delete_plan(
    plan_id: RowId,
    user: CurrentUser,
    session: SessionDep,
    scheduler: SchedulerDep,
    background: BackgroundTasks,
) -> Response:
    """Delete a plan and its block records (events already on calendars stay)."""
    plan_service.delete_plan(session, user, plan_id)
    if scheduler is not None:
        background.add_task(scheduler.unschedule_plan, plan_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get("/plans/{plan_id}/preview", response_model=PreviewOut)
def preview(
    plan_id: RowId,
    user: CurrentUser,
    session: SessionDep,
    runtime: RuntimeDep,
    week: WeekQuery = None,
    now: NowQuery = None,
) -> PreviewOut:
    """What booking would put on a week's calendar, and why when it is less than the target."""
    plan = plan_service.get_plan(session, user, plan_id)
    moment = now or runtime.clock()
    iso_week = _week(week, moment, (plan, user))
    result = preview_week(session, plan, iso_week, moment, runtime.connectors)
    spec = plan_service.plan_spec(plan)
    return PreviewOut(
        plan_id=plan.id,
        week=result.week,
        timezone=str(plan_service.plan_zone(spec, user)),
        blocks=sorted(
            [
                Slot(start=i.start, end=i.end, minutes=round(i.minutes), status="kept")
                for i in result.kept
            ]
            + [
                Slot(start=i.start, end=i.end, minutes=round(i.minutes), status="new")
                for i in result.new
            ],
            key=lambda s: s.start,
        ),
        target_minutes=result.target_minutes,
        booked_minutes=result.booked_minutes,
        shortfall_reason=result.shortfall_reason,
        target_note=result.target_note,
    )


@router.post(
    "/plans/{plan_id}/book",
    response_model=BookingRunOut,
    status_code=status.HTTP_202_ACCEPTED,
    responses={
        409: {"model": BookingRunOut, "description": "Booking is blocked; `reason` says why"}
    },
)
def book_now(
    plan_id: RowId,
    user: CurrentUser,
    session: SessionDep,
    runtime: RuntimeDep,
    response: Response,
    background: BackgroundTasks,
    week: WeekQuery = None,
) -> BookingRunOut | JSONResponse:
    """Book now, in the background: one week, or (without `week`) the plan's whole horizon.

    Answers 202 with the run and `Location` of its status (`GET /plans/{id}/bookings/{run}`);
    409 with the reason when booking cannot start (paused plan, account to reconnect, no
    target calendar). Idempotent: an identical request still waiting is returned again.
    """
    plan = plan_service.get_plan(session, user, plan_id)
    now = runtime.clock()
    if week is None:
        spec = plan_service.plan_spec(plan)
        zone = plan_service.plan_zone(spec, user)
        weeks = [str(w) for w in horizon_weeks(spec, IsoWeek.containing(now, zone))]
    else:
        weeks = [str(_week(week, now, (plan, user)))]
    obstacle = booking_obstacle(session, plan)
    if obstacle is not None:
        run = booking_jobs.blocked_run(session, plan, weeks, obstacle, now)
        body = run_out(run).model_dump(mode="json")
        return JSONResponse(body | {"detail": f"Booking is blocked: {obstacle}"}, status_code=409)
    run = booking_jobs.request_run(session, plan, weeks, now)
    # Enqueued after the commit (a background task runs once the response is ready).
    background.add_task(tasks.enqueue_booking, run.id)
    response.headers["Location"] = run_out(run).status_url
    return run_out(run)


@router.get("/plans/{plan_id}/bookings", response_model=list[BookingRunOut])
def list_bookings(plan_id: RowId, user: CurrentUser, session: SessionDep) -> list[BookingRunOut]:
    """The plan's recent booking runs, newest first."""
    return [run_out(run) for run in booking_jobs.list_runs(session, user, plan_id)]


@router.get("/plans/{plan_id}/bookings/{run_id}", response_model=BookingRunOut)
def get_booking(
    plan_id: RowId, run_id: RowId, user: CurrentUser, session: SessionDep
) -> BookingRunOut:
    """One booking run: queued, running, retrying (when and why), done, blocked or failed."""
    return run_out(booking_jobs.get_run(session, user, plan_id, run_id))


@router.get("/blocks", response_model=list[BlockOut])
def list_blocks(
    user: CurrentUser,
    session: SessionDep,
    plan_id: RowId | None = None,
    week: Annotated[str | None, Query(description="ISO week, e.g. 2027-W03")] = None,
) -> list[BlockOut]:
    """The user's growth blocks, optionally for one plan and/or week."""
    try:
        iso_week = IsoWeek.parse(week) if week is not None else None
    except ValueError as error:
        raise InvalidInputError([("query.week", str(error))]) from None
    rows = plan_service.list_blocks(session, user, plan_id, iso_week)
    return [BlockOut.model_validate(row) for row in rows]


@router.post("/plans/{plan_id}/blocks/{block_id}/pin", response_model=BlockOut)
def pin_block(
    plan_id: RowId,
    block_id: RowId,
    body: PinIn,
    user: CurrentUser,
    session: SessionDep,
    runtime: RuntimeDep,
) -> BlockOut:
    """Keep a block here (empty body) or at `start`..`end` (default: its length): booking
    never moves a pinned block and the policy flags instead of moving it. 422 names the field
    (outside the block's week, in the past, overlapping another block, length not 15-720 min)."""
    block = pins.pin_block(
        session, user, plan_id, block_id, runtime.clock(), runtime.connectors, body.start, body.end
    )
    return BlockOut.model_validate(block)


@router.put("/plans/{plan_id}/weeks/{week}/slots", response_model=list[BlockOut])
def choose_slots(
    plan_id: RowId,
    week: str,
    body: WeekSlotsIn,
    user: CurrentUser,
    session: SessionDep,
    runtime: RuntimeDep,
) -> list[BlockOut]:
    """Book exactly these slots in the week's future: matching blocks stay, others move or
    go, missing ones are created; all are pinned and booking adds nothing to the week."""
    try:
        iso_week = IsoWeek.parse(week)
    except ValueError as error:
        raise InvalidInputError([("path.week", str(error))]) from None
    slots = [pins.SlotIn(s.start, s.end) for s in body.slots]
    rows = pins.choose_week(
        session, user, plan_id, iso_week, slots, runtime.clock(), runtime.connectors
    )
    return [BlockOut.model_validate(row) for row in rows]

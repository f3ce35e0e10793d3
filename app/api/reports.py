"""Growth reports: weekly rows and summary (JSON, CSV), the chart (SVG) and the baseline."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Response
from pydantic import BaseModel, Field

from app.api.params import RowId
from app.db.models import Plan, User
from app.deps import CurrentUser, RuntimeDep, SessionDep
from app.domain.ledger import WeekLedger
from app.html.charts import growth_chart
from app.services.planning import plans as plan_service
from app.services.reports import baseline as baseline_service
from app.services.reports import ledgers as report_service

router = APIRouter(tags=["reports"])

PlanQuery = Annotated[RowId, Query(description="The plan to report on")]
WeeksQuery = Annotated[
    int, Query(ge=1, le=104, description="How many weeks, ending with the current one")
]


class WeekRow(BaseModel):
    week: str
    complete: bool
    target_minutes: int
    booked_minutes: int
    kept_minutes: int
    moved_minutes: int
    lost_minutes: int
    tagged_minutes: int
    working_minutes: int
    growth_minutes: int
    meeting_minutes: int
    growth_ratio: float
    meeting_ratio: float
    on_target: bool
    conflicts: dict[str, int]
    before_plan: bool = Field(
        default=False, description="The week ended before the first plan began: not counted"
    )


class SummaryOut(BaseModel):
    streak_weeks: int
    latest_complete_week: str
    ytd_hours: float
    elapsed_weeks: int
    projection_hours: float | None
    target_projection_hours: float


class WeeklyReport(BaseModel):
    plan_id: int
    timezone: str
    rows: list[WeekRow]
    summary: SummaryOut


def _rows(
    session: SessionDep, user: User, runtime: RuntimeDep, plan_id: int, weeks: int
) -> tuple[Plan, list[WeekLedger]]:
    plan = plan_service.get_plan(session, user, plan_id)
    now = runtime.clock()
    wanted = report_service.recent_weeks(plan, user, now, weeks)
    return plan, report_service.weekly_report(session, user, plan, wanted, now)


@router.get("/reports/weekly", response_model=WeeklyReport)
def weekly(
    plan_id: PlanQuery,
    user: CurrentUser,
    session: SessionDep,
    runtime: RuntimeDep,
    weeks: WeeksQuery = 8,
) -> WeeklyReport:
    """Booked, kept, moved and lost minutes, ratios and conflicts per week, plus the summary."""
    plan, rows = _rows(session, user, runtime, plan_id, weeks)
    summary = report_service.summary(session, user, plan, runtime.clock())
    spec = plan_service.plan_spec(plan)
    return WeeklyReport(
        plan_id=plan.id,
        timezone=str(plan_service.plan_zone(spec, user)),
        rows=[WeekRow.model_validate(report_service.row_dict(row)) for row in rows],
        summary=SummaryOut.model_validate(summary, from_attributes=True),
    )


@router.get(
    "/reports/weekly.csv",
    response_class=Response,
    responses={200: {"content": {"text/csv": {}}, "description": "One row per week"}},
)
def weekly_csv(
    plan_id: PlanQuery,
    user: CurrentUser,
    session: SessionDep,
    runtime: RuntimeDep,
    weeks: WeeksQuery = 8,
) -> Response:
    """The weekly rows as a CSV download."""
    plan, rows = _rows(session, user, runtime, plan_id, weeks)
    return Response(
        report_service.to_csv(rows),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="growth-report-plan-{plan.id}.csv"'},
    )


@router.get(
    "/reports/chart.svg",
    response_class=Response,
    responses={200: {"content": {"image/svg+xml": {}}, "description": "An accessible SVG chart"}},
)
def chart(
    plan_id: PlanQuery,
    user: CurrentUser,
    session: SessionDep,
    runtime: RuntimeDep,
    weeks: WeeksQuery = 8,
) -> Response:
    """Kept, moved and lost growth minutes per week against the target."""
    plan, rows = _rows(session, user, runtime, plan_id, weeks)
    title = f"Growth time per week: {plan.goal}"
    return Response(str(growth_chart(rows, title=title)), media_type="image/svg+xml")


@router.get("/reports/baseline")
def baseline(user: CurrentUser, session: SessionDep) -> dict[str, Any] | None:
    """Meeting, growth and free time in the four weeks before connecting; null before that."""
    return baseline_service.baseline_of(session, user)

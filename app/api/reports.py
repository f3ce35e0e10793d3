"""Growth reports: weekly rows and summary (JSON, CSV), the chart (SVG) and the baseline."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Response
from pydantic import BaseModel, Field

from app.api.params import RowId
from app.db.models import Plan
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


class DayOffOut(BaseModel):
    day: str
    reason: str = Field(description="leave, holiday or out_of_office")
    name: str = Field(description="The public holiday's name; empty otherwise")


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
    base_target_minutes: int = Field(description="The plan's target before days off")
    away: bool = Field(
        default=False, description="Every working day was off: no target, the streak skips it"
    )
    target_note: str = Field(
        default="", description='Why the target was reduced ("2 days of leave: target 4 h → 2.4 h")'
    )
    days_off: list[DayOffOut] = Field(default_factory=list)


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
    plan_id: PlanQuery,
    user: CurrentUser,
    session: SessionDep,
    runtime: RuntimeDep,
    weeks: WeeksQuery = 8,
) -> tuple[Plan, list[WeekLedger]]:
    plan = plan_service.get_plan(session, user, plan_id)
    now = runtime.clock()
    wanted = report_service.recent_weeks(plan, user, now, weeks)
    return plan, report_service.weekly_report(session, user, plan, wanted, now)


# The plan and its weekly rows, from the `plan_id` and `weeks` query parameters.
ReportRows = Annotated[tuple[Plan, list[WeekLedger]], Depends(_rows)]


def _file(media_type: str, description: str) -> dict[int | str, dict[str, Any]]:
    """The OpenAPI `responses` of a route that answers a file instead of JSON."""
    return {200: {"content": {media_type: {}}, "description": description}}


@router.get("/reports/weekly", response_model=WeeklyReport)
def weekly(
    report: ReportRows, user: CurrentUser, session: SessionDep, runtime: RuntimeDep
) -> WeeklyReport:
    """Booked, kept, moved and lost minutes, ratios and conflicts per week, plus the summary."""
    plan, rows = report
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
    responses=_file("text/csv", "One row per week"),
)
def weekly_csv(report: ReportRows) -> Response:
    """The weekly rows as a CSV download."""
    plan, rows = report
    return Response(
        report_service.to_csv(rows),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="growth-report-plan-{plan.id}.csv"'},
    )


@router.get(
    "/reports/chart.svg",
    response_class=Response,
    responses=_file("image/svg+xml", "An accessible SVG chart"),
)
def chart(report: ReportRows) -> Response:
    """Kept, moved and lost growth minutes per week against the target."""
    plan, rows = report
    title = f"Growth time per week: {plan.goal}"
    return Response(str(growth_chart(rows, title=title)), media_type="image/svg+xml")


@router.get("/reports/baseline")
def baseline(user: CurrentUser, session: SessionDep) -> dict[str, Any] | None:
    """Meeting, growth and free time in the four weeks before connecting; null before that."""
    return baseline_service.baseline_of(session, user)

"""Dashboard page: the growth report (chart, table, CSV link) and the baseline."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from app.deps import RuntimeDep, SessionDep
from app.html.charts import growth_chart
from app.services.reports import baseline as baseline_service
from app.services.reports import ledgers as report_service
from app.web.context import Page, signed_in
from app.web.planning import first_plan

router = APIRouter(include_in_schema=False)
WEEKS = 8


def _report(page: Page) -> Response:
    plan = first_plan(page)
    baseline = baseline_service.baseline_of(page.session, page.user)
    if plan is None:
        return page.render("report.html", "report", plan=None, baseline=baseline)
    now = page.runtime.clock()
    weeks = report_service.recent_weeks(plan, page.user, now, WEEKS)
    rows = report_service.weekly_report(page.session, page.user, plan, weeks, now)
    summary = report_service.summary(page.session, page.user, plan, now)
    # Weeks before the first plan are one line: nothing was counted, nothing missed.
    before = [r for r in rows if r.before_plan]
    return page.render(
        "report.html",
        "report",
        plan=plan,
        rows=[r for r in rows if not r.before_plan],
        weeks_before=len(before),
        levels=report_service.conflict_levels(page.session, plan, weeks),
        summary=summary,
        # The chart starts with the first plan too (one week at least, so it has an axis).
        chart=growth_chart(
            [r for r in rows if not r.before_plan] or rows[-1:], title="Growth minutes per week"
        ),
        baseline=baseline,
    )


@router.get("/dashboard/report", response_class=HTMLResponse)
def report(request: Request, runtime: RuntimeDep, session: SessionDep) -> Response:
    return signed_in(request, runtime, session, _report)

"""Growth API: milestones, the growth log, what counts as growth, the quarterly review."""

from __future__ import annotations

from dataclasses import asdict
from typing import Annotated, Literal

from fastapi import APIRouter, BackgroundTasks, Path, Query, Response, status

from app.api.growth_schemas import (
    AnswersDoc,
    EntryIn,
    EntryOut,
    EntryUpdate,
    MarkIn,
    MarkOut,
    MilestoneIn,
    MilestoneOut,
    MilestonesIn,
    ProposalOut,
    ReviewOut,
    RulesDoc,
)
from app.api.params import RowId
from app.db.growth_models import LogEntry, Milestone
from app.db.models import Plan
from app.db.session import transaction
from app.deps import CurrentUser, RuntimeDep, SessionDep
from app.domain.growth_rules import GrowthRules
from app.runtime import Runtime
from app.services.growth import counting, export, review, titles
from app.services.growth import log as growth_log
from app.services.growth import milestones as milestone_service
from app.services.planning import plans as plan_service

router = APIRouter(tags=["growth"])

QuarterPath = Annotated[str, Path(max_length=7, description="A quarter, e.g. 2027-Q1")]
EventPath = Annotated[str, Path(max_length=1024, description="The provider's event id")]
Section = Literal["goal", "hours", "milestones", "outcomes", "lost", "reflection"]


def _milestone_out(row: Milestone) -> MilestoneOut:
    return MilestoneOut(
        id=row.id, plan_id=row.plan_id, title=row.title, due=row.due, done_on=row.done_on
    )


def _entry_out(row: LogEntry) -> EntryOut:
    return EntryOut(
        id=row.id,
        block_id=row.block_id,
        day=row.day,
        text=row.text,
        outcome=row.outcome,
        milestone_id=row.milestone_id,
    )


def retitle(runtime: Runtime, plan_id: int) -> None:
    """After a milestone change: rewrite the future blocks' titles (runs after the commit)."""
    with transaction(runtime.sessions) as session:
        plan = session.get(Plan, plan_id)
        if plan is not None:
            titles.refresh(session, plan, runtime.clock(), runtime.connectors)


# --- milestones ---------------------------------------------------------------------------


@router.get("/plans/{plan_id}/milestones", response_model=list[MilestoneOut])
def list_milestones(plan_id: RowId, user: CurrentUser, session: SessionDep) -> list[MilestoneOut]:
    """The plan's milestones, by date."""
    plan = plan_service.get_plan(session, user, plan_id)
    return [_milestone_out(row) for row in milestone_service.list_for_plan(session, plan)]


@router.get("/plans/{plan_id}/milestones/proposal", response_model=list[ProposalOut])
def propose_milestones(
    plan_id: RowId, user: CurrentUser, session: SessionDep, runtime: RuntimeDep
) -> list[ProposalOut]:
    """Checkpoints worked backward from the goal's date (nothing is stored): 3 months, 1 month
    and 2 weeks before, monthly in between. A missing or past date is a 422 naming `goal_by`."""
    plan = plan_service.get_plan(session, user, plan_id)
    found = milestone_service.proposal(plan, user, runtime.clock())
    return [ProposalOut(title=p.title, due=p.due) for p in found]


@router.post(
    "/plans/{plan_id}/milestones",
    response_model=list[MilestoneOut],
    status_code=status.HTTP_201_CREATED,
)
def add_milestones(
    plan_id: RowId,
    body: MilestonesIn,
    user: CurrentUser,
    session: SessionDep,
    runtime: RuntimeDep,
    background: BackgroundTasks,
) -> list[MilestoneOut]:
    """Add milestones (e.g. the accepted proposal, renamed or moved as the person likes)."""
    plan = plan_service.get_plan(session, user, plan_id)
    items = [milestone_service.MilestoneInput(m.title, m.due, m.done_on) for m in body.milestones]
    rows = milestone_service.add(session, user, plan, items)
    background.add_task(retitle, runtime, plan.id)
    return [_milestone_out(row) for row in rows]


@router.put("/milestones/{milestone_id}", response_model=MilestoneOut)
def update_milestone(
    milestone_id: RowId,
    body: MilestoneIn,
    user: CurrentUser,
    session: SessionDep,
    runtime: RuntimeDep,
    background: BackgroundTasks,
) -> MilestoneOut:
    """Rename, move, or mark done (``done_on``) one milestone; block titles follow."""
    item = milestone_service.MilestoneInput(body.title, body.due, body.done_on)
    row = milestone_service.update(session, user, milestone_id, item)
    background.add_task(retitle, runtime, row.plan_id)
    return _milestone_out(row)


@router.delete("/milestones/{milestone_id}", status_code=status.HTTP_204_NO_CONTENT)
def delete_milestone(
    milestone_id: RowId,
    user: CurrentUser,
    session: SessionDep,
    runtime: RuntimeDep,
    background: BackgroundTasks,
) -> Response:
    """Delete one milestone; block titles follow."""
    plan_id = milestone_service.delete(session, user, milestone_id)
    background.add_task(retitle, runtime, plan_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


# --- the growth log -----------------------------------------------------------------------


@router.get("/growth/log", response_model=list[EntryOut])
def list_entries(user: CurrentUser, session: SessionDep) -> list[EntryOut]:
    """Every log entry, by day."""
    return [_entry_out(row) for row in growth_log.entries(session, user)]


@router.get(
    "/growth/log/export",
    responses={200: {"content": {"text/csv": {}, "application/json": {}}}},
)
def export_entries(
    user: CurrentUser,
    session: SessionDep,
    format: Annotated[Literal["csv", "json"], Query()] = "csv",
) -> Response:
    """The log as CSV or JSON (milestone titles and block times spelled out)."""
    records = growth_log.export_rows(session, user, growth_log.entries(session, user))
    if format == "json":
        body, media = growth_log.to_json(records), "application/json"
    else:
        body, media = growth_log.to_csv(records), "text/csv; charset=utf-8"
    headers = {"content-disposition": f'attachment; filename="growth-log.{format}"'}
    return Response(body, media_type=media, headers=headers)


def _entry_input(body: EntryIn | EntryUpdate) -> growth_log.EntryInput:
    return growth_log.EntryInput(
        text=body.text,
        outcome=body.outcome,
        milestone_id=body.milestone_id,
        milestone_done=body.milestone_done,
        day=body.day,
    )


@router.post("/growth/log", response_model=EntryOut, status_code=status.HTTP_201_CREATED)
def create_entry(
    body: EntryIn, user: CurrentUser, session: SessionDep, runtime: RuntimeDep
) -> EntryOut:
    """Log what was done in a block (``block_id``) or outside one; optionally an outcome and a
    milestone, marked done with ``milestone_done``."""
    row = growth_log.create(session, user, body.block_id, _entry_input(body), runtime.clock())
    return _entry_out(row)


@router.put("/growth/log/{entry_id}", response_model=EntryOut)
def update_entry(
    entry_id: RowId, body: EntryUpdate, user: CurrentUser, session: SessionDep
) -> EntryOut:
    """Edit an entry."""
    return _entry_out(growth_log.update(session, user, entry_id, _entry_input(body)))


@router.delete("/growth/log/{entry_id}", status_code=status.HTTP_204_NO_CONTENT)
def delete_entry(entry_id: RowId, user: CurrentUser, session: SessionDep) -> Response:
    """Delete an entry (the block still counts by its time)."""
    growth_log.delete(session, user, entry_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


# --- what counts as growth ----------------------------------------------------------------


def _rules_doc(rules: GrowthRules) -> RulesDoc:
    return RulesDoc.model_validate(counting.rules_document(rules))


@router.get("/growth/rules", response_model=RulesDoc)
def get_rules(user: CurrentUser, session: SessionDep) -> RulesDoc:
    """Which other events count as growth (the ratio and the baseline use the same rules)."""
    return _rules_doc(counting.rules_of(session, user))


@router.put("/growth/rules", response_model=RulesDoc)
def put_rules(body: RulesDoc, user: CurrentUser, session: SessionDep) -> RulesDoc:
    """Replace the rules: the tag, organizers, title words (whole words), calendar names."""
    rules = GrowthRules.of(body.keyword, body.organizers, body.title_words, body.calendars)
    return _rules_doc(counting.set_rules(session, user, rules))


@router.put("/calendars/{calendar_id}/events/{event_id}/growth", response_model=MarkOut)
def mark_event(
    calendar_id: RowId,
    event_id: EventPath,
    body: MarkIn,
    user: CurrentUser,
    session: SessionDep,
) -> MarkOut:
    """Count one event as growth or not, whatever the rules say (null: the rules decide)."""
    counting.set_mark(session, user, calendar_id, event_id, body.growth)
    return MarkOut(calendar_id=calendar_id, event_id=event_id, growth=body.growth)


# --- the quarterly review -----------------------------------------------------------------


def _review(
    session: SessionDep, user: CurrentUser, runtime: Runtime, plan_id: int, quarter: str
) -> review.QuarterReview:
    plan = plan_service.get_plan(session, user, plan_id)
    return review.build(session, user, plan, review.Quarter.parse(quarter), runtime.clock())


@router.get("/plans/{plan_id}/reviews/{quarter}", response_model=ReviewOut)
def get_review(
    plan_id: RowId,
    quarter: QuarterPath,
    user: CurrentUser,
    session: SessionDep,
    runtime: RuntimeDep,
) -> ReviewOut:
    """The quarter: hours against target and the baseline trend, milestones hit or missed, the
    log with outcomes, blocks lost (to which organizer, by which rule), the kept answers."""
    found = _review(session, user, runtime, plan_id, quarter)
    return ReviewOut.model_validate({**asdict(found), "trend": found.trend})


@router.get(
    "/plans/{plan_id}/reviews/{quarter}/export",
    responses={200: {"content": {"text/markdown": {}, "application/pdf": {}}}},
)
def export_review(
    plan_id: RowId,
    quarter: QuarterPath,
    user: CurrentUser,
    session: SessionDep,
    runtime: RuntimeDep,
    format: Annotated[Literal["markdown", "pdf"], Query()] = "markdown",
    sections: Annotated[list[Section] | None, Query(max_length=6)] = None,
) -> Response:
    """The quarter as Markdown or PDF, with the chosen sections (all by default)."""
    found = _review(session, user, runtime, plan_id, quarter)
    name = f"growth-review-{found.quarter}"
    if format == "pdf":
        body: bytes | str = export.pdf(found, sections)
        media, filename = "application/pdf", f"{name}.pdf"
    else:
        body, media = export.markdown(found, sections), "text/markdown; charset=utf-8"
        filename = f"{name}.md"
    headers = {"content-disposition": f'attachment; filename="{filename}"'}
    return Response(body, media_type=media, headers=headers)


@router.put("/reviews/{quarter}/answers", response_model=dict[str, str])
def put_answers(
    quarter: QuarterPath, body: AnswersDoc, user: CurrentUser, session: SessionDep
) -> dict[str, str]:
    """Keep the answers to what worked, what drained you, and what changes."""
    given = {k: v for k, v in body.model_dump().items() if v is not None}
    return review.save_answers(session, user, review.Quarter.parse(quarter), given)

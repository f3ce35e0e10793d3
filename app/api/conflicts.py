"""Conflicts with their decisions; keeping a meeting; one-click links from notifications."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse
from pydantic import BaseModel, Field

from app.api.params import RowId
from app.db.models import Conflict, Decision
from app.deps import CurrentUser, RuntimeDep, SessionDep
from app.html import render
from app.services import links
from app.services.conflicts import choices
from app.services.conflicts import detection as conflict_service
from app.services.conflicts.deciding import ConflictResolver

router = APIRouter(tags=["conflicts"])


class DecisionOut(BaseModel):
    action: str
    rule: str | None
    explanation: str
    dry_run: bool
    outcome: str
    due_at: datetime | None
    decided_at: datetime
    executed_at: datetime | None


class ConflictOut(BaseModel):
    id: int
    block_id: int
    block_level: str = Field(
        description="the block's defense when the invite landed: flexible (still free), "
        "firm or locked"
    )
    state: str
    event: dict[str, Any]
    detected_at: datetime
    decision: DecisionOut | None


def _resolver(session: Any, runtime: RuntimeDep) -> ConflictResolver:
    return ConflictResolver(
        session,
        runtime.connectors,
        runtime.settings.public_url,
        runtime.settings.secret_key.get_secret_value(),
    )


def _out(conflict: Conflict, decision: Decision | None) -> ConflictOut:
    return ConflictOut(
        id=conflict.id,
        block_id=conflict.block_id,
        block_level=conflict.block_level,
        state=conflict.state,
        event=conflict.event,
        detected_at=conflict.detected_at,
        decision=DecisionOut.model_validate(decision, from_attributes=True) if decision else None,
    )


@router.get("/conflicts", response_model=list[ConflictOut])
def list_conflicts(user: CurrentUser, session: SessionDep) -> list[ConflictOut]:
    """Conflicts, newest first, each with what was decided and why."""
    rows = conflict_service.with_decisions(session, user)
    return [_out(conflict, decision) for conflict, decision in rows]


@router.post("/conflicts/{conflict_id}/override", response_model=dict[str, Any])
def override(
    conflict_id: RowId, user: CurrentUser, session: SessionDep, runtime: RuntimeDep
) -> dict[str, Any]:
    """Keep the meeting: undo a decline (re-accept), cancel a pending one, move the block."""
    resolver = _resolver(session, runtime)
    conflict = choices.get_conflict(resolver, user, conflict_id)
    return choices.keep_meeting(resolver, conflict, runtime.clock())


CHOICE_WORDS = {"keep": "Keep this meeting", "decline": "Decline this invite now"}


@router.get("/conflicts/{conflict_id}/choose", response_class=HTMLResponse, include_in_schema=False)
def confirm_choice(
    conflict_id: RowId, request: Request, session: SessionDep, runtime: RuntimeDep, t: str = ""
) -> HTMLResponse:
    """A one-click link from a notification: a confirmation page; nothing changes on GET."""
    try:
        link = choices.read_choice_link(_resolver(session, runtime), conflict_id, t)
    except links.LinkRejectedError as error:
        return render(request, "problem.html", {"message": str(error)}, 410)
    return render(
        request,
        "choose.html",
        {
            "token": t,
            "title": link.conflict.event.get("title", ""),
            "action": CHOICE_WORDS[link.choice],
            "user": None,
        },
    )


@router.post(
    "/conflicts/{conflict_id}/choose", response_class=HTMLResponse, include_in_schema=False
)
def choose(
    conflict_id: RowId,
    request: Request,
    session: SessionDep,
    runtime: RuntimeDep,
    t: Annotated[str, Form(max_length=2000)] = "",
) -> HTMLResponse:
    """The confirmation page's button: carry out the choice (once)."""
    try:
        message = choices.choose_by_link(
            _resolver(session, runtime), conflict_id, t, runtime.clock()
        )
    except links.LinkRejectedError as error:
        session.rollback()
        return render(request, "problem.html", {"message": str(error)}, 410)
    return render(request, "choice.html", {"message": message})

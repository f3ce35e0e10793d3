"""Quiet during blocks over the API: read the Slack connection, quiet mode on/off, disconnect.

Connecting Slack is a browser flow (its consent page): the dashboard's Quiet page.
"""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter, BackgroundTasks, Response, status
from pydantic import BaseModel, ConfigDict

from app import tasks
from app.deps import CurrentUser, RuntimeDep, SessionDep
from app.services.quiet import link as quiet_link
from app.services.quiet.slack import chat_factory

router = APIRouter(tags=["quiet"])


class QuietOut(BaseModel):
    configured: bool
    connected: bool
    enabled: bool
    team: str
    status: str
    detail: str
    quiet_until: datetime | None


class QuietIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    enabled: bool


def _out(view: quiet_link.QuietView) -> QuietOut:
    return QuietOut(**vars(view))


@router.get("/quiet", response_model=QuietOut)
def read(user: CurrentUser, session: SessionDep, runtime: RuntimeDep) -> QuietOut:
    """The Slack connection (status `ok`, `needs_reauth`, `error`) and quiet mode."""
    return _out(quiet_link.view(session, runtime.settings, user, runtime.clock()))


@router.put("/quiet", response_model=QuietOut)
def change(
    body: QuietIn,
    user: CurrentUser,
    session: SessionDep,
    runtime: RuntimeDep,
    background: BackgroundTasks,
) -> QuietOut:
    """Turn quiet mode on or off (404 without a Slack connection); applied at once."""
    quiet_link.set_quiet(session, user, body.enabled)
    session.flush()
    background.add_task(tasks.enqueue_quiet, user.id)  # after the commit
    return _out(quiet_link.view(session, runtime.settings, user, runtime.clock()))


@router.delete("/quiet/slack", status_code=status.HTTP_204_NO_CONTENT)
def disconnect(user: CurrentUser, session: SessionDep, runtime: RuntimeDep) -> Response:
    """Put back a running quiet period's status, give the token back to Slack, forget it."""
    quiet_link.disconnect(
        session, runtime.cipher, chat_factory(runtime.settings), user, runtime.clock()
    )
    return Response(status_code=status.HTTP_204_NO_CONTENT)

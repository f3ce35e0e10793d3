"""Liveness and readiness."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from app.api.schemas import Health
from app.deps import RuntimeDep

router = APIRouter(tags=["health"])


@router.get("/healthz", response_model=Health)
def healthz() -> Health:
    """The process is up."""
    return Health(status="ok")


@router.get("/readyz", response_model=Health, responses={503: {"model": Health}})
def readyz(request: Request, runtime: RuntimeDep) -> Health | JSONResponse:
    """The database answers, and the scheduler and task dispatcher run (503 says what not)."""
    problems: list[str] = []
    try:
        with runtime.engine.connect() as connection:
            connection.execute(text("SELECT 1"))
    except SQLAlchemyError:
        problems.append("database unreachable")
    supervisor = getattr(request.app.state, "supervisor", None)
    if supervisor is not None:
        problems += supervisor.problems()
    elif not runtime.dispatcher.alive():
        problems.append("dispatcher: task dispatcher is not running")
    if problems:
        return JSONResponse(
            {"status": "; ".join(problems), "problems": problems},
            status_code=503,
            headers={"Retry-After": "5"},
        )
    return Health(status="ok")

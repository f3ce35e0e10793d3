"""The minimal home page: connect buttons, connected accounts and their status."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from app.db.models import User
from app.deps import RuntimeDep, SessionDep, signed_in_user_id
from app.services.calendars import accounts_of
from app.web import render

router = APIRouter(include_in_schema=False)


@router.get("/", response_class=HTMLResponse)
def home(request: Request, runtime: RuntimeDep, session: SessionDep) -> HTMLResponse:
    user_id = signed_in_user_id(request, runtime)
    user = session.get(User, user_id) if user_id is not None else None
    return render(
        request,
        "index.html",
        {
            "providers": runtime.providers.names(),
            "user": user,
            "accounts": accounts_of(session, user) if user is not None else [],
        },
    )

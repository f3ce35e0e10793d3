"""/dev/mailbox: the mail this process sent, for trying GrowthGuard without SMTP.

Served only when the dev mailbox is enabled (never in production; by default only when the
public URL is a loopback address), so a deployment cannot expose sign-up links by accident.
"""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, Request, status
from fastapi.responses import HTMLResponse, Response

from app.deps import RuntimeDep
from app.html import render

router = APIRouter(include_in_schema=False)


def _mailbox(runtime: RuntimeDep) -> list[dict[str, str]]:
    if runtime.mailbox is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "Not Found")
    return [
        {"to": m.to, "subject": m.subject, "text": m.text, "sent_at": m.sent_at.isoformat()}
        for m in runtime.mailbox.mails()
    ]


@router.get("/dev/mailbox", response_class=HTMLResponse)
def mailbox_page(request: Request, runtime: RuntimeDep) -> Response:
    """The outgoing mail, newest first."""
    return render(request, "mailbox.html", {"mails": _mailbox(runtime), "user": None})


@router.get("/dev/mailbox.json")
def mailbox_json(runtime: RuntimeDep) -> list[dict[str, str]]:
    """The same, for scripts (the README's curl walkthrough)."""
    return _mailbox(runtime)

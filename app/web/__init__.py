"""Server-rendered pages (Jinja2)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates

templates = Jinja2Templates(directory=str(Path(__file__).with_name("templates")))


def _install_words() -> None:
    from app.web.words import GLOBALS

    templates.env.globals.update(GLOBALS)


_install_words()


def render(
    request: Request, name: str, context: dict[str, Any], status_code: int = 200
) -> HTMLResponse:
    """Render a template with the request in its context.

    `errors` ((field path, message) pairs) become `field_errors`, shown next to the inputs
    `fields` (a FormFields) declares, and in the summary at the top of the page.
    """
    from app.web.fielderrors import NO_FIELDS, FormErrors

    context = {
        **context,
        "field_errors": FormErrors(context.get("errors"), context.get("fields") or NO_FIELDS),
    }
    return templates.TemplateResponse(request, name, context, status_code=status_code)

"""HTML answers, for the dashboard pages and the API alike: the Jinja2 templates and `render`.

The templates stay in app/web/templates, beside the pages that use most of them; the words
they print, field errors, forms (cookies, CSRF), the error page and the growth chart are the
modules beside this one.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates

from app.html.fielderrors import NO_FIELDS, FormErrors
from app.html.words import GLOBALS

templates = Jinja2Templates(directory=str(Path(__file__).parents[1] / "web" / "templates"))
templates.env.globals.update(GLOBALS)


def render(
    request: Request, name: str, context: dict[str, Any], status_code: int = 200
) -> HTMLResponse:
    """Render a template with the request in its context.

    `errors` ((field path, message) pairs) become `field_errors`, shown next to the inputs
    `fields` (a FormFields) declares, and in the summary at the top of the page.
    """
    context = {
        **context,
        "field_errors": FormErrors(context.get("errors"), context.get("fields") or NO_FIELDS),
    }
    return templates.TemplateResponse(request, name, context, status_code=status_code)

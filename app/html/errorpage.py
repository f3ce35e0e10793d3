"""Which requests get an error page rather than JSON, and the page itself without a request."""

from __future__ import annotations

from app.html import templates

# Paths only browsers use: an unknown address under them gets the error page whatever the
# Accept header says (a typo in /dashboard/... is a person, not a script).
BROWSER_PREFIXES = ("/dashboard", "/signin", "/signup", "/auth/", "/static/", "/dev/")


def accepts_html(path: str, accept: str) -> bool:
    """A request no route answered yet: a browser's (a page) unless it asks for JSON."""
    if path == "/" or path.startswith(BROWSER_PREFIXES):
        return "application/json" not in accept
    return "text/html" in accept and "application/json" not in accept


def error_page(status: int, message: str) -> str:
    """error.html for answers given outside a route (e.g. the body-size limit)."""
    template = templates.get_template("error.html")
    return template.render(status=status, message=message, retry_after=None, user=None)

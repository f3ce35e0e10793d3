"""One mapping from our error types to answers: JSON for the API, a simple page for browsers.

`install_error_handlers(app)` registers everything (main.py calls it once). Browser routes
(pages, the OAuth redirects) get `error.html`: one template, so it can be restyled in one place.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from typing import Any

from fastapi import FastAPI, Request, status
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from fastapi.routing import APIRoute
from sqlalchemy.exc import OperationalError
from starlette.exceptions import HTTPException as StarletteHTTPException

from app.db.session import DatabaseBusyError, transaction
from app.html import render
from app.html.errorpage import accepts_html
from app.html.fielderrors import FormErrors
from app.services.accounts.failures import describe_failure
from app.services.booking.reconcile import BookingBlockedError
from app.services.errors import (
    ConflictError,
    InvalidInputError,
    MalformedRequestError,
    NotFoundError,
)
from connectors.errors import ConnectorError

log = logging.getLogger(__name__)

# The error type the row-id path parameter raises (see app.api.params.RowId).
ROW_ID_ERROR = "row_id_out_of_range"
BUSY_RETRY_SECONDS = 5


def _problem_model(description: str, media: str = "application/json") -> dict[str, Any]:
    if media == "text/html":
        return {"description": description, "content": {media: {"schema": {"type": "string"}}}}
    return {
        "description": description,
        "content": {
            media: {
                "schema": {
                    "type": "object",
                    "properties": {"detail": {}},
                    "required": ["detail"],
                }
            }
        },
    }


# Documented on every API operation, so clients (and schemathesis) know them.
COMMON_RESPONSES: dict[int | str, dict[str, Any]] = {
    400: _problem_model("Malformed request"),
    401: _problem_model("Not signed in"),
    403: _problem_model("Not allowed, or the provider refused"),
    404: _problem_model("No such object (or not yours)"),
    409: _problem_model("Conflicts with the current state, e.g. an account to reconnect"),
    413: _problem_model("The request body is too large"),
    422: _problem_model("Invalid input; each problem names its field"),
    429: _problem_model("Too many requests; see Retry-After"),
    502: _problem_model("The calendar provider refused the request"),
    503: _problem_model("A provider or the database is busy; see Retry-After"),
}


def api_routes(routes: Sequence[Any]) -> Iterator[APIRoute]:
    """Every path operation, also inside included routers (newer FastAPI keeps them nested)."""
    for route in routes:
        if isinstance(route, APIRoute):
            yield route
        nested = getattr(getattr(route, "original_router", None), "routes", None)
        if nested is None:
            nested = getattr(route, "routes", None)
        if nested:
            yield from api_routes(nested)


def wants_page(request: Request) -> bool:
    """Browser routes: hidden from the API schema, or answering HTML / redirects."""
    route = request.scope.get("route")
    if route is None:
        return accepts_html(request.url.path, request.headers.get("accept", ""))
    hidden = not getattr(route, "include_in_schema", True)
    html = getattr(route, "response_class", None) in (HTMLResponse, RedirectResponse)
    return hidden or bool(html)


def answer(
    request: Request,
    code: int,
    message: str,
    *,
    extra: dict[str, Any] | None = None,
    retry_after: int | None = None,
    detail: Any = None,
) -> Response:
    """The one way errors are answered: JSON `{"detail": ...}` or the error page."""
    headers = {"Retry-After": str(retry_after)} if retry_after is not None else None
    if wants_page(request):
        context = {"message": message, "status": code, "retry_after": retry_after}
        page = render(request, "error.html", context, status_code=code)
        if headers:
            page.headers.update(headers)
        return page
    body: dict[str, Any] = {"detail": message if detail is None else detail, **(extra or {})}
    return JSONResponse(body, status_code=code, headers=headers)


def _location(field: str) -> list[str]:
    parts = field.split(".")
    if parts[0] in {"query", "path", "body"}:
        return parts
    return ["body", *parts]


def _plain(problems: list[tuple[str, str]]) -> str:
    return " ".join(p.message for p in FormErrors(problems).problems)


def install_error_handlers(app: FastAPI) -> None:
    """Register every handler, and document the common error answers on each operation."""
    for route in api_routes(app.routes):
        if route.include_in_schema:
            page = route.response_class in (HTMLResponse, RedirectResponse)
            for code, spec in COMMON_RESPONSES.items():
                if page:  # browser routes answer errors with the error page
                    spec = _problem_model(spec["description"], "text/html")
                route.responses.setdefault(code, spec)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, error: StarletteHTTPException) -> Response:
        # Unknown paths (404), wrong methods (405) and the like: a page for a browser.
        message = error.detail if isinstance(error.detail, str) else "request refused"
        if error.status_code == status.HTTP_404_NOT_FOUND and message == "Not Found":
            message = "There is no page at this address."
        elif error.status_code == status.HTTP_405_METHOD_NOT_ALLOWED:
            message = "This address is not meant to be opened directly; use the page's buttons."
        if wants_page(request):
            page = answer(request, error.status_code, message)
        else:
            page = JSONResponse({"detail": error.detail}, status_code=error.status_code)
        for name, value in (error.headers or {}).items():
            page.headers[name] = value
        return page

    @app.exception_handler(Exception)
    async def unexpected(request: Request, error: Exception) -> Response:
        # A bug: the server error middleware logs it and calls this for the answer.
        if wants_page(request):
            text = "Something went wrong on our side. Your last change may not have been saved."
            return answer(request, status.HTTP_500_INTERNAL_SERVER_ERROR, text)
        return JSONResponse({"detail": "internal server error"}, status_code=500)

    @app.exception_handler(MalformedRequestError)
    async def malformed(request: Request, error: MalformedRequestError) -> Response:
        if wants_page(request):  # plain words, without the field names an API client needs
            return answer(request, status.HTTP_400_BAD_REQUEST, _plain(error.problems))
        return answer(request, status.HTTP_400_BAD_REQUEST, str(error))

    @app.exception_handler(InvalidInputError)
    async def invalid(request: Request, error: InvalidInputError) -> Response:
        # The same shape FastAPI uses for schema errors, so clients handle one format.
        detail = [
            {"loc": _location(field), "msg": message, "type": "value_error"}
            for field, message in error.problems
        ]
        text = _plain(error.problems) if wants_page(request) else str(error)
        return answer(request, status.HTTP_422_UNPROCESSABLE_CONTENT, text, detail=detail)

    @app.exception_handler(RequestValidationError)
    async def schema_error(request: Request, error: RequestValidationError) -> Response:
        problems = error.errors()
        if any(p.get("type") == ROW_ID_ERROR for p in problems):
            return answer(request, status.HTTP_404_NOT_FOUND, "not found")
        detail = [{k: v for k, v in p.items() if k in ("loc", "msg", "type")} for p in problems]
        text = "; ".join(".".join(str(x) for x in p["loc"]) + ": " + p["msg"] for p in problems)
        return answer(request, status.HTTP_422_UNPROCESSABLE_CONTENT, text, detail=detail)

    @app.exception_handler(NotFoundError)
    async def not_found(request: Request, error: NotFoundError) -> Response:
        return answer(request, status.HTTP_404_NOT_FOUND, str(error))

    @app.exception_handler(ConflictError)
    async def conflict(request: Request, error: ConflictError) -> Response:
        return answer(request, status.HTTP_409_CONFLICT, str(error))

    @app.exception_handler(BookingBlockedError)
    def blocked(request: Request, error: BookingBlockedError) -> Response:
        cause = error.__cause__
        extra = None
        if isinstance(cause, ConnectorError):
            # The request's own transaction was rolled back: record the account state again.
            with transaction(request.app.state.runtime.sessions) as session:
                problem = describe_failure(session, cause)
            extra = {"account": problem.account} if problem.account else None
        return answer(
            request, status.HTTP_409_CONFLICT, f"Booking is blocked: {error}", extra=extra
        )

    @app.exception_handler(ConnectorError)
    def provider(request: Request, error: ConnectorError) -> Response:
        # Sync: it reads (and may mark) the account in its own short transaction.
        runtime = request.app.state.runtime
        with transaction(runtime.sessions) as session:
            problem = describe_failure(session, error)
        log.warning("provider failure on %s: %s", request.url.path, error)
        extra = {"account": problem.account} if problem.account else None
        return answer(
            request, problem.status, problem.message, extra=extra, retry_after=problem.retry_after
        )

    @app.exception_handler(DatabaseBusyError)
    async def busy(request: Request, error: DatabaseBusyError) -> Response:
        log.warning("database busy on %s: %s", request.url.path, error)
        return answer(
            request,
            status.HTTP_503_SERVICE_UNAVAILABLE,
            "The database is busy; try again in a few seconds.",
            retry_after=BUSY_RETRY_SECONDS,
        )

    @app.exception_handler(OperationalError)
    async def database_down(request: Request, error: OperationalError) -> Response:
        # "database is locked" (another process) or a lost connection: temporary by nature.
        log.error("database error on %s: %s", request.url.path, error.orig)
        return answer(
            request,
            status.HTTP_503_SERVICE_UNAVAILABLE,
            "The database is not available right now; try again shortly.",
            retry_after=BUSY_RETRY_SECONDS,
        )

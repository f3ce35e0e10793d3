"""What every dashboard page needs: the signed-in user, a CSRF token, flash and errors."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from fastapi import BackgroundTasks, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response
from sqlalchemy.orm import Session

from app.db.models import User
from app.deps import signed_in_user_id
from app.html import render
from app.html.forms import csrf_ok, csrf_token, flash_of, see_other, take_flash
from app.runtime import Runtime
from app.services.errors import (
    InvalidInputError,
    MalformedRequestError,
    NotFoundError,
    ServiceError,
)


class Page:
    """A signed-in page request; `None` from `Page.of` means: send them to sign in."""

    def __init__(self, request: Request, runtime: Runtime, session: Session, user: User) -> None:
        self.request = request
        self.runtime = runtime
        self.session = session
        self.user = user
        self._later = BackgroundTasks()

    def after_commit(self, func: Callable[..., Any], *args: Any) -> None:
        """Run `func(*args)` once the request's transaction has committed and the answer is
        sent (work that reads what the form saved: a first sync, a booking, retitling at the
        provider). Dropped when the form fails: nothing it would see was saved."""
        self._later.add_task(func, *args)

    def with_later(self, response: Response) -> Response:
        """`response`, carrying the work queued with `after_commit`."""
        if self._later.tasks:
            response.background = self._later
        return response

    @classmethod
    def of(cls, request: Request, runtime: Runtime, session: Session) -> Page | None:
        user_id = signed_in_user_id(request, runtime)
        user = session.get(User, user_id) if user_id is not None else None
        return None if user is None else cls(request, runtime, session, user)

    def render(self, template: str, page: str, status_code: int = 200, **context: Any) -> Response:
        response = render(
            self.request,
            template,
            {
                "user": self.user,
                "page": page,
                "csrf": csrf_token(self.request, self.runtime),
                "flash": flash_of(self.request),
                **context,
            },
            status_code=status_code,
        )
        take_flash(self.request, response)
        return response


def signed_in(
    request: Request, runtime: Runtime, session: Session, view: Callable[[Page], Response]
) -> Response:
    """Run a GET page for the signed-in user, or go to the front door."""
    page = Page.of(request, runtime, session)
    return see_other("/") if page is None else view(page)


def form_action(
    request: Request,
    runtime: Runtime,
    session: Session,
    token: str,
    action: Callable[[Page], Response],
    on_error: Callable[[Page, list[tuple[str, str]], int], Response],
) -> Response:
    """A POSTed form: signed in, CSRF checked, service errors shown on the page (not a 500)."""
    page = Page.of(request, runtime, session)
    if page is None:
        return see_other("/")
    if not csrf_ok(request, runtime, token):
        return on_error(page, [("form", "the page expired; reload it and try again")], 403)
    try:
        return page.with_later(action(page))
    except MalformedRequestError as error:
        session.rollback()
        return on_error(page, error.problems, 400)
    except InvalidInputError as error:
        session.rollback()
        return on_error(page, error.problems, 422)
    except NotFoundError:
        session.rollback()
        return on_error(page, [("form", "that item does not exist")], 404)
    except ServiceError as error:
        session.rollback()
        return on_error(page, [("form", str(error))], 409)


async def post_form(
    request: Request,
    runtime: Runtime,
    session: Session,
    form: Mapping[str, Any],
    action: Callable[[Page], Response],
    on_error: Callable[[Page, list[tuple[str, str]], int], Response],
) -> Response:
    """`form_action` for a form already read, off the event loop (it queries the database)."""
    token = str(form.get("csrf_token", ""))
    return await run_in_threadpool(form_action, request, runtime, session, token, action, on_error)

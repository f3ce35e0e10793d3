"""Work a dashboard form queues with `page.after_commit` rides on its answer (issue 13)."""

from __future__ import annotations

from typing import Any, cast

from fastapi.responses import Response

from app.web.context import Page


def _page() -> Page:
    nothing = cast(Any, None)
    return Page(nothing, nothing, nothing, nothing)


def test_queued_work_rides_on_the_answer_in_order() -> None:
    page, done = _page(), []
    page.after_commit(done.append, "sync")
    page.after_commit(done.append, "book")
    response = page.with_later(Response())
    assert response.background is not None and done == []  # not before the answer is sent
    assert [task.args for task in response.background.tasks] == [("sync",), ("book",)]


def test_an_answer_without_queued_work_carries_none() -> None:
    assert _page().with_later(Response()).background is None

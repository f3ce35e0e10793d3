"""The plan page: working hours editable there, warnings that do not block (issue 12, 7)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from app.domain.plan import DEFAULT_WORKING_HOURS, PlanSpec
from app.main import create_app
from app.runtime import Runtime
from tests.support.dashboard import csrf, plan_form, sign_up


@pytest.fixture
def client(runtime: Runtime) -> Iterator[TestClient]:
    app = create_app(runtime, scheduler=False)
    with TestClient(app, raise_server_exceptions=False, follow_redirects=False) as test_client:
        sign_up(test_client)
        yield test_client


def save(client: TestClient, **fields: str) -> str:
    token = csrf(client.get("/dashboard/plan").text)
    reply = client.post("/dashboard/plan", data=plan_form(token, **fields))
    assert reply.status_code == 303, reply.text
    return client.get(reply.headers["location"]).text


def test_the_default_windows_are_the_default_working_hours():
    windows = PlanSpec(goal="x").window_ranges()
    assert {str(r) for r in windows} == {str(r) for r in DEFAULT_WORKING_HOURS["mon"]}


def test_working_hours_are_shown_and_editable(client: TestClient):
    page = client.get("/dashboard/plan").text
    assert 'id="working_hours" name="working_hours" value="09:00-17:00"' in page
    saved = save(client, working_hours="07:00-15:00", windows="07:00-12:00")
    assert 'name="working_hours" value="07:00-15:00"' in saved
    plan = client.get("/plans").json()[0]
    assert plan["spec"]["working_hours"]["mon"] == ["07:00-15:00"]
    # The error that used to blame hours nobody could edit now points at their field.
    token = csrf(saved)
    reply = client.post(
        "/dashboard/plan",
        data=plan_form(token, working_hours="18:00-19:00", windows="07:00-12:00"),
    )
    assert reply.status_code == 422
    assert 'name="working_hours" value="18:00-19:00"' in reply.text


def test_a_bad_working_hours_range_is_named_at_its_field(client: TestClient):
    token = csrf(client.get("/dashboard/plan").text)
    reply = client.post("/dashboard/plan", data=plan_form(token, working_hours="17:00-09:00"))
    assert reply.status_code == 422
    assert 'aria-describedby="working_hours-error"' in reply.text


def test_warnings_for_a_preferred_window_outside_and_a_past_goal_date(client: TestClient):
    # The fake clock stands in 2027-01; a goal in 2026 is in the past.
    page = save(
        client, windows="09:00-12:00", preferred_windows="13:00-14:00", goal_by="2026-12-01"
    )
    assert "Worth a look" in page
    assert "The preferred window 13:00-14:00 is not inside the windows" in page
    assert "The goal&#39;s date (01 Dec 2026) is in the past" in page
    quiet = save(
        client, windows="09:00-17:00", preferred_windows="09:00-12:00", goal_by="2027-06-30"
    )
    assert "Worth a look" not in quiet

"""The week view and the report show defense levels; the week view's forms pin a block and
choose a week's slots (errors named on the page, never a 500)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from app.db.models import Block, User
from app.db.session import transaction
from app.main import create_app
from app.runtime import Runtime
from app.services.accounts.rows import add_account
from tests.booking_helpers import book
from tests.signups import browser_sign_up
from tests.support.dashboard import csrf, plan_form
from tests.support.policy import berlin, invite, sync
from tests.support.world import FakeClock, MemoryWorld

ME = "me@corp.example"
WEEK = "2027-W02"


@pytest.fixture
def client(runtime: Runtime, world: MemoryWorld, clock: FakeClock) -> Iterator[TestClient]:
    """A person signed in to the dashboard (cookie) with a memory calendar, Sunday evening."""
    clock.now = berlin(10, 18)
    with TestClient(create_app(runtime, scheduler=False)) as test_client:
        reply = browser_sign_up(test_client, ME, timezone="Europe/Berlin")
        assert reply.status_code == 200 and "This week" in reply.text, reply.text
        with transaction(runtime.sessions) as session:
            user = session.scalars(select(User)).one()
            add_account(session, user, "memory", ME, world.store(ME).calendars())
        token = test_client.get("/users/me/csrf-token").json()["csrf_token"]
        test_client.headers["X-CSRF-Token"] = token
        yield test_client


def flexible_plan(client: TestClient) -> int:
    plan = {"goal": "Lead a project", "defense": "flexible", "flexible_hours_before": 24}
    plan_id = int(client.post("/plans", json=plan).json()["id"])
    policy = {"rules": [], "default": "decline"}
    assert client.put(f"/plans/{plan_id}/policy", json=policy).status_code == 200
    book(client, plan_id, WEEK)
    return plan_id


def test_the_week_view_and_the_report_show_levels(
    client: TestClient, runtime: Runtime, world: MemoryWorld, clock: FakeClock
):
    flexible_plan(client)
    page = client.get(f"/dashboard/week?week={WEEK}").text
    assert "Flexible, now shown busy" in page  # Monday's: 15 h away, past its 24 h
    assert "Flexible: shown free until shortly before" in page  # Tuesday's
    assert "(busy from Mon 11 Jan 09:00)" in page  # 24 h before Tuesday 09:00
    invite(world, "Vendor demo", berlin(12, 9), berlin(12, 10))
    sync(runtime)
    page = client.get(f"/dashboard/week?week={WEEK}").text
    assert "Conflict with a flexible growth block." in page
    clock.now = berlin(12, 8)  # the report shows the weeks up to the current one
    report = client.get("/dashboard/report").text
    assert "on flexible blocks: 1" in report


def test_keep_it_here_form_pins_and_bad_times_are_named(client: TestClient, runtime: Runtime):
    flexible_plan(client)
    page = client.get(f"/dashboard/week?week={WEEK}").text
    with runtime.sessions() as session:
        tuesday = session.scalars(select(Block).order_by(Block.start)).all()[1]
    form = {"csrf_token": csrf(page), "week": WEEK, "start": "2027-01-14T15:00"}
    reply = client.post(f"/dashboard/blocks/{tuesday.id}/pin", data=form, follow_redirects=False)
    assert reply.status_code == 303, reply.text
    with runtime.sessions() as session:
        row = session.get_one(Block, tuesday.id)
        assert row.pinned and row.start == berlin(14, 15)
        monday = session.scalars(select(Block).order_by(Block.start)).first()
        assert monday is not None
    bad = {"csrf_token": csrf(page), "week": WEEK, "start": "tomorrow at noon"}
    reply = client.post(f"/dashboard/blocks/{monday.id}/pin", data=bad)
    assert reply.status_code == 422
    assert "is not a date and time" in reply.text


def test_choose_slots_form_books_exactly_those(
    client: TestClient, runtime: Runtime, world: MemoryWorld
):
    flexible_plan(client)
    page = client.get(f"/dashboard/week?week={WEEK}").text
    lines = "2027-01-13 10:00-12:00\n2027-01-15 14:00-15:30\n"
    form = {"csrf_token": csrf(page), "week": WEEK, "slots": lines}
    reply = client.post("/dashboard/week/slots", data=form, follow_redirects=False)
    assert reply.status_code == 303, reply.text
    events = sorted(
        (e.start, e.end) for e in world.store(ME).events("primary") if e.tag is not None
    )
    assert events == [
        (berlin(13, 10), berlin(13, 12)),
        (berlin(15, 14), berlin(15, 15, 30)),
    ]
    wrong = {"csrf_token": csrf(page), "week": WEEK, "slots": "Wednesday morning"}
    reply = client.post("/dashboard/week/slots", data=wrong)
    assert reply.status_code == 422
    assert "2027-01-12 09:00-11:00" in reply.text  # says how to write it
    outside = {"csrf_token": csrf(page), "week": WEEK, "slots": "2027-01-20 10:00-11:00"}
    reply = client.post("/dashboard/week/slots", data=outside)
    assert reply.status_code == 422
    assert "inside week" in reply.text
    after = sorted((e.start, e.end) for e in world.store(ME).events("primary") if e.tag)
    assert after == events  # refused forms wrote nothing


def test_the_plan_form_sets_the_defense_level(client: TestClient):
    page = client.get("/dashboard/plan").text
    assert 'name="defense"' in page
    form = plan_form(csrf(page), defense="locked", flexible_hours_before="12")
    reply = client.post("/dashboard/plan", data=form, follow_redirects=False)
    assert reply.status_code == 303, reply.text
    [plan] = client.get("/plans").json()
    assert (plan["spec"]["defense"], plan["spec"]["flexible_hours_before"]) == ("locked", 12)
    wrong = plan_form(csrf(page), defense="impenetrable")
    reply = client.post("/dashboard/plan", data=wrong)
    assert reply.status_code == 422
    assert (
        'id="defense"' in reply.text and "aria-invalid" in reply.text.split('id="defense"')[1][:200]
    )

"""Every error a person can cause or meet is a 4xx or a clear page, never a 500 (issue 11, 2)."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import select

from app.api.errors import api_routes
from app.db.models import Account, AccountStatus, User
from app.db.session import transaction
from app.domain.plan import PlanSpec
from app.main import create_app
from app.runtime import Runtime
from app.services.accounts.rows import add_account
from app.services.planning.plans import create_plan
from connectors.errors import RateLimited, ReauthRequired, TransientError
from tests.signups import api_token
from tests.support.dashboard import csrf, sign_up
from tests.support.world import FakeClock, MemoryWorld

BERLIN = ZoneInfo("Europe/Berlin")
HUGE = [2**63, 2**64, 2**63 - 1, 2**31, 0]


@pytest.fixture
def app(runtime: Runtime) -> FastAPI:
    return create_app(runtime, scheduler=False)


@pytest.fixture
def client(app: FastAPI) -> Iterator[TestClient]:
    with TestClient(app, raise_server_exceptions=False, follow_redirects=False) as test_client:
        yield test_client


def signup(client: TestClient, email: str = "me@corp.example") -> dict[str, str]:
    return {"Authorization": f"Bearer {api_token(client, email, 'Europe/Berlin')}"}


def connect(runtime: Runtime, world: MemoryWorld) -> None:
    with transaction(runtime.sessions) as session:
        user = session.scalars(select(User)).one()
        add_account(session, user, "memory", user.email, world.store(user.email).calendars())


def id_routes(app: FastAPI) -> list[tuple[str, str]]:
    routes = []
    for route in api_routes(app.routes):
        if re.search(r"\{\w+_id\}", route.path):
            routes += [(method, route.path) for method in sorted(route.methods)]
    return routes


def test_ids_beyond_any_row_are_404_on_every_route(client: TestClient, app: FastAPI):
    auth = signup(client)
    routes = id_routes(app)
    assert len(routes) >= 20  # every API and dashboard route with an id in its path
    for method, path in routes:
        for number in HUGE:
            url = re.sub(r"\{(\w+_id)\}", str(number), path)
            url = url.replace("{name}", "strict")
            reply = client.request(method, url, headers=auth)
            assert reply.status_code == 404, (method, url, reply.status_code, reply.text[:200])


def test_huge_id_filters_in_queries_are_404_not_500(client: TestClient):
    auth = signup(client)
    for url in (f"/blocks?plan_id={2**63}", f"/reports/weekly?plan_id={2**64}"):
        assert client.get(url, headers=auth).status_code == 404, url


def test_explain_with_the_end_before_the_start_is_422(client: TestClient):
    auth = signup(client)
    plan_id = client.post("/plans", json={"goal": "x"}, headers=auth).json()["id"]
    saved = client.put(f"/plans/{plan_id}/policy/preset/balanced", headers=auth)
    assert saved.status_code == 200, saved.text
    policy_id = saved.json()["id"]
    sample = {
        "title": "Sync",
        "start": "2027-01-12T10:00:00+01:00",
        "end": "2027-01-12T09:00:00+01:00",
    }
    reply = client.post(f"/policies/{policy_id}/explain", json=sample, headers=auth)
    assert reply.status_code == 422, reply.text
    assert "end" in reply.text


def test_a_forged_rule_index_on_the_boundary_form_is_400(client: TestClient):
    sign_up(client)
    page = client.get("/dashboard/boundary")
    assert page.status_code == 200
    for action in ("delete_rule:x", "delete_rule:99", "delete_rule:"):
        reply = client.post(
            "/dashboard/boundary", data={"action": action, "csrf_token": csrf(page.text)}
        )
        assert reply.status_code == 400, (action, reply.status_code)
        assert "no such rule" in reply.text.lower()


@pytest.mark.parametrize(
    ("make_error", "status", "retry_after"),
    [
        (lambda: TransientError("Google answered 503"), 503, "30"),
        (lambda: RateLimited(retry_after=90), 503, "90"),
    ],
)
def test_a_provider_that_is_down_during_preview_is_a_503_with_the_account(
    client: TestClient,
    runtime: Runtime,
    world: MemoryWorld,
    clock: FakeClock,
    make_error: Callable[[], Exception],
    status: int,
    retry_after: str,
):
    auth = signup(client)
    connect(runtime, world)
    clock.now = datetime(2027, 1, 10, 18, tzinfo=BERLIN)
    plan_id = client.post("/plans", json={"goal": "x"}, headers=auth).json()["id"]
    world.store("me@corp.example").fail_next("list_events", make_error())
    reply = client.get(f"/plans/{plan_id}/preview?week=2027-W03", headers=auth)
    assert reply.status_code == status, reply.text
    assert reply.headers["retry-after"] == retry_after
    body = reply.json()
    assert "me@corp.example" in body["detail"] and "try again" in body["detail"]
    assert body["account"]["status"] == "ok"


def test_a_revoked_grant_during_preview_says_reconnect_and_marks_the_account(
    client: TestClient, runtime: Runtime, world: MemoryWorld
):
    auth = signup(client)
    connect(runtime, world)
    plan_id = client.post("/plans", json={"goal": "x"}, headers=auth).json()["id"]
    world.store("me@corp.example").fail_next("list_events", ReauthRequired("revoked"))
    reply = client.get(f"/plans/{plan_id}/preview", headers=auth)
    # read_busy_sources turns a revoked grant into "booking blocked": say so, 409.
    assert reply.status_code == 409, reply.text
    assert "reconnect" in reply.json()["detail"]
    with runtime.sessions() as session:
        account = session.scalars(select(Account)).one()
        assert account.status == AccountStatus.NEEDS_REAUTH


def test_booking_while_an_account_needs_reconnecting_says_why(
    client: TestClient, runtime: Runtime, world: MemoryWorld
):
    auth = signup(client)
    connect(runtime, world)
    plan_id = client.post("/plans", json={"goal": "x"}, headers=auth).json()["id"]
    with transaction(runtime.sessions) as session:
        session.scalars(select(Account)).one().status = AccountStatus.NEEDS_REAUTH
    reply = client.post(f"/plans/{plan_id}/book", headers=auth)
    assert reply.status_code == 409, reply.text  # never 200 []
    body = reply.json()
    assert body["state"] == "blocked" and "reconnected" in body["reason"]
    runs = client.get(f"/plans/{plan_id}/bookings", headers=auth).json()
    assert [r["state"] for r in runs] == ["blocked"]


def test_booking_without_a_target_calendar_says_why(client: TestClient):
    auth = signup(client)
    plan_id = client.post("/plans", json={"goal": "x"}, headers=auth).json()["id"]
    reply = client.post(f"/plans/{plan_id}/book", headers=auth)
    assert reply.status_code == 409 and "target" in reply.json()["reason"]


def test_the_dashboard_shows_a_page_when_the_provider_is_down(
    client: TestClient, runtime: Runtime, world: MemoryWorld
):
    sign_up(client)
    with transaction(runtime.sessions) as session:
        user = session.scalars(select(User)).one()
        add_account(session, user, "memory", user.email, world.store(user.email).calendars())
        create_plan(session, user, PlanSpec(goal="Learn"))
    assert client.get("/dashboard/plan").status_code == 200
    world.store(user.email).fail_next("list_events", RateLimited(retry_after=45))
    reply = client.get("/dashboard/plan")
    assert reply.status_code == 503
    assert reply.headers["content-type"].startswith("text/html")
    assert "try again in 45" in reply.text.lower()
    assert reply.headers["retry-after"] == "45"

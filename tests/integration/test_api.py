"""The HTTP API, through FastAPI's test client, on every database backend."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from app.db.models import User
from app.db.session import transaction
from app.main import create_app
from app.runtime import Runtime
from app.services.accounts.rows import add_account
from tests.booking_helpers import book
from tests.support.api import error_fields, signup
from tests.support.world import FakeClock, MemoryWorld

BERLIN = ZoneInfo("Europe/Berlin")


@pytest.fixture
def client(runtime: Runtime) -> Iterator[TestClient]:
    with TestClient(create_app(runtime, scheduler=False)) as test_client:
        yield test_client


def test_health_and_readiness(client: TestClient):
    assert client.get("/healthz").json() == {"status": "ok"}
    assert client.get("/readyz").status_code == 200


def test_openapi_documents_the_routes(client: TestClient):
    paths = client.get("/openapi.json").json()["paths"]
    assert {"/plans", "/plans/{plan_id}", "/plans/{plan_id}/preview", "/blocks", "/users"} <= set(
        paths
    )


def test_routes_need_a_token(client: TestClient):
    assert client.get("/plans").status_code == 401
    assert client.get("/plans", headers={"Authorization": "Bearer nope"}).status_code == 401


def test_signup_validates_the_zone_and_never_makes_a_duplicate(client: TestClient):
    bad = client.post("/users", json={"email": "a@b.example", "timezone": "Mars/Olympus"})
    assert bad.status_code == 422 and error_fields(bad) == ["body.timezone"]
    signup(client)
    again = client.post("/users", json={"email": "ME@corp.example", "timezone": "UTC"})
    # The same answer as for a new address; the owner is told by mail instead.
    assert again.status_code == 202
    mails = client.get("/dev/mailbox.json").json()
    assert mails[0]["to"] == "me@corp.example" and "already have one" in mails[0]["text"]


def test_plan_crud(client: TestClient):
    auth = signup(client)
    created = client.post("/plans", json={"goal": "Lead a project"}, headers=auth)
    assert created.status_code == 201, created.text
    plan = created.json()
    assert plan["spec"]["weekly_target_minutes"] == 240
    assert plan["spec"]["block_minutes"] == {"min": 120, "max": 120}

    url = f"/plans/{plan['id']}"
    assert client.get(url, headers=auth).json()["spec"]["goal"] == "Lead a project"
    changed = client.put(
        url,
        json={"goal": "Ship the RFC", "weekly_target_minutes": 180, "block_minutes": 90},
        headers=auth,
    )
    assert changed.status_code == 200 and changed.json()["spec"]["goal"] == "Ship the RFC"
    assert client.patch(url, json={"active": False}, headers=auth).json()["active"] is False
    assert [p["id"] for p in client.get("/plans", headers=auth).json()] == [plan["id"]]
    assert client.delete(url, headers=auth).status_code == 204
    assert client.get(url, headers=auth).status_code == 404


@pytest.mark.parametrize(
    ("document", "field"),
    [
        ({"goal": "x", "timezone": "Mars/Olympus"}, "body.timezone"),
        ({"goal": "x", "windows": ["09:00-10:00"]}, "body.block_minutes"),
        (
            {"goal": "x", "weekly_target_minutes": 3000, "block_minutes": 120},
            "body.weekly_target_minutes",
        ),
        ({"goal": "x", "windows": ["25:00-26:00"]}, "body.windows"),
        ({"goal": "x", "block_minutes": {"min": 120, "max": 60}}, "body.block_minutes"),
        ({"goal": "x", "surprise": 1}, "body.surprise"),
        ({}, "body.goal"),
    ],
)
def test_invalid_plans_get_422_naming_the_field(client: TestClient, document: dict, field: str):
    response = client.post("/plans", json=document, headers=signup(client))
    assert response.status_code == 422, response.text
    assert field in error_fields(response)


def test_another_users_plan_is_not_found(client: TestClient):
    mine = signup(client)
    theirs = signup(client, "them@corp.example")
    plan_id = client.post("/plans", json={"goal": "Mine"}, headers=mine).json()["id"]
    for method, url in [
        ("GET", f"/plans/{plan_id}"),
        ("PUT", f"/plans/{plan_id}"),
        ("DELETE", f"/plans/{plan_id}"),
        ("GET", f"/plans/{plan_id}/preview"),
        ("POST", f"/plans/{plan_id}/book"),
    ]:
        body = {"goal": "stolen"} if method == "PUT" else None
        response = client.request(method, url, json=body, headers=theirs)
        assert response.status_code == 404, (method, url)
    assert client.get(f"/blocks?plan_id={plan_id}", headers=theirs).json() == []


def test_preview_and_booking_through_the_api(
    client: TestClient, runtime: Runtime, world: MemoryWorld, clock: FakeClock
):
    auth = signup(client)
    with transaction(runtime.sessions) as session:
        user = session.scalars(select(User)).one()
        add_account(session, user, "memory", user.email, world.store(user.email).calendars())
    clock.now = datetime(2027, 1, 10, 18, tzinfo=BERLIN)
    plan_id = client.post("/plans", json={"goal": "Lead a project"}, headers=auth).json()["id"]

    preview = client.get(f"/plans/{plan_id}/preview?week=2027-W03", headers=auth)
    assert preview.status_code == 200, preview.text
    body = preview.json()
    assert [(b["start"], b["status"]) for b in body["blocks"]] == [
        ("2027-01-18T08:00:00Z", "new"),
        ("2027-01-19T08:00:00Z", "new"),
    ]
    assert (body["booked_minutes"], body["shortfall_reason"]) == (240, None)
    assert client.get("/blocks", headers=auth).json() == []

    booked = book(client, plan_id, "2027-W03", auth)
    assert len(booked[0]["created"]) == 2
    blocks = client.get("/blocks?week=2027-W03", headers=auth).json()
    assert [b["state"] for b in blocks] == ["booked", "booked"]
    after = client.get(f"/plans/{plan_id}/preview?week=2027-W03", headers=auth).json()
    assert [b["status"] for b in after["blocks"]] == ["kept", "kept"]


def test_preview_explains_a_shortfall_and_rejects_bad_weeks(client: TestClient):
    auth = signup(client)
    plan_id = client.post("/plans", json={"goal": "x"}, headers=auth).json()["id"]
    late = client.get(
        f"/plans/{plan_id}/preview?week=2027-W03&now=2027-01-22T16:00:00%2B01:00", headers=auth
    ).json()
    assert late["booked_minutes"] == 0 and late["shortfall_reason"]
    bad = client.get(f"/plans/{plan_id}/preview?week=2027-W60", headers=auth)
    assert bad.status_code == 422 and error_fields(bad) == ["query.week"]
    naive = client.get(f"/plans/{plan_id}/preview?now=2027-01-22T12:00:00", headers=auth)
    assert naive.status_code == 422 and error_fields(naive) == ["query.now"]

"""The growth API: proposal errors naming the field, titles following edits, exports, rules."""

from __future__ import annotations

import csv
import io
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
ME = "me@corp.example"


@pytest.fixture
def client(runtime: Runtime, clock: FakeClock) -> Iterator[TestClient]:
    clock.now = datetime(2027, 1, 10, 18, tzinfo=BERLIN)
    with TestClient(create_app(runtime, scheduler=False)) as test_client:
        yield test_client


def plan(client: TestClient, auth: dict[str, str], **spec: object) -> int:
    created = client.post("/plans", json={"goal": "Lead a project", **spec}, headers=auth)
    assert created.status_code == 201, created.text
    return int(created.json()["id"])


def test_the_proposal_names_goal_by_when_there_is_no_usable_date(client: TestClient) -> None:
    auth = signup(client)
    undated = plan(client, auth)
    answer = client.get(f"/plans/{undated}/milestones/proposal", headers=auth)
    assert answer.status_code == 422 and error_fields(answer) == ["body.goal_by"]
    assert "set the goal's date first" in answer.json()["detail"][0]["msg"]

    past = plan(client, auth, goal_by="2026-12-31")
    answer = client.get(f"/plans/{past}/milestones/proposal", headers=auth)
    assert answer.status_code == 422
    assert answer.json()["detail"][0]["msg"] == (
        "the goal date 2026-12-31 is not in the future; choose a date after 2027-01-10"
    )

    dated = plan(client, auth, goal_by="2027-02-28")
    proposal = client.get(f"/plans/{dated}/milestones/proposal", headers=auth).json()
    assert proposal == [
        {"title": "Checkpoint: 1 month to go", "due": "2027-01-28"},
        {"title": "Checkpoint: 2 weeks to go", "due": "2027-02-14"},
    ]


def test_block_titles_follow_milestone_edits_made_through_the_api(
    client: TestClient, runtime: Runtime, world: MemoryWorld
) -> None:
    auth = signup(client)
    with transaction(runtime.sessions) as session:
        user = session.scalars(select(User)).one()
        add_account(session, user, "memory", ME, world.store(ME).calendars())
    plan_id = plan(client, auth, goal_by="2027-06-30")
    added = client.post(
        f"/plans/{plan_id}/milestones",
        json={"milestones": [{"title": "draft the proposal", "due": "2027-02-01"}]},
        headers=auth,
    )
    assert added.status_code == 201, added.text
    book(client, plan_id, "2027-W02", headers=auth)

    def titles() -> set[str]:
        return {e.title for e in world.store(ME).events("primary") if e.tag is not None}

    assert titles() == {"Growth: draft the proposal — toward: Lead a project"}
    milestone_id = added.json()[0]["id"]
    edited = client.put(
        f"/milestones/{milestone_id}",
        json={"title": "pitch it", "due": "2027-02-01"},
        headers=auth,
    )
    assert edited.status_code == 200, edited.text
    assert titles() == {"Growth: pitch it — toward: Lead a project"}
    assert client.delete(f"/milestones/{milestone_id}", headers=auth).status_code == 204
    assert titles() == {"Growth: Lead a project"}


def test_log_entries_edit_and_export(client: TestClient) -> None:
    auth = signup(client)
    created = client.post(
        "/growth/log", json={"text": "=HYPERLINK(evil)", "outcome": "3 reviews"}, headers=auth
    )
    assert created.status_code == 201, created.text
    entry_id = created.json()["id"]
    assert created.json()["day"] == "2027-01-10"
    edited = client.put(
        f"/growth/log/{entry_id}", json={"text": "Read two papers"}, headers=auth
    ).json()
    assert (edited["text"], edited["outcome"]) == ("Read two papers", "")
    client.post("/growth/log", json={"text": "=SUM(A1)"}, headers=auth)

    exported = client.get("/growth/log/export", params={"format": "csv"}, headers=auth)
    assert exported.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(exported.text)))
    assert [r["text"] for r in rows] == ["Read two papers", "'=SUM(A1)"]  # no formula
    as_json = client.get("/growth/log/export", params={"format": "json"}, headers=auth).json()
    assert [r["text"] for r in as_json] == ["Read two papers", "=SUM(A1)"]

    too_long = client.post("/growth/log", json={"text": "x" * 301}, headers=auth)
    assert too_long.status_code == 422 and error_fields(too_long) == ["body.text"]


def test_rules_are_normalised_and_answers_kept(client: TestClient) -> None:
    auth = signup(client)
    put = client.put(
        "/growth/rules",
        json={"organizers": [" Mentor@Corp.example", ""], "title_words": ["Mentoring"]},
        headers=auth,
    )
    assert put.json() == {
        "keyword": "#growth",
        "organizers": ["mentor@corp.example"],
        "title_words": ["mentoring"],
        "calendars": [],
    }
    assert client.get("/growth/rules", headers=auth).json() == put.json()
    kept = client.put("/reviews/2027-Q1/answers", json={"worked": "Mornings"}, headers=auth)
    assert kept.json() == {"worked": "Mornings", "drained": "", "changes": ""}
    again = client.put("/reviews/2027-Q1/answers", json={"drained": "Slack"}, headers=auth)
    assert again.json() == {"worked": "Mornings", "drained": "Slack", "changes": ""}
    bad = client.put("/reviews/2027-Q5/answers", json={"worked": "x"}, headers=auth)
    assert bad.status_code == 422

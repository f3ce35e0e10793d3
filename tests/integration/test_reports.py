"""Growth reports end to end: booking, losing a block, syncing meetings, then the figures."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from app import tasks
from app.api import reports as reports_api
from app.db.models import Block, Calendar, Conflict, ConflictState, Decision, Notification, User
from app.db.reports_models import Baseline  # registers the table until models.py imports it
from app.db.session import transaction
from app.domain.plan import PlanSpec
from app.domain.time import IsoWeek
from app.html.charts import growth_chart
from app.main import create_app
from app.runtime import Runtime
from app.services.accounts.rows import add_account
from app.services.people.users import create_user
from app.services.planning.plans import create_plan, get_plan
from app.services.reports import baseline, ledgers, sending
from connectors.base import Event, SelfResponse
from tests.support.world import FakeClock, MemoryWorld

BERLIN = ZoneInfo("Europe/Berlin")
ME = "me@corp.example"
W02, W03 = IsoWeek(2027, 2), IsoWeek(2027, 3)


def berlin(month: int, day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2027, month, day, hour, minute, tzinfo=BERLIN)


def put(world: MemoryWorld, start: datetime, end: datetime, title: str = "Sync") -> None:
    store = world.store(ME)
    store.put_event(
        Event(
            id=store.new_id(),
            calendar_id="primary",
            title=title,
            start=start,
            end=end,
            organizer_email="boss@corp.example",
            self_response=SelfResponse.ACCEPTED,
            attendee_count=3,
        )
    )


def new_user(rt: Runtime, world: MemoryWorld, email: str) -> tuple[int, int, str]:
    """A Berlin user with a memory account and the default plan: (user id, plan id, token)."""
    with transaction(rt.sessions) as session:
        user, token = create_user(session, email, "Europe/Berlin")
        add_account(session, user, "memory", email, world.store(email).calendars())
        plan = create_plan(session, user, PlanSpec.model_validate({"goal": "Lead a project"}))
        return user.id, plan.id, token


@pytest.fixture
def history(runtime: Runtime, world: MemoryWorld, clock: FakeClock) -> tuple[int, int, str]:
    """Two booked weeks: W02 loses a block and has meetings, W03 is kept and had a move."""
    clock.now = berlin(1, 10, 18)
    user_id, plan_id, token = new_user(runtime, world, ME)
    tasks.book_plan(plan_id, str(W02))
    tuesday = next(e for e in world.store(ME).events("primary") if e.start == berlin(1, 12, 9))
    world.store(ME).remove_event("primary", tuesday.id)
    clock.now += timedelta(minutes=5)
    tasks.book_plan(plan_id, str(W02))  # the deleted block is lost, not re-created

    clock.now = berlin(1, 17, 18)
    tasks.book_plan(plan_id, str(W03))
    put(world, berlin(1, 13, 10), berlin(1, 13, 12))
    put(world, berlin(1, 13, 11), berlin(1, 13, 13), title="Planning")  # overlaps: once
    put(world, berlin(1, 14, 14), berlin(1, 14, 15), title="Reading #growth")
    put(world, berlin(1, 14, 18), berlin(1, 14, 20), title="Dinner")  # after hours

    with transaction(runtime.sessions) as session:
        first = session.scalars(
            select(Block).where(
                Block.plan_id == plan_id, Block.week == str(W03), Block.ordinal == 0
            )
        ).one()
        for index, action in enumerate(("move_block", "decline")):
            conflict = Conflict(
                user_id=user_id,
                block_id=first.id,
                calendar_id=first.calendar_id,
                provider_event_id=f"invite-{index}",
                event={"title": "Invite"},
                state=ConflictState.DECIDED,
            )
            session.add(conflict)
            session.flush()
            session.add(
                Decision(
                    conflict_id=conflict.id,
                    action=action,
                    explanation="test",
                    outcome="done",
                    detail={},
                    decided_at=clock.now,
                )
            )
        calendar_id = session.scalars(select(Calendar.id)).one()

    clock.now = berlin(1, 25, 8)
    tasks.sync_calendar(calendar_id)
    return user_id, plan_id, token


def report(rt: Runtime, user_id: int, plan_id: int, weeks: list[IsoWeek]):
    with rt.sessions() as session:
        user = session.get_one(User, user_id)
        return ledgers.weekly_report(
            session, user, get_plan(session, user, plan_id), weeks, rt.clock()
        )


def count(rt: Runtime, kind: str) -> int:
    with rt.sessions() as session:
        query = select(func.count()).select_from(Notification).where(Notification.kind == kind)
        return int(session.scalar(query) or 0)


def test_weekly_figures(runtime: Runtime, history: tuple[int, int, str]):
    user_id, plan_id, _ = history
    w02, w03 = report(runtime, user_id, plan_id, [W03, W02])

    assert (w02.week, w02.booked_minutes, w02.kept_minutes, w02.lost_minutes) == (
        "2027-W02",
        240,
        120,
        120,
    )
    assert (w02.meeting_minutes, w02.tagged_minutes, w02.growth_minutes) == (180, 60, 180)
    assert w02.working_minutes == 2400
    assert w02.growth_ratio == pytest.approx(0.075) and w02.meeting_ratio == pytest.approx(0.075)
    assert not w02.on_target and w02.complete
    assert (w03.kept_minutes, w03.moved_minutes, w03.lost_minutes, w03.on_target) == (
        240,
        120,
        0,
        True,
    )
    assert w03.conflicts["move_block"] == 1 and w03.conflicts["decline"] == 1
    assert sum(w02.conflicts.values()) == 0

    with runtime.sessions() as session:
        user = session.get_one(User, user_id)
        figures = ledgers.summary(session, user, get_plan(session, user, plan_id), runtime.clock())
    assert (figures.latest_complete_week, figures.streak_weeks) == ("2027-W03", 1)
    assert (figures.elapsed_weeks, figures.ytd_hours) == (2, 7.0)
    assert figures.projection_hours == 182.0  # 7 h in 2 weeks, times 52
    assert figures.target_projection_hours == 208.0


def test_csv_and_chart(runtime: Runtime, history: tuple[int, int, str]):
    user_id, plan_id, _ = history
    rows = report(runtime, user_id, plan_id, [W02, W03])
    parsed = list(csv.DictReader(io.StringIO(ledgers.to_csv(rows))))
    assert [r["week"] for r in parsed] == ["2027-W02", "2027-W03"]
    assert parsed[0]["kept_minutes"] == "120" and parsed[0]["lost_minutes"] == "120"
    assert parsed[1]["on_target"] == "true" and parsed[1]["conflicts_move_block"] == "1"

    svg = growth_chart(rows, title="Growth: Lead a project")
    assert "<title" in svg and "Growth: Lead a project" in svg
    assert svg.count('<g class="week"') == 2


def test_baseline_reads_the_four_weeks_before_connecting(
    runtime: Runtime, world: MemoryWorld, history: tuple[int, int, str]
):
    user_id, _, _ = history
    with transaction(runtime.sessions) as session:
        assert baseline.baseline_of(session, session.get_one(User, user_id)) is None
        user = session.get_one(User, user_id)
        baseline.compute_baseline(session, user, runtime.connectors, runtime.clock())
        # computing again (a second account connected) replaces it
        baseline.compute_baseline(session, user, runtime.connectors, runtime.clock())
    with runtime.sessions() as session:
        data = baseline.baseline_of(session, session.get_one(User, user_id))
        assert session.scalar(select(func.count()).select_from(Baseline)) == 1
    assert data is not None
    weeks = {w["week"]: w for w in data["weeks"]}
    assert list(weeks) == ["2026-W53", "2027-W01", "2027-W02", "2027-W03"]
    assert weeks["2027-W02"] == {
        "week": "2027-W02",
        "working_minutes": 2400,
        "meeting_minutes": 180,
        "growth_minutes": 180,
        "free_minutes": 2040,
    }
    assert weeks["2027-W03"]["growth_minutes"] == 240
    assert data["total"] == {
        "working_minutes": 9600,
        "meeting_minutes": 180,
        "growth_minutes": 420,
        "free_minutes": 9000,
    }


def test_weekly_and_quarterly_notifications_are_recorded_once(
    runtime: Runtime, clock: FakeClock, history: tuple[int, int, str]
):
    for _ in range(2):
        with transaction(runtime.sessions) as session:
            sending.send_weekly_reports(session, clock.now)
            assert sending.send_quarterly_reviews(session, clock.now) == 0  # mid-quarter
    assert count(runtime, "report.weekly") == 1
    with runtime.sessions() as session:
        note = session.scalars(
            select(Notification).where(Notification.kind == "report.weekly")
        ).one()
        assert note.dedupe_key == f"report.weekly:{history[1]}:2027-W03"
        assert note.payload["message"] == (
            "You kept 4 h of 4 h growth time last week (100 %). Streak: 1 week."
        )

    clock.now = berlin(4, 2, 9)
    sent = []
    for _ in range(2):
        with transaction(runtime.sessions) as session:
            sent.append(
                sending.send_quarterly_reviews(session, clock.now, public_url="https://gg.example/")
            )
    assert sent == [1, 0]
    with runtime.sessions() as session:
        review = session.scalars(
            select(Notification).where(Notification.kind == "review.quarterly")
        ).one()
    assert review.dedupe_key == f"review.quarterly:{history[0]}:2027Q1"
    assert review.payload["kept_minutes"] == 360
    assert review.payload["message"].startswith("Q1 2027 is over: you kept 6 h of growth time")
    assert review.payload["url"] == "/dashboard/review?quarter=2027-Q1"  # the review page
    # Email and chat need the whole address: a path is not a link outside the app.
    assert review.payload["review_url"] == "https://gg.example/dashboard/review?quarter=2027-Q1"


# --- the HTTP API --------------------------------------------------------------------------------


@pytest.fixture
def client(runtime: Runtime) -> Iterator[TestClient]:
    app = create_app(runtime, scheduler=False)
    app.include_router(reports_api.router)
    with TestClient(app) as test_client:
        yield test_client


def test_api_reports(client: TestClient, history: tuple[int, int, str]):
    _, plan_id, token = history
    auth = {"Authorization": f"Bearer {token}"}

    body = client.get(f"/reports/weekly?plan_id={plan_id}&weeks=3", headers=auth).json()
    assert [r["week"] for r in body["rows"]] == ["2027-W02", "2027-W03", "2027-W04"]
    assert body["rows"][0]["lost_minutes"] == 120 and body["rows"][2]["complete"] is False
    assert body["summary"]["streak_weeks"] == 1 and body["timezone"] == "Europe/Berlin"

    got = client.get(f"/reports/weekly.csv?plan_id={plan_id}&weeks=2", headers=auth)
    assert got.status_code == 200 and got.headers["content-type"].startswith("text/csv")
    assert got.headers["content-disposition"].startswith("attachment;")
    assert got.text.splitlines()[0].startswith("week,complete,target_minutes")
    assert len(got.text.splitlines()) == 3

    svg = client.get(f"/reports/chart.svg?plan_id={plan_id}", headers=auth)
    assert svg.headers["content-type"].startswith("image/svg+xml")
    assert "<title" in svg.text and svg.text.count('<g class="week"') == 8

    assert client.get("/reports/baseline", headers=auth).json() is None
    assert client.get(f"/reports/weekly?plan_id={plan_id}&weeks=0", headers=auth).status_code == 422
    assert client.get(f"/reports/weekly?plan_id={plan_id}").status_code == 401


def test_api_hides_other_peoples_plans(
    client: TestClient, runtime: Runtime, world: MemoryWorld, history: tuple[int, int, str]
):
    _, plan_id, _ = history
    _, _, other = new_user(runtime, world, "other@corp.example")
    auth = {"Authorization": f"Bearer {other}"}
    for path in ("weekly", "weekly.csv", "chart.svg"):
        response = client.get(f"/reports/{path}?plan_id={plan_id}", headers=auth)
        assert response.status_code == 404, path
    assert client.get("/reports/weekly?plan_id=999999", headers=auth).status_code == 404

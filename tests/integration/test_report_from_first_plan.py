"""Reports and alerts start when the person does (issue 12, 4)."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from app import tasks
from app.db.models import Notification, User
from app.db.session import transaction
from app.domain.plan import PlanSpec
from app.domain.time import IsoWeek
from app.main import create_app
from app.runtime import Runtime
from app.services.accounts.rows import add_account
from app.services.people.users import create_user
from app.services.planning.plans import create_plan
from connectors.base import Event, SelfResponse
from tests.support.dashboard import sign_up
from tests.support.world import FakeClock, MemoryWorld

BERLIN = ZoneInfo("Europe/Berlin")
ME = "new@corp.example"
SUNDAY_EVENING = datetime(2027, 1, 17, 20, 0, tzinfo=BERLIN)  # 2027-W02 ends tonight
WEDNESDAY = datetime(2027, 1, 20, 10, 0, tzinfo=BERLIN)  # 2027-W03


def signed_up(rt: Runtime, world: MemoryWorld, now: datetime) -> tuple[int, str]:
    """A Berlin user with a calendar and the default plan, both made at `now`."""
    with transaction(rt.sessions) as session:
        user, token = create_user(session, ME, "Europe/Berlin")
        add_account(session, user, "memory", ME, world.store(ME).calendars())
        plan = create_plan(session, user, PlanSpec.model_validate({"goal": "Lead"}), now)
        return plan.id, token


@pytest.fixture
def client(runtime: Runtime) -> Iterator[TestClient]:
    with TestClient(create_app(runtime, scheduler=False)) as test_client:
        yield test_client


def notices(rt: Runtime, kind: str) -> list[Notification]:
    with rt.sessions() as session:
        return list(session.scalars(select(Notification).where(Notification.kind == kind)))


def test_a_plan_made_on_sunday_evening_sends_no_missed_target(
    runtime: Runtime, world: MemoryWorld, clock: FakeClock
):
    clock.now = SUNDAY_EVENING
    plan_id, _ = signed_up(runtime, world, clock.now)
    report = tasks.book_plan(plan_id, str(IsoWeek.containing(clock.now, BERLIN)))
    assert report.booked_minutes == 0 and report.shortfall_reason  # nothing could fit...
    assert notices(runtime, "plan.target_missed") == []  # ...and that is no missed target


def test_a_week_with_allowed_days_left_still_alerts(
    runtime: Runtime, world: MemoryWorld, clock: FakeClock
):
    clock.now = WEDNESDAY
    plan_id, _ = signed_up(runtime, world, clock.now)
    store = world.store(ME)
    for day in range(18, 23):  # the whole working week is busy
        store.put_event(
            Event(
                id=store.new_id(),
                calendar_id="primary",
                title="Workshop",
                start=datetime(2027, 1, day, 8, tzinfo=BERLIN),
                end=datetime(2027, 1, day, 18, tzinfo=BERLIN),
                organizer_email="boss@corp.example",
                self_response=SelfResponse.ACCEPTED,
                attendee_count=3,
            )
        )
    tasks.book_plan(plan_id, "2027-W03")
    assert len(notices(runtime, "plan.target_missed")) == 1


def test_the_report_counts_from_the_first_plan(
    runtime: Runtime, world: MemoryWorld, clock: FakeClock, client: TestClient
):
    clock.now = WEDNESDAY
    plan_id, token = signed_up(runtime, world, clock.now)
    auth = {"Authorization": f"Bearer {token}"}
    body = client.get("/reports/weekly", params={"plan_id": plan_id}, headers=auth).json()
    rows = body["rows"]
    assert [r["week"] for r in rows][-1] == "2027-W03"
    before = [r for r in rows if r["before_plan"]]
    assert len(before) == 7 and all(not r["on_target"] for r in before)
    assert not rows[-1]["before_plan"] and not rows[-1]["complete"]
    assert body["summary"]["streak_weeks"] == 0

    reply = client.get(
        "/reports/weekly.csv", params={"plan_id": plan_id, "weeks": 52}, headers=auth
    )
    table = list(csv.DictReader(io.StringIO(reply.text)))
    assert len(table) == 52
    assert {r["on_target"] for r in table[:-1]} == {""}  # neither missed nor met
    assert table[-1]["on_target"] == "false"  # this week: counted (and still running)


def test_weeks_after_the_plan_count_as_missed(
    runtime: Runtime, world: MemoryWorld, clock: FakeClock, client: TestClient
):
    clock.now = WEDNESDAY - timedelta(weeks=2)
    plan_id, token = signed_up(runtime, world, clock.now)
    clock.now = WEDNESDAY
    auth = {"Authorization": f"Bearer {token}"}
    rows = client.get("/reports/weekly", params={"plan_id": plan_id}, headers=auth).json()["rows"]
    counted = [r["week"] for r in rows if not r["before_plan"]]
    assert counted == ["2027-W01", "2027-W02", "2027-W03"]


def test_the_report_page_says_so_for_the_weeks_before(runtime: Runtime, clock: FakeClock):
    clock.now = WEDNESDAY
    app = create_app(runtime, scheduler=False)
    with TestClient(app, follow_redirects=False) as browser:
        sign_up(browser)
        with transaction(runtime.sessions) as session:
            user = session.scalars(select(User)).one()
            create_plan(session, user, PlanSpec.model_validate({"goal": "Lead"}), clock.now)
        page = browser.get("/dashboard/report").text
    assert "7 weeks before your first plan" in page
    assert "<td>no</td>" not in page
    assert 'Week of 18 Jan <span class="muted">(in progress)</span>' in page


def test_the_chart_names_weeks_by_their_monday():
    from app.domain.ledger import WeekLedger
    from app.html.charts import growth_chart

    row = WeekLedger(
        week="2027-W03",
        complete=True,
        target_minutes=240,
        booked_minutes=240,
        kept_minutes=240,
        moved_minutes=0,
        lost_minutes=0,
        tagged_minutes=0,
        working_minutes=2400,
        growth_minutes=240,
        meeting_minutes=0,
        growth_ratio=0.1,
        meeting_ratio=0.0,
        on_target=True,
    )
    svg = growth_chart([row])
    assert ">18 Jan</text>" in svg and "Week of 18 Jan: kept 240 min" in svg
    assert "W03" not in svg

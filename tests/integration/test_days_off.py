"""Days off end to end (issue 17 item 4): leave and public holidays through the API and the
page, the reduced targets in the report (rows, CSV, page), the streak across an away week,
out-of-office events, and booking that skips days off."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from app import tasks
from app.db.models import BookingRun, Calendar, User
from app.db.session import transaction
from app.domain.plan import PlanSpec
from app.domain.time import IsoWeek
from app.main import create_app
from app.runtime import Runtime
from app.services.accounts.rows import add_account
from app.services.growth import export, review
from app.services.people.users import create_user
from app.services.planning import days_off
from app.services.planning.plans import create_plan, get_plan
from app.services.reports import ledgers as reports
from connectors.base import Event, EventType
from tests.support.booking import provider_blocks
from tests.support.dashboard import csrf, plan_form, sign_up
from tests.support.world import FakeClock, MemoryWorld

ME = "me@corp.example"
BERLIN = ZoneInfo("Europe/Berlin")
KOLKATA = ZoneInfo("Asia/Kolkata")
LORD_HOWE = ZoneInfo("Australia/Lord_Howe")
W02, W03, W04 = IsoWeek(2027, 2), IsoWeek(2027, 3), IsoWeek(2027, 4)


def person(rt: Runtime, world: MemoryWorld, zone: str = "Europe/Berlin", **spec: object):
    """A user with a memory account and one plan: (user id, plan id, API token)."""
    with transaction(rt.sessions) as session:
        user, token = create_user(session, ME, zone)
        add_account(session, user, "memory", ME, world.store(ME).calendars())
        plan = create_plan(
            session, user, PlanSpec.model_validate({"goal": "Lead a project", **spec})
        )
        return user.id, plan.id, token


def leave(rt: Runtime, user_id: int, first: date, last: date | None = None) -> None:
    with transaction(rt.sessions) as session:
        user = session.get_one(User, user_id)
        days_off.add_leave(session, user, first, last, "", first)


def rows(rt: Runtime, user_id: int, plan_id: int, weeks: list[IsoWeek]):  # type: ignore[no-untyped-def]
    with rt.sessions() as session:
        user = session.get_one(User, user_id)
        return reports.weekly_report(
            session, user, get_plan(session, user, plan_id), weeks, rt.clock()
        )


def streak(rt: Runtime, user_id: int, plan_id: int) -> int:
    with rt.sessions() as session:
        user = session.get_one(User, user_id)
        plan = get_plan(session, user, plan_id)
        return reports.summary(session, user, plan, rt.clock()).streak_weeks


@pytest.fixture
def client(runtime: Runtime) -> Iterator[TestClient]:
    with TestClient(create_app(runtime, scheduler=False), follow_redirects=False) as test_client:
        yield test_client


def test_a_week_with_two_days_of_leave_has_a_reduced_target_and_booking_skips_them(
    runtime: Runtime, world: MemoryWorld, clock: FakeClock
) -> None:
    clock.now = datetime(2027, 1, 10, 18, tzinfo=BERLIN)
    user_id, plan_id, _ = person(runtime, world)
    leave(runtime, user_id, date(2027, 1, 11), date(2027, 1, 12))  # Monday and Tuesday

    report = tasks.book_plan(plan_id, str(W02))

    starts = [e.start.astimezone(BERLIN) for e in provider_blocks(world)]
    assert [s.date() for s in starts] == [date(2027, 1, 13), date(2027, 1, 14)]
    # 2.4 h wanted; two-hour blocks: two of them, and nothing on the leave days
    assert report is not None and (report.target_minutes, report.booked_minutes) == (144, 240)
    assert report.target_note == "2 days of leave: target 4 h → 2.4 h"
    clock.now = datetime(2027, 1, 18, 8, tzinfo=BERLIN)
    (row,) = rows(runtime, user_id, plan_id, [W02])
    assert (row.target_minutes, row.base_target_minutes, row.on_target) == (144, 240, True)
    assert row.target_note == "2 days of leave: target 4 h → 2.4 h"

    # the quarterly review and its export say so too
    with runtime.sessions() as session:
        user = session.get_one(User, user_id)
        plan = get_plan(session, user, plan_id)
        quarter = review.build(session, user, plan, review.Quarter(2027, 1), clock.now)
    assert quarter.reduced_weeks == [("2027-W02", "2 days of leave: target 4 h → 2.4 h")]
    assert "Week of 11 Jan 2027: 2 days of leave: target 4 h → 2.4 h." in export.markdown(quarter)


def test_booking_books_the_reduced_target_in_kolkata(
    runtime: Runtime, world: MemoryWorld, clock: FakeClock
) -> None:
    clock.now = datetime(2027, 1, 10, 18, tzinfo=KOLKATA)
    user_id, plan_id, _ = person(runtime, world, "Asia/Kolkata")
    leave(runtime, user_id, date(2027, 1, 11), date(2027, 1, 13))  # Mon..Wed: 96 min left

    report = tasks.book_plan(plan_id, str(W02))

    assert report is not None and (report.target_minutes, report.booked_minutes) == (96, 120)
    (block,) = provider_blocks(world)
    assert block.start.astimezone(KOLKATA) == datetime(2027, 1, 14, 9, tzinfo=KOLKATA)
    with runtime.sessions() as session:
        run = session.scalars(select(BookingRun)).one()
        assert run.target_minutes == 96


def test_an_away_week_neither_breaks_nor_extends_the_streak(
    runtime: Runtime, world: MemoryWorld, clock: FakeClock
) -> None:
    clock.now = datetime(2027, 1, 10, 18, tzinfo=BERLIN)
    user_id, plan_id, _ = person(runtime, world)
    tasks.book_plan(plan_id, str(W02))
    leave(runtime, user_id, date(2027, 1, 18), date(2027, 1, 22))
    clock.now = datetime(2027, 1, 17, 18, tzinfo=BERLIN)
    away = tasks.book_plan(plan_id, str(W03))
    clock.now = datetime(2027, 1, 24, 18, tzinfo=BERLIN)
    tasks.book_plan(plan_id, str(W04))
    clock.now = datetime(2027, 2, 1, 8, tzinfo=BERLIN)

    assert away is not None and (away.target_minutes, away.created, away.shortfall_reason) == (
        0,
        [],
        None,
    )
    w03 = rows(runtime, user_id, plan_id, [W03])[0]
    assert w03.away and w03.target_note == "away all week (5 days of leave): no target"
    assert streak(runtime, user_id, plan_id) == 2  # W02 and W04; W03 skipped

    with transaction(runtime.sessions) as session:
        days_off.remove_leave(session, session.get_one(User, user_id), date(2027, 1, 20))
    assert streak(runtime, user_id, plan_id) == 1  # now W03 was a working week with nothing


def test_a_public_holiday_in_the_chosen_region_reduces_the_target(
    client: TestClient, runtime: Runtime, world: MemoryWorld, clock: FakeClock
) -> None:
    clock.now = datetime(2026, 12, 20, 18, tzinfo=BERLIN)
    _, plan_id, token = person(runtime, world, days=["thu", "fri"])
    auth = {"Authorization": f"Bearer {token}"}

    bad = client.put("/users/me/holiday-region", json={"country": "XX"}, headers=auth)
    assert bad.status_code == 422 and bad.json()["detail"][0]["loc"] == ["body", "country"]
    bad = client.put(
        "/users/me/holiday-region", json={"country": "DE", "subdivision": "ZZ"}, headers=auth
    )
    assert bad.status_code == 422 and bad.json()["detail"][0]["loc"] == ["body", "subdivision"]
    bad = client.put("/users/me/holiday-region", json={"subdivision": "BY"}, headers=auth)
    assert bad.status_code == 422 and bad.json()["detail"][0]["loc"] == ["body", "subdivision"]
    good = client.put(
        "/users/me/holiday-region", json={"country": "de", "subdivision": "by"}, headers=auth
    )
    assert good.status_code == 200 and good.json()["country"] == "DE"
    preview = client.get(
        f"/plans/{plan_id}/preview", params={"week": "2026-W52"}, headers=auth
    ).json()
    assert (preview["target_minutes"], preview["target_note"]) == (
        120,
        "public holiday: Christmas Day: target 4 h → 2 h",
    )

    week = IsoWeek(2026, 52)  # Thursday 24 Dec, Friday 25 Dec (Christmas Day)
    report = tasks.book_plan(plan_id, str(week))
    assert report is not None and (report.target_minutes, report.booked_minutes) == (120, 120)
    assert [e.start.astimezone(BERLIN).date() for e in provider_blocks(world)] == [
        date(2026, 12, 24)
    ]

    clock.now = datetime(2026, 12, 28, 8, tzinfo=BERLIN)
    body = client.get(f"/reports/weekly?plan_id={plan_id}&weeks=2", headers=auth).json()
    row = next(r for r in body["rows"] if r["week"] == "2026-W52")
    assert (row["target_minutes"], row["base_target_minutes"], row["on_target"]) == (
        120,
        240,
        True,
    )
    assert row["target_note"] == "public holiday: Christmas Day: target 4 h → 2 h"
    assert row["days_off"] == [{"day": "2026-12-25", "reason": "holiday", "name": "Christmas Day"}]

    got = client.get(f"/reports/weekly.csv?plan_id={plan_id}&weeks=2", headers=auth)
    parsed = {r["week"]: r for r in csv.DictReader(io.StringIO(got.text))}
    assert parsed["2026-W52"]["target_note"] == "public holiday: Christmas Day: target 4 h → 2 h"
    assert parsed["2026-W52"]["base_target_minutes"] == "240"


def test_out_of_office_events_reduce_the_target_and_block_booking(
    runtime: Runtime, world: MemoryWorld, clock: FakeClock
) -> None:
    clock.now = datetime(2027, 1, 10, 18, tzinfo=BERLIN)
    user_id, plan_id, _ = person(runtime, world)
    store = world.store(ME)
    for day in (11, 12):  # Monday and Tuesday, 08:00-14:00: more than half of 09:00-17:00
        store.put_event(
            Event(
                id=store.new_id(),
                calendar_id="primary",
                title="Out of office",
                start=datetime(2027, 1, day, 8, tzinfo=BERLIN),
                end=datetime(2027, 1, day, 14, tzinfo=BERLIN),
                event_type=EventType.OUT_OF_OFFICE,
            )
        )

    report = tasks.book_plan(plan_id, str(W02))
    assert report is not None and report.target_minutes == 144
    assert all(e.start.astimezone(BERLIN).day >= 13 for e in provider_blocks(world))

    with runtime.sessions() as session:
        calendar_id = session.scalars(select(Calendar.id)).one()
    tasks.sync_calendar(calendar_id)  # the report reads out-of-office time from the cache
    clock.now = datetime(2027, 1, 18, 8, tzinfo=BERLIN)
    (row,) = rows(runtime, user_id, plan_id, [W02])
    assert row.target_note == "2 days out of office: target 4 h → 2.4 h"


def test_lord_howe_dst_week_with_leave(
    runtime: Runtime, world: MemoryWorld, clock: FakeClock
) -> None:
    # Lord Howe moves its clocks by 30 minutes early on Sunday 4 Oct 2026.
    week = IsoWeek(2026, 40)
    clock.now = datetime(2026, 9, 27, 18, tzinfo=LORD_HOWE)
    user_id, plan_id, _ = person(
        runtime,
        world,
        "Australia/Lord_Howe",
        days=["fri", "sat", "sun"],
        working_hours={d: ["09:00-17:00"] for d in ("fri", "sat", "sun")},
        weekly_target_minutes=360,
    )
    leave(runtime, user_id, date(2026, 10, 2))  # the Friday

    report = tasks.book_plan(plan_id, str(week))

    assert report is not None and report.target_minutes == 240
    assert [e.start.astimezone(LORD_HOWE) for e in provider_blocks(world)] == [
        datetime(2026, 10, 3, 9, tzinfo=LORD_HOWE),
        datetime(2026, 10, 4, 9, tzinfo=LORD_HOWE),
    ]
    assert provider_blocks(world)[1].end - provider_blocks(world)[1].start == timedelta(hours=2)
    clock.now = datetime(2026, 10, 5, 8, tzinfo=LORD_HOWE)
    (row,) = rows(runtime, user_id, plan_id, [week])
    assert (row.target_minutes, row.on_target) == (240, True)
    assert row.target_note == "1 day of leave: target 6 h → 4 h"


def test_leave_api_validates_and_lists(
    client: TestClient, runtime: Runtime, world: MemoryWorld, clock: FakeClock
) -> None:
    clock.now = datetime(2027, 1, 10, 18, tzinfo=BERLIN)
    _, _, token = person(runtime, world)
    auth = {"Authorization": f"Bearer {token}"}

    made = client.post(
        "/users/me/leave",
        json={"day": "2027-01-11", "until": "2027-01-13", "note": "ski"},
        headers=auth,
    )
    assert made.status_code == 201
    assert [d["day"] for d in made.json()["leave"]] == ["2027-01-11", "2027-01-12", "2027-01-13"]
    again = client.post("/users/me/leave", json={"day": "2027-01-12"}, headers=auth)
    assert again.status_code == 201 and len(again.json()["leave"]) == 3  # no duplicate

    backwards = client.post(
        "/users/me/leave", json={"day": "2027-01-11", "until": "2027-01-01"}, headers=auth
    )
    assert backwards.status_code == 422 and backwards.json()["detail"][0]["loc"] == [
        "body",
        "until",
    ]
    too_long = client.post(
        "/users/me/leave", json={"day": "2027-01-01", "until": "2027-12-31"}, headers=auth
    )
    assert too_long.status_code == 422 and too_long.json()["detail"][0]["loc"][-1] == "until"
    far = client.post("/users/me/leave", json={"day": "1990-01-01"}, headers=auth)
    assert far.status_code == 422 and far.json()["detail"][0]["loc"] == ["body", "day"]
    garbage = client.post("/users/me/leave", json={"day": "soon"}, headers=auth)
    assert garbage.status_code == 422 and garbage.json()["detail"][0]["loc"] == ["body", "day"]

    assert client.delete("/users/me/leave/2027-01-12", headers=auth).status_code == 204
    assert client.delete("/users/me/leave/2027-01-12", headers=auth).status_code == 404
    listed = client.get("/users/me/days-off", headers=auth).json()
    assert [d["day"] for d in listed["leave"]] == ["2027-01-11", "2027-01-13"]


def test_days_off_page_and_report_page(client: TestClient, clock: FakeClock) -> None:
    clock.now = datetime(2026, 12, 1, 9, tzinfo=KOLKATA)
    sign_up(client)  # an Asia/Kolkata person
    page = client.get("/dashboard/days-off")
    assert page.status_code == 200 and "No leave days yet" in page.text
    token = csrf(page.text)

    bad = client.post("/dashboard/days-off/region", data={"csrf_token": token, "country": "ZZ"})
    assert bad.status_code == 422
    assert 'id="holiday-country"' in bad.text and 'aria-invalid="true"' in bad.text
    assert "not a supported country code" in bad.text
    saved = client.post("/dashboard/days-off/region", data={"csrf_token": token, "country": "IN"})
    assert saved.status_code == 303
    bad_day = client.post("/dashboard/days-off/leave", data={"csrf_token": token, "day": "x"})
    assert bad_day.status_code == 422 and "a date like 2026-12-24" in bad_day.text
    assert 'aria-describedby="leave-day-error"' in bad_day.text
    added = client.post(
        "/dashboard/days-off/leave",
        data={"csrf_token": token, "day": "2026-11-30", "until": "2026-12-01", "note": "trip"},
    )
    assert added.status_code == 303
    page = client.get("/dashboard/days-off")
    assert "Mon 30 Nov 2026" in page.text and "Tue 01 Dec 2026" in page.text
    assert "The next public holidays" in page.text and "Christmas" in page.text

    plan_page = client.get("/dashboard/plan")
    made = client.post("/dashboard/plan", data=plan_form(csrf(plan_page.text)))
    assert made.status_code == 303, made.text
    report = client.get("/dashboard/report")
    assert report.status_code == 200
    assert "2 days of leave: target 4 h → 1.3 h" in report.text  # Mon, Tue of Mon..Wed

    removed = client.post(
        "/dashboard/days-off/leave/remove", data={"csrf_token": token, "day": "2026-11-30"}
    )
    assert removed.status_code == 303
    assert "Mon 30 Nov 2026" not in client.get("/dashboard/days-off").text

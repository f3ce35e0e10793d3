"""Pinning in a real browser: the week view's "Keep it here" moves a growth block to the time
the person typed and pins it; a booking run afterwards leaves it there (headless Chromium,
the running app and the fake Google server; screenshot artifacts/screenshots/week-pinned.png)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from app.domain.time import IsoWeek
from tests.e2e.harness import wait_until
from tests.fakes.google_store import parse_when
from tests.support.browser import USER, Journey

pytestmark = pytest.mark.browser

BERLIN = ZoneInfo("Europe/Berlin")
EN_DASH = "\N{EN DASH}"


def expect(*args: Any, **kwargs: Any) -> Any:
    from playwright.sync_api import expect as playwright_expect

    return playwright_expect(*args, **kwargs)


def growth_blocks(journey: Journey) -> list[tuple[datetime, datetime]]:
    events = [e for e in journey.site.fake.events(USER) if e.get("extendedProperties")]
    return sorted((parse_when(e["start"]), parse_when(e["end"])) for e in events)


def book(journey: Journey, plan_id: int, week: IsoWeek, csrf: dict[str, str]) -> None:
    page = journey.page
    booked = page.request.post(f"/plans/{plan_id}/book", params={"week": str(week)}, headers=csrf)
    assert booked.status == 202, booked.text()
    status_url = booked.json()["status_url"]
    wait_until(lambda: page.request.get(status_url).json()["state"] == "done", timeout=20)


def test_keep_it_here_moves_and_pins_a_block_and_booking_keeps_it(journey: Journey) -> None:
    page = journey.page
    page.goto("/")
    page.get_by_role("link", name="Connect Google Calendar").click()
    page.wait_for_url("**/dashboard/accounts")
    csrf = {"X-CSRF-Token": page.request.get("/users/me/csrf-token").json()["csrf_token"]}
    plan = {
        "goal": "Ship the design doc",
        "timezone": "Europe/Berlin",
        "weekly_target_minutes": 240,
        "block_minutes": 120,
        "windows": ["08:00-18:00"],
        "preferred_windows": ["09:00-12:00"],
    }
    created = page.request.post("/plans", data=plan, headers=csrf)
    assert created.status == 201, created.text()
    plan_id = created.json()["id"]
    week = IsoWeek.containing(datetime.now(UTC), BERLIN).plus(2)
    book(journey, plan_id, week, csrf)
    first, second = growth_blocks(journey)

    # Keep the second block on the Friday of that week at 15:00 instead.
    friday = week.days()[4]
    target = datetime(friday.year, friday.month, friday.day, 15, 0, tzinfo=BERLIN)
    page.goto(f"/dashboard/week?week={week}")
    local = second[0].astimezone(BERLIN)
    day = page.get_by_role("region", name=local.strftime("%a %d %b"))
    item = day.locator(".item.block", has_text=f"{local:%H:%M}{EN_DASH}")
    expect(item).to_contain_text("Firm: shown busy")
    item.get_by_label("Move to").fill(target.strftime("%Y-%m-%dT%H:%M"))
    item.get_by_role("button", name="Keep it here").click()
    expect(page.get_by_role("status")).to_contain_text("Pinned: booking keeps this block here.")

    friday_region = page.get_by_role("region", name=target.strftime("%a %d %b"))
    pinned = friday_region.locator(".item.block", has_text="Pinned here")
    expect(pinned).to_contain_text(f"15:00{EN_DASH}17:00")
    expect(pinned.get_by_role("button", name="Keep it here")).to_have_count(0)
    journey.record("week-pinned")
    assert growth_blocks(journey) == [first, (target, target + timedelta(hours=2))]

    # Booking again (the weekly run) keeps the pinned block where the person put it.
    book(journey, plan_id, week, csrf)
    assert (target.astimezone(UTC), (target + timedelta(hours=2)).astimezone(UTC)) in [
        (s.astimezone(UTC), e.astimezone(UTC)) for s, e in growth_blocks(journey)
    ]
    assert len(growth_blocks(journey)) == 2
    page.reload()
    expect(page.get_by_role("region", name=target.strftime("%a %d %b"))).to_contain_text(
        "Pinned here"
    )

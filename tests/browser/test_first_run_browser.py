"""The first run in a real browser, from an empty database, with no cloud credentials at all.

Sign up (confirmed by the link in the development mailbox) → use the demo calendar (a real
Radicale started with the app) → save a plan → the week shows the growth blocks as read back
from Radicale → send a sample invite → the conflict, its decision and the reason appear on the
week page by itself (it refreshes at the demo calendar's poll interval; nobody reloads).
Screenshots: artifacts/screenshots/first-run-*.png.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from app.db.migrate import upgrade
from app.db.session import make_engine
from app.demo.service import DemoCalendar
from app.main import create_app
from app.providers import Providers
from app.runtime import build_runtime
from tests.e2e.harness import AppServer
from tests.support.browser import BASIC_RULES, Journey, LateApp
from tests.support.servers import free_port
from tests.support.settings import make_settings

pytestmark = pytest.mark.browser

EMAIL = "sam@corp.example"
POLL_SECONDS = 5
GOAL = "Lead a cross-team project"
PAGES = [
    "first-run-mailbox",
    "first-run-week",
    "first-run-accounts",
    "first-run-demo",
    "first-run-plan",
]
PAGES += ["first-run-booked", "first-run-conflict"]


def expect(*args: Any, **kwargs: Any) -> Any:
    from playwright.sync_api import expect as playwright_expect

    return playwright_expect(*args, **kwargs)


@dataclass
class DemoSite:
    base_url: str
    demo: DemoCalendar


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DemoSite]:
    """The app as `make run` starts it: scheduler on, demo calendar on, no provider keys."""
    folder = Path(tmp_path_factory.mktemp("first-run"))
    db_url = f"sqlite:///{folder / 'growthguard.db'}"
    upgrade(db_url)
    engine = make_engine(db_url)
    demo = DemoCalendar.at(folder / "demo-calendar", free_port())
    late = LateApp()
    server = AppServer(late)
    # As on a laptop: the public URL is the loopback address, so the development mailbox is on
    # (no SMTP) and the sign-up link it shows leads back to this server.
    settings = make_settings(
        db_url,
        public_url=server.base_url,
        demo_calendar=True,
        demo_poll_seconds=POLL_SECONDS,
        scheduler_enabled=True,
    )
    runtime = build_runtime(settings, engine=engine, providers=Providers(), demo=demo)
    late.app = create_app(runtime, scheduler=True)
    try:
        with server:
            assert demo.available, demo.problem
            yield DemoSite(server.base_url, demo)
        assert not demo.server.running  # stopped with the app
    finally:
        engine.dispose()


def heading(journey: Journey) -> Any:
    return journey.page.get_by_role("heading", level=1)


def nav(journey: Journey, name: str) -> None:
    journey.page.get_by_role("navigation", name="Main").get_by_role("link", name=name).click()


# --- the journey's steps (each test below reaches its step through the earlier ones) -------


def _sign_up_shows_the_next_step(journey: Journey) -> None:
    page = journey.page
    page.goto("/")
    expect(page.get_by_text("No sign-in with a calendar provider is set up")).to_be_visible()
    page.locator("#signup-email").fill(EMAIL)
    page.locator("#signup-password").fill("correct horse battery staple")
    page.locator("#signup-timezone").fill("Europe/Berlin")
    page.get_by_role("button", name="Create account").click()
    expect(heading(journey)).to_have_text("Check your email")
    # No SMTP on a laptop: the development mailbox shows the mail, with its link.
    page.get_by_role("link", name="the development mailbox").click()
    expect(heading(journey)).to_have_text("Development mailbox")
    journey.record("first-run-mailbox")
    page.locator('a[href*="/signup/confirm?t="]').first.click()
    page.get_by_role("button", name="Create my account").click()
    page.wait_for_url("**/dashboard/week")
    steps = page.get_by_role("region", name="Getting started")
    expect(steps).to_contain_text("Next: Connect a calendar (or use the demo calendar)")
    expect(page.locator("#why-nothing-booked")).to_contain_text("there is no plan yet")
    journey.record("first-run-week")


def _use_the_demo_calendar(journey: Journey) -> None:
    page = journey.page
    nav(journey, "Accounts")
    expect(heading(journey)).to_have_text("Accounts")
    expect(page.get_by_role("heading", name="Connect a CalDAV calendar")).to_be_visible()
    journey.record("first-run-accounts")
    page.get_by_role("button", name="Use the demo calendar").click()
    expect(page.get_by_role("status")).to_have_text("Demo calendar connected")
    demo = page.get_by_role("region", name="The demo calendar")
    expect(demo).to_contain_text("/work/")  # its URL, to open it in a calendar app
    expect(demo).to_contain_text("Password")
    account = page.get_by_role("region", name=re.compile(r"Demo calendar"))
    expect(account.first).to_be_visible()
    expect(page.get_by_role("checkbox", name="Target for growth blocks")).to_be_checked()
    journey.record("first-run-demo")


def _save_a_plan(journey: Journey) -> None:
    page = journey.page
    nav(journey, "Goal and plan")
    page.get_by_label("What").fill(GOAL)
    journey.settle()
    page.get_by_role("button", name="Save plan").click()
    page.wait_for_url(re.compile(r"/dashboard/plan\?plan_id=\d+"))
    expect(page.get_by_role("status")).to_have_text("Plan saved")
    journey.record("first-run-plan")


def _the_week_shows_blocks_read_back_from_the_calendar(journey: Journey) -> None:
    page = journey.page

    def first_block() -> dict[str, Any] | None:
        rows = page.request.get("/blocks").json()
        return min(rows, key=lambda b: b["start"]) if rows else None

    deadline = time.monotonic() + 30
    block = first_block()
    while block is None and time.monotonic() < deadline:
        page.wait_for_timeout(250)
        block = first_block()
    assert block is not None, "booking did not run after the plan was saved"
    journey.facts["week"] = block["week"]
    page.goto(f"/dashboard/week?week={block['week']}")
    # The page refreshes itself every poll interval; the next poll reads the blocks back.
    expect(page.get_by_text("Growth block, in your calendar").first).to_be_visible(
        timeout=(3 * POLL_SECONDS + 5) * 1000
    )
    expect(page.get_by_text(f"Growth: {GOAL}").first).to_be_visible()
    expect(page.get_by_text("Team stand-up").first).to_be_visible()  # the seeded week
    expect(page.locator("#why-nothing-booked")).to_have_count(0)
    journey.record("first-run-booked")


def _a_sample_invite_is_decided_within_a_poll(journey: Journey) -> None:
    page = journey.page
    nav(journey, "Accounts")
    page.get_by_role("button", name="Send me a sample invite").click()
    page.wait_for_url(re.compile(r"/dashboard/week\?week="))
    expect(page.get_by_role("status")).to_contain_text("Vendor pitch: Q3 roadmap")
    sent = time.monotonic()
    conflict = page.locator(".item.conflict", has_text="Vendor pitch: Q3 roadmap")
    # No reload by the test: the page's own refresh at the poll interval shows it.
    expect(conflict).to_contain_text(
        "Conflict with a firm growth block.", timeout=(2 * POLL_SECONDS + 10) * 1000
    )
    expect(conflict).to_contain_text("external organizer")
    expect(conflict.get_by_role("button", name="Keep meeting")).to_be_visible()
    journey.facts["seconds_to_decision"] = time.monotonic() - sent
    journey.record("first-run-conflict")


STEPS: list[tuple[str, Callable[[Journey], None]]] = [
    ("test_sign_up_shows_the_next_step", _sign_up_shows_the_next_step),
    ("test_use_the_demo_calendar", _use_the_demo_calendar),
    ("test_save_a_plan", _save_a_plan),
    (
        "test_the_week_shows_blocks_read_back_from_the_calendar",
        _the_week_shows_blocks_read_back_from_the_calendar,
    ),
    ("test_a_sample_invite_is_decided_within_a_poll", _a_sample_invite_is_decided_within_a_poll),
]


@pytest.mark.step
class TestFirstRun:
    """The steps in order; each test walks the earlier ones first when run alone."""

    def test_sign_up_shows_the_next_step(self, journey: Journey) -> None:
        journey.reach(STEPS, "test_sign_up_shows_the_next_step")

    def test_use_the_demo_calendar(self, journey: Journey) -> None:
        journey.reach(STEPS, "test_use_the_demo_calendar")

    def test_save_a_plan(self, journey: Journey) -> None:
        journey.reach(STEPS, "test_save_a_plan")

    def test_the_week_shows_blocks_read_back_from_the_calendar(self, journey: Journey) -> None:
        journey.reach(STEPS, "test_the_week_shows_blocks_read_back_from_the_calendar")

    def test_a_sample_invite_is_decided_within_a_poll(self, journey: Journey) -> None:
        journey.reach(STEPS, "test_a_sample_invite_is_decided_within_a_poll")


@pytest.mark.parametrize("name", PAGES)
def test_first_run_pages_are_accessible(journey: Journey, name: str) -> None:
    journey.reach(STEPS, STEPS[-1][0])  # every page of the journey has been audited then
    audit = journey.audits.get(name)
    if audit is None:
        pytest.fail(f"page {name!r} was not audited: the journey step that visits it failed")
    broken = [v for v in audit["violations"] if v["id"] in BASIC_RULES]
    assert not broken, [(v["id"], [n["html"][:120] for n in v["nodes"]]) for v in broken]


def test_no_script_errors(journey: Journey) -> None:
    """No page threw, and the strict CSP blocked nothing (no inline script or style)."""
    journey.reach(STEPS, STEPS[-1][0])
    assert journey.audits, "the journey visited no page"
    assert not journey.page_errors, "\n".join(journey.page_errors)

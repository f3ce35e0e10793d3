"""A new person's journey in a real browser: every page says what happened and what to do next.

Issue 12's "must show", in headless Chromium against the running app (local sign-up, no
provider): a form error beside its field with the input kept, the app's 404 page, the live
preview showing an error, explain's result in view, the report of someone who signed up this
week (no misses before the plan), a failed test notification shown as an error with its
reason, and every page at 390 px wide without sideways scrolling. Screenshots of every page,
desktop and mobile: artifacts/screenshots/journey-<page>-{desktop,mobile}.png; each is
audited with axe-core (artifacts/axe/), which must find no violation of the basic rules.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from app.db.migrate import upgrade
from app.db.session import make_engine
from app.main import create_app
from app.providers import Providers
from app.runtime import build_runtime
from tests.e2e.harness import AppServer
from tests.support.browser import BASIC_RULES, SCREENSHOTS, Journey, LateApp, audit
from tests.support.servers import free_port
from tests.support.settings import make_settings

if TYPE_CHECKING:
    from playwright.sync_api import Browser

pytestmark = pytest.mark.browser

EMAIL = "nia@corp.example"
PASSWORD = "correct horse battery staple"
GOAL = "Write the platform design doc"
DESKTOP = {"width": 1280, "height": 900}
MOBILE = {"width": 390, "height": 844}
# Every page a person reaches, by name and address (the error page by a mistyped address).
PAGES = {
    "week": "/dashboard/week",
    "plan": "/dashboard/plan",
    "boundary": "/dashboard/boundary",
    "report": "/dashboard/report",
    "accounts": "/dashboard/accounts",
    "notifications": "/dashboard/notifications",
    "quiet": "/dashboard/quiet",
    "tokens": "/dashboard/tokens",
    "not-found": "/dashboard/no-such-page",
}


def expect(*args: Any, **kwargs: Any) -> Any:
    from playwright.sync_api import expect as playwright_expect

    return playwright_expect(*args, **kwargs)


@dataclass
class LocalSite:
    base_url: str


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalSite]:
    """The app as on a laptop with no provider keys: local accounts, the development mailbox."""
    folder = Path(tmp_path_factory.mktemp("journey"))
    db_url = f"sqlite:///{folder / 'growthguard.db'}"
    upgrade(db_url)
    engine = make_engine(db_url)
    late = LateApp()
    server = AppServer(late)
    settings = make_settings(db_url, public_url=server.base_url)
    runtime = build_runtime(settings, engine=engine, providers=Providers())
    late.app = create_app(runtime, scheduler=False)
    try:
        with server:
            yield LocalSite(server.base_url)
    finally:
        engine.dispose()


def heading(journey: Journey) -> Any:
    return journey.page.get_by_role("heading", level=1)


def no_sideways_scrolling(journey: Journey) -> tuple[int, int]:
    """(page width, viewport width) of the page as it is now."""
    widths = journey.page.evaluate(
        "() => [document.documentElement.scrollWidth, window.innerWidth]"
    )
    return int(widths[0]), int(widths[1])


@pytest.mark.step
# --- the journey's steps (each test below reaches its step through the earlier ones) -------


def _sign_up_keeps_what_was_typed_and_names_the_field(journey: Journey) -> None:
    page = journey.page
    page.goto("/")
    page.locator("#signup-email").fill(EMAIL)
    page.locator("#signup-password").fill(PASSWORD)
    page.locator("#signup-timezone").fill("Mars/Olympus")
    page.get_by_role("button", name="Create account").click()

    zone = page.locator("#signup-timezone")
    expect(zone).to_have_value("Mars/Olympus")  # what was typed stays
    expect(zone).to_have_attribute("aria-invalid", "true")
    expect(zone).to_have_attribute("aria-describedby", "signup-timezone-error")
    note = page.locator("#signup-timezone-error")
    expect(note).to_be_visible()
    expect(note).not_to_contain_text("timezone:")  # plain words, not a field path
    expect(page.locator("#signup-email")).to_have_value(EMAIL)
    # The note sits right below its field, not only in the banner at the top.
    field_box, note_box = zone.bounding_box(), note.bounding_box()
    assert field_box and note_box and 0 <= note_box["y"] - field_box["y"] < 120
    journey.record("journey-signup-error")

    zone.fill("Europe/Berlin")
    page.locator("#signup-password").fill(PASSWORD)
    page.get_by_role("button", name="Create account").click()
    expect(heading(journey)).to_have_text("Check your email")
    page.get_by_role("link", name="the development mailbox").click()
    page.locator('a[href*="/signup/confirm?t="]').first.click()
    page.get_by_role("button", name="Create my account").click()
    page.wait_for_url("**/dashboard/week")
    expect(page).to_have_title("This week — GrowthGuard")
    expect(heading(journey)).to_contain_text("This week: Week of ")


def _a_mistyped_address_gets_the_app_404_page(journey: Journey) -> None:
    page = journey.page
    reply = page.goto("/dashboard")
    assert reply is not None and reply.status == 404
    expect(page).to_have_title("Not found — GrowthGuard")
    expect(heading(journey)).to_have_text("Not found")
    expect(page.get_by_text("There is no page at this address.")).to_be_visible()
    assert "{" not in (page.text_content("body") or "")  # no raw JSON
    page.get_by_role("link", name="Back to GrowthGuard").click()
    page.wait_for_url("**/dashboard/week")


def _the_live_preview_shows_errors(journey: Journey) -> None:
    page = journey.page
    page.goto("/dashboard/plan")
    page.get_by_label("What", exact=True).fill(GOAL)
    journey.settle()
    preview = page.get_by_role("region", name="Next week's preview")
    page.get_by_label("Windows blocks may go in").fill("25:00-26:00")
    journey.settle()
    expect(preview).to_contain_text("Nothing to preview until these are fixed")
    expect(preview).to_contain_text("Windows:")
    expect(preview).not_to_contain_text("Fill in the plan")
    windows = page.get_by_label("Windows blocks may go in")
    expect(windows).to_have_attribute("aria-invalid", "true")  # marked where it was typed
    expect(page.locator("#windows-error")).to_be_visible()
    journey.record("journey-plan-preview-error")

    windows.fill("09:00-17:00")
    journey.settle()
    expect(preview).to_contain_text("of 240 minutes")
    expect(windows).not_to_have_attribute("aria-invalid", "true")
    expect(page.locator("#windows-error")).to_have_count(0)


def _a_plan_error_sits_next_to_its_field_with_the_input_kept(journey: Journey) -> None:
    page = journey.page
    page.get_by_label("Time zone").fill("Mars/Olympus")
    journey.settle()
    with page.expect_navigation():
        page.get_by_role("button", name="Save plan").click()
    field = page.get_by_label("Time zone")
    expect(field).to_have_value("Mars/Olympus")
    expect(field).to_have_attribute("aria-invalid", "true")
    expect(page.locator("#timezone-error")).to_be_visible()
    expect(page.get_by_label("What", exact=True)).to_have_value(GOAL)  # the rest is kept
    expect(page.get_by_role("alert")).to_contain_text("Time zone:")
    journey.record("journey-plan-error")

    field.fill("")
    journey.settle()
    page.get_by_role("button", name="Save plan").click()
    page.wait_for_url(re.compile(r"/dashboard/plan\?plan_id=\d+"))
    expect(page.get_by_role("status")).to_have_text("Plan saved")


def _explain_shows_its_result_in_view(journey: Journey) -> None:
    page = journey.page
    page.goto("/dashboard/boundary")
    page.get_by_label("Title", exact=True).fill("All-hands")
    page.get_by_label("Attendees", exact=True).fill("40")
    page.get_by_label("Starts in (hours)").fill("72")
    page.get_by_role("button", name="Explain").click()
    result = page.locator("#explain-result").get_by_role("status")
    expect(result).to_contain_text("Decline after a grace time unless I keep it")
    expect(result).to_be_in_viewport()
    expect(page.get_by_label("Attendees", exact=True)).to_have_value("40")
    journey.record("journey-boundary-explained")


def _the_report_of_someone_new_shows_no_past_misses(journey: Journey) -> None:
    page = journey.page
    page.goto("/dashboard/report")
    rows = page.locator("table").first.locator("tbody tr")
    expect(rows).to_have_count(2)  # the weeks before the plan as one line, then this week
    on_target = [(rows.nth(i).locator("td").last.text_content() or "").strip() for i in (0, 1)]
    assert on_target == ["—", "—"], on_target  # no "no": nothing was missed
    expect(rows.first).to_contain_text("7 weeks before your first plan")
    expect(rows.last).to_contain_text("(in progress)")
    expect(page.get_by_role("columnheader", name="Booked (h)")).to_be_visible()


def _a_failed_test_notification_is_an_error_with_its_reason(journey: Journey) -> None:
    page = journey.page
    page.goto("/dashboard/notifications")
    page.get_by_label("Kind").select_option("webhook")
    page.get_by_label("Email address or URL").fill(f"http://127.0.0.1:{free_port()}/hook")
    page.get_by_role("button", name="Add channel").click()
    expect(page.get_by_role("status").first).to_contain_text("Channel added")
    page.get_by_role("button", name="Send test").click()
    alert = page.get_by_role("alert")
    expect(alert).to_contain_text("The test message was not delivered: connection refused.")
    expect(page.locator(".flash")).to_have_count(0)  # not a green success box
    journey.record("journey-notification-failed")


STEPS: list[tuple[str, Callable[[Journey], None]]] = [
    (
        "test_sign_up_keeps_what_was_typed_and_names_the_field",
        _sign_up_keeps_what_was_typed_and_names_the_field,
    ),
    ("test_a_mistyped_address_gets_the_app_404_page", _a_mistyped_address_gets_the_app_404_page),
    ("test_the_live_preview_shows_errors", _the_live_preview_shows_errors),
    (
        "test_a_plan_error_sits_next_to_its_field_with_the_input_kept",
        _a_plan_error_sits_next_to_its_field_with_the_input_kept,
    ),
    ("test_explain_shows_its_result_in_view", _explain_shows_its_result_in_view),
    (
        "test_the_report_of_someone_new_shows_no_past_misses",
        _the_report_of_someone_new_shows_no_past_misses,
    ),
    (
        "test_a_failed_test_notification_is_an_error_with_its_reason",
        _a_failed_test_notification_is_an_error_with_its_reason,
    ),
]


@pytest.mark.step
class TestNewPersonJourney:
    """The steps in order; each test walks the earlier ones first when run alone."""

    def test_sign_up_keeps_what_was_typed_and_names_the_field(self, journey: Journey) -> None:
        journey.reach(STEPS, "test_sign_up_keeps_what_was_typed_and_names_the_field")

    def test_a_mistyped_address_gets_the_app_404_page(self, journey: Journey) -> None:
        journey.reach(STEPS, "test_a_mistyped_address_gets_the_app_404_page")

    def test_the_live_preview_shows_errors(self, journey: Journey) -> None:
        journey.reach(STEPS, "test_the_live_preview_shows_errors")

    def test_a_plan_error_sits_next_to_its_field_with_the_input_kept(
        self, journey: Journey
    ) -> None:
        journey.reach(STEPS, "test_a_plan_error_sits_next_to_its_field_with_the_input_kept")

    def test_explain_shows_its_result_in_view(self, journey: Journey) -> None:
        journey.reach(STEPS, "test_explain_shows_its_result_in_view")

    def test_the_report_of_someone_new_shows_no_past_misses(self, journey: Journey) -> None:
        journey.reach(STEPS, "test_the_report_of_someone_new_shows_no_past_misses")

    def test_a_failed_test_notification_is_an_error_with_its_reason(self, journey: Journey) -> None:
        journey.reach(STEPS, "test_a_failed_test_notification_is_an_error_with_its_reason")


def test_every_page_desktop_and_mobile(journey: Journey) -> None:
    """Screenshots of every page at both widths; at 390 px none scrolls sideways."""
    journey.reach(STEPS, STEPS[-1][0])
    page = journey.page
    wide: list[str] = []
    for width, viewport in (("desktop", DESKTOP), ("mobile", MOBILE)):
        page.set_viewport_size(viewport)
        for name, path in PAGES.items():
            page.goto(path)
            journey.settle(debounce_ms=100)
            journey.record(f"journey-{name}-{width}")
            if width == "mobile":
                scroll, view = no_sideways_scrolling(journey)
                if scroll > view:
                    wide.append(f"{name}: {scroll} px wide in a {view} px window")
    page.set_viewport_size(DESKTOP)
    shots = sorted(p.name for p in SCREENSHOTS.glob("journey-*-mobile.png"))
    assert len(shots) >= len(PAGES), shots
    assert not wide, wide


def test_the_front_door_desktop_and_mobile(browser: Browser, site: LocalSite) -> None:
    """The pages before signing in (no cookies): screenshots, audits, no sideways scrolling."""
    for width, viewport in (("desktop", DESKTOP), ("mobile", MOBILE)):
        context = browser.new_context(base_url=site.base_url, viewport=viewport)
        page = context.new_page()
        try:
            for name, path in (("signin", "/"), ("not-found-signed-out", "/dashboard/typo")):
                page.goto(path)
                page.screenshot(
                    path=str(SCREENSHOTS / f"journey-{name}-{width}.png"), full_page=True
                )
                result = audit(page)
                broken = [v["id"] for v in result["violations"] if v["id"] in BASIC_RULES]
                assert not broken, (name, width, broken)
                scroll, view = page.evaluate(
                    "() => [document.documentElement.scrollWidth, window.innerWidth]"
                )
                assert scroll <= view, (name, width, scroll, view)
        finally:
            context.close()


def test_every_journey_page_is_accessible(journey: Journey) -> None:
    journey.reach(STEPS, STEPS[-1][0])
    assert journey.audits, "the journey audited no page"
    broken = {
        name: [(v["id"], [n["html"][:120] for n in v["nodes"]]) for v in result["violations"]]
        for name, result in journey.audits.items()
        if any(v["id"] in BASIC_RULES for v in result["violations"])
    }
    assert not broken, broken


def test_the_api_docs_work_offline(browser: Browser, site: LocalSite) -> None:
    """/docs runs Swagger UI from this server: with every other host cut off, it still works."""
    context = browser.new_context(base_url=site.base_url)
    elsewhere: list[str] = []

    def only_here(route: Any) -> None:
        if route.request.url.startswith(site.base_url):
            route.continue_()
        else:
            elsewhere.append(route.request.url)
            route.abort()

    context.route("**/*", only_here)
    page = context.new_page()
    problems: list[str] = []
    page.on("pageerror", lambda error: problems.append(str(error)))
    page.on(
        "console",
        lambda m: problems.append(m.text) if "Content Security Policy" in m.text else None,
    )
    try:
        page.goto("/docs")
        expect(page.locator(".swagger-ui .info .title")).to_contain_text("GrowthGuard")
        expect(page.locator(".opblock-tag").first).to_be_visible()
        icon = page.request.get("/favicon.ico")
        assert icon.status == 200 and icon.headers["content-type"] == "image/svg+xml"
    finally:
        context.close()
    assert not elsewhere, elsewhere
    assert not problems, problems


def test_no_script_errors(journey: Journey) -> None:
    journey.reach(STEPS, STEPS[-1][0])
    assert not journey.page_errors, "\n".join(journey.page_errors)

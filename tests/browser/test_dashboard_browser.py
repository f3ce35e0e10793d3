"""The dashboard in a real browser: connect Google, set a goal and plan, a boundary, a conflict.

One journey through the server-rendered pages, in headless Chromium against the running app
and the fake Google server. Every page visited is saved as a full-page screenshot
(artifacts/screenshots/<name>.png) and audited with axe-core (artifacts/axe/<name>.json); the
accessibility checks at the end fail on violations of the basic rules (conftest.BASIC_RULES).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

import pytest

from app.domain.time import IsoWeek
from tests.e2e.harness import wait_until
from tests.fakes.google_store import parse_when
from tests.support.browser import BASIC_RULES, USER, Journey, audit

if TYPE_CHECKING:
    from playwright.sync_api import Browser

pytestmark = pytest.mark.browser

BERLIN = ZoneInfo("Europe/Berlin")
GOAL = "Lead a cross-team project"
INVITE = "Q3 all-hands"
EN_DASH = "\N{EN DASH}"  # the week page writes times as 09:00-11:00 with an en dash

# Every page the journey visits and audits, in order.
PAGES = [
    "signin",
    "accounts",
    "plan-preview",
    "plan-saved",
    "boundary",
    "week-conflict",
    "week-kept",
    "notifications",
    "tokens",
    "report",
    "days-off-error",
    "days-off",
]
# The step that visits each page.
PAGE_STEPS = {
    "signin": "sign-in",
    "accounts": "sign-in",
    "plan-preview": "plan",
    "plan-saved": "plan",
    "boundary": "boundary",
    "week-conflict": "keep-meeting",
    "week-kept": "keep-meeting",
    "notifications": "notifications",
    "tokens": "notifications",
    "report": "report",
    "days-off-error": "days-off",
    "days-off": "days-off",
}
# Pages with a known accessibility bug: {name: reason}, each marked xfail(strict=True) below.
KNOWN_A11Y_BUGS: dict[str, str] = {}


def expect(*args: Any, **kwargs: Any) -> Any:
    from playwright.sync_api import expect as playwright_expect

    return playwright_expect(*args, **kwargs)


def heading(journey: Journey) -> Any:
    return journey.page.get_by_role("heading", level=1)


def nav(journey: Journey, name: str) -> None:
    journey.page.get_by_role("navigation", name="Main").get_by_role("link", name=name).click()


# --- the journey's steps (each test below reaches its step through the earlier ones) -------


def _sign_in(journey: Journey) -> None:
    page = journey.page
    page.goto("/")
    expect(page).to_have_title("Sign in — GrowthGuard")
    expect(heading(journey)).to_have_text("GrowthGuard")
    journey.record("signin")

    # The fake consent screen approves at once and sends the browser back.
    page.get_by_role("link", name="Connect Google Calendar").click()
    page.wait_for_url("**/dashboard/accounts")
    expect(heading(journey)).to_have_text("Accounts")
    account = page.get_by_role("region", name=f"{USER} (Google Calendar)")
    expect(account).to_contain_text("Status: ok")
    expect(
        account.get_by_role("row", name=re.compile(rf"{re.escape(USER)} \(primary\)"))
    ).to_be_visible()
    expect(account.get_by_role("checkbox", name="Counts as busy")).to_be_checked()
    expect(account.get_by_role("checkbox", name="Target for growth blocks")).to_be_checked()
    expect(page.get_by_role("button", name=f"Sign out {USER}")).to_be_visible()
    journey.record("accounts")

    accounts = page.request.get("/accounts")
    assert accounts.ok, accounts.text()
    calendars = accounts.json()[0]["calendars"]
    journey.facts["calendar_id"] = next(c["id"] for c in calendars if c["is_busy_source"])


def _goal_and_plan(journey: Journey) -> None:
    page = journey.page
    nav(journey, "Goal and plan")
    expect(heading(journey)).to_have_text("Goal and plan")
    by_when = datetime.now(BERLIN).date() + timedelta(days=180)
    page.get_by_label("What").fill(GOAL)
    page.get_by_label("Why it matters").fill("To be ready for a staff role")
    page.get_by_label("By when").fill(by_when.isoformat())
    page.get_by_label("Weekly target (minutes)").fill("240")
    page.get_by_label("Shortest block (minutes)").fill("120")
    page.get_by_label("Longest block (minutes)").fill("120")
    page.get_by_label("At most blocks per day").fill("1")
    for day in ("Mon", "Tue", "Wed", "Thu", "Fri"):
        page.get_by_role("checkbox", name=day, exact=True).check()
    for day in ("Sat", "Sun"):
        page.get_by_role("checkbox", name=day, exact=True).uncheck()
    page.get_by_label("Windows blocks may go in").fill("08:00-18:00")
    page.get_by_label("Preferred windows (tried first)").fill("09:00-12:00")
    page.get_by_label("Buffer around meetings (minutes)").fill("10")
    journey.settle()  # the page's live-preview script (see test_live_preview_...) is done

    with page.expect_navigation():
        page.get_by_role("button", name="Preview next week").click()
    preview = page.get_by_role("region", name="Next week's preview")
    next_week = IsoWeek.containing(datetime.now(UTC), BERLIN).next()
    expect(preview).to_contain_text(f"{next_week.label()} (Europe/Berlin): 240 of 240 minutes.")
    expect(preview.get_by_role("listitem")).to_have_count(2)
    expect(page.get_by_label("What")).to_have_value(GOAL)  # the form keeps what was typed
    journey.record("plan-preview")

    page.get_by_role("button", name="Save plan").click()
    page.wait_for_url(re.compile(r"/dashboard/plan\?plan_id=\d+"))
    expect(page.get_by_role("status")).to_have_text("Plan saved")
    expect(page.get_by_label("By when")).to_have_value(by_when.isoformat())
    journey.facts["plan_id"] = int(re.search(r"plan_id=(\d+)", page.url)[1])  # type: ignore[index]
    journey.record("plan-saved")


def _boundary(journey: Journey) -> None:
    page = journey.page
    nav(journey, "Boundary")
    expect(heading(journey)).to_have_text("Boundary policy")

    page.get_by_label("Start from a preset").select_option("gentle")
    page.get_by_role("button", name="Use preset").click()
    expect(page.get_by_role("status")).to_have_text("Boundary saved")
    expect(page.get_by_text("Current policy:")).to_contain_text("Current policy: gentle.")

    # Flag (never decline) big meetings: the person decides on the week page.
    page.get_by_label("Name", exact=True).fill("big meetings")
    page.get_by_label("When", exact=True).select_option("attendees_at_least")
    page.get_by_label("Value", exact=True).fill("8")
    page.get_by_label("Then", exact=True).select_option("Tell me")
    page.get_by_role("button", name="Add rule").click()
    expect(page.get_by_role("status")).to_have_text("Boundary saved")
    rule = page.get_by_role("row", name=re.compile("big meetings"))
    expect(rule).to_contain_text("At least 8 attendees")
    expect(rule).to_contain_text("Tell me")

    page.get_by_label("Title", exact=True).fill("Sample all-hands")
    page.get_by_label("Attendees", exact=True).fill("12")
    page.get_by_label("Starts in (hours)").fill("72")
    page.get_by_role("button", name="Explain").click()
    explained = page.get_by_role("status")
    expect(explained).to_contain_text('Tell me (rule "big meetings")')
    expect(explained).to_be_in_viewport()  # where the person is looking, not far below
    expect(explained).to_contain_text("12")
    journey.record("boundary")


def _conflict_and_keep(journey: Journey) -> None:
    page, fake = journey.page, journey.site.fake
    plan_id = journey.facts["plan_id"]
    # Two weeks ahead: further away than the preset's short-notice rule.
    week = IsoWeek.containing(datetime.now(UTC), BERLIN).plus(2)
    # API writes from a signed-in browser carry its CSRF token, as a page script would.
    csrf = {"X-CSRF-Token": page.request.get("/users/me/csrf-token").json()["csrf_token"]}
    booked = page.request.post(f"/plans/{plan_id}/book", params={"week": str(week)}, headers=csrf)
    assert booked.status == 202, booked.text()
    status_url = booked.json()["status_url"]
    run = wait_until(
        lambda: (r := page.request.get(status_url).json())["state"] == "done" and r, timeout=20
    )
    assert len(run["reports"][0]["created"]) == 2
    blocks = sorted(
        (e for e in fake.events(USER) if e.get("extendedProperties")),
        key=lambda e: parse_when(e["start"]),
    )
    block = blocks[0]
    start, end = parse_when(block["start"]), parse_when(block["end"])
    fake.insert_invite(USER, INVITE, start, end, organizer="cto@corp.example", attendee_count=12)
    synced = page.request.post(f"/calendars/{journey.facts['calendar_id']}/sync", headers=csrf)
    assert synced.status == 202, synced.text()

    def decided() -> Any:
        for conflict in page.request.get("/conflicts").json():
            if conflict["decision"] and conflict["event"].get("title") == INVITE:
                return conflict
        return None

    conflict = wait_until(decided, timeout=10, interval=0.1)
    assert conflict["decision"]["action"] == "flag"

    # This week, then forward to the booked week.
    nav(journey, "This week")
    for _ in range(2):
        page.get_by_role("link", name="Next week").click()
    expect(heading(journey)).to_have_text(week.label())
    local = start.astimezone(BERLIN)
    day = page.get_by_role("region", name=local.strftime("%a %d %b"))
    item = day.locator(".item.conflict", has_text=INVITE)
    expect(item).to_contain_text(f"{local:%H:%M}{EN_DASH}{end.astimezone(BERLIN):%H:%M}")
    expect(item).to_contain_text("Conflict with a firm growth block.")
    expect(item).to_contain_text(conflict["decision"]["explanation"])
    expect(item).to_contain_text("big meetings")
    journey.record("week-conflict")

    item.get_by_role("button", name="Keep meeting").click()
    expect(page.get_by_role("status")).to_contain_text("Kept: the meeting stays")
    expect(heading(journey)).to_have_text(week.label())
    kept = page.locator(".item.conflict", has_text=INVITE)
    expect(kept).to_contain_text("You kept this meeting.")
    expect(kept.get_by_role("button", name="Keep meeting")).to_have_count(0)
    states = [c["state"] for c in page.request.get("/conflicts").json()]
    assert states == ["overridden"], states
    journey.record("week-kept")


def _notifications_and_tokens(journey: Journey) -> None:
    page = journey.page
    nav(journey, "Notifications")
    expect(heading(journey)).to_have_text("Notifications")
    journey.record("notifications")

    nav(journey, "API tokens")
    expect(heading(journey)).to_have_text("Personal API tokens")
    page.get_by_label("Name").fill("laptop script")
    page.get_by_role("button", name="Create token").click()
    expect(page.get_by_role("status")).to_contain_text("Your new token (shown once")
    expect(page.get_by_role("button", name="Revoke laptop script")).to_be_visible()
    journey.record("tokens")


def _report(journey: Journey) -> None:
    page = journey.page
    nav(journey, "Report")
    expect(page).to_have_url(re.compile(r"/dashboard/report"))
    expect(heading(journey)).to_be_visible()
    chart = page.locator("svg[role=img]").first
    expect(chart).to_be_visible()
    title = chart.locator("title").first
    assert (title.text_content() or "").strip(), "the chart's <title> is empty"
    expect(page.get_by_role("img", name=(title.text_content() or "").strip())).to_be_visible()
    journey.record("report")


def _days_off(journey: Journey) -> None:
    page = journey.page
    nav(journey, "Days off")
    expect(heading(journey)).to_have_text("Days off")
    country = page.get_by_label("Country")
    country.fill("ZZ")
    page.get_by_role("button", name="Save").click()
    expect(country).to_have_attribute("aria-invalid", "true")
    expect(page.locator("#holiday-country-error")).to_contain_text("not a supported country")
    journey.record("days-off-error")
    page.get_by_label("Country").fill("DE")
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_role("table", name="The next public holidays")).to_be_visible()
    page.get_by_label("First day").fill("2027-01-25")
    page.get_by_label("Last day").fill("2027-01-26")
    page.get_by_role("button", name="Add leave").click()
    expect(page.get_by_role("button", name="Remove leave on 26 Jan 2027")).to_be_visible()
    journey.record("days-off")


STEPS: list[tuple[str, Callable[[Journey], None]]] = [
    ("sign-in", _sign_in),
    ("plan", _goal_and_plan),
    ("boundary", _boundary),
    ("keep-meeting", _conflict_and_keep),
    ("notifications", _notifications_and_tokens),
    ("report", _report),
    ("days-off", _days_off),
]


@pytest.mark.step
class TestJourney:
    """The steps in order; each test walks the earlier ones first when run alone."""

    def test_sign_in_page_connects_google(self, journey: Journey) -> None:
        journey.reach(STEPS, "sign-in")

    def test_goal_and_plan_preview_then_save(self, journey: Journey) -> None:
        journey.reach(STEPS, "plan")

    def test_boundary_preset_rule_and_explain(self, journey: Journey) -> None:
        journey.reach(STEPS, "boundary")

    def test_conflict_on_the_week_page_and_keep_meeting(self, journey: Journey) -> None:
        journey.reach(STEPS, "keep-meeting")

    def test_notifications_and_tokens(self, journey: Journey) -> None:
        journey.reach(STEPS, "notifications")

    def test_report_shows_the_chart(self, journey: Journey) -> None:
        journey.reach(STEPS, "report")

    def test_days_off_region_error_and_leave(self, journey: Journey) -> None:
        journey.reach(STEPS, "days-off")


def test_live_preview_refreshes_while_typing(journey: Journey) -> None:
    """Progressive enhancement on Goal and plan: the preview follows the form as you type."""
    journey.reach(STEPS, "plan")
    page = journey.page
    page.goto(f"/dashboard/plan?plan_id={journey.facts['plan_id']}")
    preview = page.get_by_role("region", name="Next week's preview")
    expect(preview).to_contain_text("240 of 240 minutes.")
    posted: list[str] = []
    page.on("request", lambda r: posted.append(r.url) if r.method == "POST" else None)
    page.get_by_label("Weekly target (minutes)").fill("120")
    journey.settle()
    assert posted, "typing in the form sent no preview request"
    assert posted[-1].endswith("/dashboard/plan"), f"the preview was requested from {posted[-1]}"
    expect(preview).to_contain_text("120 of 120 minutes.", timeout=2_000)


def _readable(name: str, audit: dict[str, Any], rules: tuple[str, ...]) -> str:
    lines = [f"accessibility violations on page {name!r} ({audit['url']}):"]
    for violation in audit["violations"]:
        if violation["id"] not in rules:
            continue
        lines.append(
            f"- {violation['id']} ({violation['impact']}): {violation['help']} "
            f"[{violation['helpUrl']}]"
        )
        for node in violation["nodes"]:
            snippet = " ".join(node["html"].split())
            snippet = snippet if len(snippet) <= 200 else snippet[:199] + "\N{HORIZONTAL ELLIPSIS}"
            lines.append(f"    at {', '.join(map(str, node['target']))}: {snippet}")
            summary = node.get("failureSummary") or ""
            lines.extend(f"      {line.strip()}" for line in summary.splitlines() if line.strip())
    return "\n".join(lines)


@pytest.mark.parametrize(
    "name",
    [
        pytest.param(
            name,
            marks=pytest.mark.xfail(strict=True, reason=KNOWN_A11Y_BUGS[name])
            if name in KNOWN_A11Y_BUGS
            else (),
        )
        for name in PAGES
    ],
)
def test_page_is_accessible(journey: Journey, name: str) -> None:
    journey.reach(STEPS, PAGE_STEPS[name])
    audit = journey.audits.get(name)
    if audit is None:
        pytest.fail(f"page {name!r} was not audited: the journey step that visits it failed")
    broken = [v for v in audit["violations"] if v["id"] in BASIC_RULES]
    assert not broken, _readable(name, audit, BASIC_RULES)


def test_no_script_errors(journey: Journey) -> None:
    journey.reach(STEPS, STEPS[-1][0])
    assert journey.audits, "the journey visited no page"
    assert not journey.page_errors, "\n".join(journey.page_errors)


# A page breaking every basic rule: the audit must catch each one (else the gate is idle).
BROKEN_PAGE = """<!doctype html><html><head></head><body>
<h3>Section</h3><h5>Detail</h5>
<img src="data:image/gif;base64,R0lGODlhAQABAAAAACw=">
<form><input name="q"></form>
<button></button> <a href="/somewhere"></a>
<p style="color:#bbbbbb;background:#ffffff">Faint text</p>
</body></html>"""


def test_the_audit_catches_every_basic_rule(browser: Browser) -> None:
    page = browser.new_page()
    try:
        page.set_content(BROKEN_PAGE)
        result = audit(page)
    finally:
        page.close()
    found = {v["id"] for v in result["violations"]}
    assert found >= set(BASIC_RULES), f"not caught: {sorted(set(BASIC_RULES) - found)}"
    report = _readable("broken", result, BASIC_RULES)
    assert "- label (critical)" in report and '<input name="q">' in report, report

"""The sync-health page in a real browser: a failing calendar says why in words, and "Sync now"
brings it back once the fault is gone (issue 17 item 3).

Headless Chromium against the running app and the fake Google server; the fault is the fake's
failure injection (every events request answers 403, as Google does when a grant may not read
a calendar). A 403 is not retried, so only the button can recover the calendar. The page is
audited with axe-core like the others (conftest.BASIC_RULES).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest

from tests.fakes.google_store import ApiError
from tests.support.browser import BASIC_RULES, USER, Journey

pytestmark = pytest.mark.browser

REFUSED = "The calendar provider refused access to this calendar"


def expect(*args: Any, **kwargs: Any) -> Any:
    from playwright.sync_api import expect as playwright_expect

    return playwright_expect(*args, **kwargs)


def _calendar(journey: Journey) -> Any:
    return journey.page.get_by_role("region", name=f"{USER} ({USER})")


def _reload_until(journey: Journey, says: Callable[[str], bool]) -> None:
    """The sync runs in the background: reload (as a person would) until the page says it."""
    page = journey.page
    for _ in range(100):
        if says(_calendar(journey).inner_text()):
            return
        page.wait_for_timeout(100)
        page.reload()
    raise AssertionError(f"the page never got there: {_calendar(journey).inner_text()}")


def test_a_failing_calendar_says_why_and_sync_now_recovers_it(journey: Journey) -> None:
    page, fake = journey.page, journey.site.fake
    page.goto("/")
    page.get_by_role("link", name="Connect Google Calendar").click()
    page.wait_for_url("**/dashboard/accounts")

    # Every read of the calendar's events is refused until the fault is cleared.
    refusal = ApiError(403, "forbidden", "The caller does not have permission").body()
    fake.faults.fail_next(None, status=403, path="/events", body=refusal)
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Sync health").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Sync health")
    calendar = _calendar(journey)
    expect(calendar).to_be_visible()

    calendar.get_by_role("button", name=f"Sync {USER} now").click()
    page.wait_for_url(re.compile(r"/dashboard/sync-health"))
    expect(page.get_by_role("status")).to_have_text("Sync requested")
    _reload_until(journey, lambda text: REFUSED in text)
    failing = _calendar(journey)
    expect(failing).to_contain_text(REFUSED)
    expect(failing).not_to_contain_text("403")  # words, not the provider's codes
    expect(failing).to_contain_text("Polling every 5 min.")
    journey.record("sync-health-failing")
    violations = journey.audits["sync-health-failing"]["violations"]
    assert not [v for v in violations if v["id"] in BASIC_RULES], violations

    # The fault is gone: "Sync now" recovers the calendar, and the error goes away.
    fake.faults.clear()
    _calendar(journey).get_by_role("button", name=f"Sync {USER} now").click()
    page.wait_for_url(re.compile(r"/dashboard/sync-health"))
    _reload_until(journey, lambda text: REFUSED not in text)
    recovered = _calendar(journey)
    expect(recovered).not_to_contain_text(REFUSED)
    expect(recovered.get_by_role("definition").first).not_to_have_text("never")
    journey.record("sync-health-recovered")
    violations = journey.audits["sync-health-recovered"]["violations"]
    assert not [v for v in violations if v["id"] in BASIC_RULES], violations

    # Re-read everything is offered too, and the dry run (no plan yet) says so.
    _calendar(journey).get_by_role("button", name=f"Re-read everything in {USER}").click()
    expect(page.get_by_role("status")).to_have_text("Re-reading everything")
    page.get_by_role("link", name="Dry run the next booking").click()
    expect(page.get_by_text("No active plan: nothing would be booked.")).to_be_visible()
    assert not journey.page_errors, journey.page_errors

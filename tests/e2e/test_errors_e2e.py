"""Provider failures a person meets in the browser: a clear page, never a 500 (issue 11)."""

from __future__ import annotations

from tests.e2e.harness import AppServer, browser
from tests.fakes.google_server import FakeGoogle
from tests.support.e2e_google import USER


def test_the_oauth_callback_when_listing_calendars_fails_transiently(
    fake: FakeGoogle, app_server: AppServer
) -> None:
    fake.faults.fail_next(status=503, retry_after=20, path="calendarList")
    with browser(app_server.base_url) as client:
        page = client.get("/auth/google/start", follow_redirects=True)
        assert page.status_code == 503, page.text
        assert page.headers["content-type"].startswith("text/html")
        assert page.headers["retry-after"] == "20"
        assert "try again" in page.text.lower()
        assert "Traceback" not in page.text and "Internal Server Error" not in page.text
        # Once Google answers again, connecting works.
        again = client.get("/auth/google/start", follow_redirects=True)
        assert again.status_code == 200 and USER in again.text

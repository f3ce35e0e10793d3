"""Push edges over HTTP (issue 11 item 5)."""

from __future__ import annotations

from tests.e2e.harness import AppServer, browser, wait_until
from tests.fakes.google_server import FakeGoogle


def test_googles_first_sync_message_finds_its_channel(
    fake: FakeGoogle, app_server: AppServer
) -> None:
    # The fake sends "sync" before the watch call returns, as Google may. Before the fix the
    # channel row was committed only after the call: that first message always got 404.
    with browser(app_server.base_url) as client:
        assert client.get("/auth/google/start", follow_redirects=True).status_code == 200
        wait_until(lambda: client.get("/accounts").json()[0]["calendars"][0]["push_active"], 5)
    hello = wait_until(
        lambda: [d for d in fake.deliveries if d.headers["X-Goog-Resource-State"] == "sync"], 5
    )
    assert [d.status for d in hello] == [200]
    assert hello[0].channel_id in fake.channels()

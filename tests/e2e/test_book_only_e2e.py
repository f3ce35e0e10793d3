"""Book-only accounts end to end on the fake Google server (issue 17 item 5): the connect asks
only for the narrow scopes, blocks are still booked, and a decline rule becomes a flag whose
reason the notification and the pages show. The fake enforces the scopes like Google does."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from app.domain.time import IsoWeek
from tests.booking_helpers import book
from tests.e2e.harness import AppServer, browser, wait_until
from tests.fakes.google_server import FakeGoogle
from tests.fakes.google_store import parse_when
from tests.support.e2e_google import BERLIN, USER

AUTH = "https://www.googleapis.com/auth/"
REASON = "declining needs full access; this account is book-only"
POLICY: dict[str, Any] = {
    "default": "flag",
    "rules": [{"name": "big meetings", "when": {"attendees_at_least": 8}, "then": "decline"}],
    "guardrails": {"max_declines_per_week": 5, "never_decline_accepted": True, "dry_run": False},
}


def _consent_query(fake: FakeGoogle) -> dict[str, list[str]]:
    [asked] = [r for r in fake.requests if r.path.endswith("/o/oauth2/auth")]
    return dict(asked.query)


def test_book_only_asks_for_the_narrow_scopes_books_and_only_flags(
    fake: FakeGoogle, app_server: AppServer
) -> None:
    with browser(app_server.base_url) as client:
        client.get("/auth/google/start", params={"mode": "book_only"}, follow_redirects=True)
        [account] = client.get("/accounts").json()
        assert account["access_mode"] == "book_only"

        # Only the narrow scopes were asked for, and earlier grants are not folded in.
        [asked] = fake.requested_scopes
        assert sorted(asked) == sorted(
            [
                AUTH + "calendar.events.owned",
                AUTH + "calendar.calendarlist.readonly",
                "openid",
                AUTH + "userinfo.email",
            ]
        )
        assert "include_granted_scopes" not in _consent_query(fake)

        # Blocks are booked with those scopes alone.
        plan = client.post("/plans", json={"goal": "Lead a cross-team project"}).json()
        assert client.put(f"/plans/{plan['id']}/policy", json=POLICY).status_code == 200
        week = IsoWeek.containing(datetime.now(UTC), BERLIN).plus(2)
        booked = book(client, plan["id"], str(week))
        assert len(booked[0]["created"]) == 2
        block = min(
            (e for e in fake.events(USER) if e.get("extendedProperties")),
            key=lambda e: parse_when(e["start"]),
        )

        # A decline rule matches, but the account is book-only: a flag, with the reason.
        invite_id = fake.insert_invite(
            USER,
            "Q3 all-hands",
            parse_when(block["start"]),
            parse_when(block["end"]),
            organizer="cto@corp.example",
            attendee_count=12,
        )
        cal_id = account["calendars"][0]["id"]
        assert client.post(f"/calendars/{cal_id}/sync").status_code == 202

        def decided() -> dict | None:
            for conflict in client.get("/conflicts").json():
                if conflict["decision"] and "Q3 all-hands" in str(conflict):
                    return dict(conflict["decision"])
            return None

        decision = wait_until(decided, timeout=10)
        assert decision["action"] == "flag" and decision["rule"] == "big meetings"
        assert REASON in decision["explanation"]
        assert fake.rsvps(USER, invite_id) == []  # nothing was declined

        told = [n for n in client.get("/notifications").json() if n["kind"] == "conflict.decided"]
        assert told and REASON in told[0]["payload"]["message"]
        assert REASON in client.get("/dashboard/notifications").text
        page = client.get("/dashboard/accounts").text
        assert "book only (conflicts are flagged, never declined)" in page

        # The policy's explanation of a sample invite says the same before anything happens.
        policy_id = client.get(f"/plans/{plan['id']}/policy").json()["id"]
        sample = {
            "title": "Town hall",
            "start": block["start"]["dateTime"],
            "end": block["end"]["dateTime"],
            "organizer_email": "cto@corp.example",
            "attendee_count": 30,
        }
        explained = client.post(f"/policies/{policy_id}/explain", json=sample).json()
        assert explained["action"] == "flag" and REASON in explained["explanation"]

        # Disconnecting answers the account as it was, its mode included.
        gone = client.delete(f"/accounts/{account['id']}")
        assert gone.status_code == 200, gone.text
        assert (gone.json()["status"], gone.json()["access_mode"]) == ("disconnected", "book_only")


def test_the_connect_page_says_what_each_mode_can_and_cannot_do(
    fake: FakeGoogle, app_server: AppServer
) -> None:
    with browser(app_server.base_url) as client:
        client.get("/auth/google/start", follow_redirects=True)  # full access
        page = client.get("/dashboard/accounts").text
        assert "Google Calendar: full access or book only" in page
        assert "decline invites or move blocks: those rules only flag" in page
        assert "calendar.events.owned" in page
        assert 'href="/auth/google/start?mode=book_only"' in page
        # Full access still asks for what it did before, folding in earlier grants.
        [asked] = fake.requested_scopes
        assert AUTH + "calendar.events" in asked
        assert _consent_query(fake)["include_granted_scopes"] == ["true"]
        unknown = client.get("/auth/google/start", params={"mode": "everything"})
        assert unknown.status_code == 400 and "mode" in unknown.text


@pytest.mark.parametrize(
    ("role", "status"), [("owner", 200), ("writer", 403)], ids=["owned", "shared"]
)
def test_the_fake_refuses_writes_outside_the_granted_scopes_like_google(
    fake: FakeGoogle, role: str, status: int
) -> None:
    credentials = fake.mint_credentials(
        USER, [AUTH + "calendar.events.owned", AUTH + "calendar.calendarlist.readonly"]
    )
    cal_id = fake.add_calendar(USER, "Team", access_role=role)
    body = {
        "summary": "Growth block",
        "start": {"dateTime": "2030-01-07T09:00:00+01:00"},
        "end": {"dateTime": "2030-01-07T11:00:00+01:00"},
    }
    reply = httpx.post(
        f"{fake.base_url}/calendar/v3/calendars/{cal_id}/events",
        json=body,
        headers={"Authorization": f"Bearer {credentials['token']}"},
    )
    assert reply.status_code == status, reply.text
    if status == 403:
        assert reply.json()["error"]["errors"][0]["reason"] == "insufficientPermissions"
    # A read-only token may not write even to an owned calendar.
    reader = fake.mint_credentials(USER, [AUTH + "calendar.events.owned.readonly"])
    owned = fake.add_calendar(USER, "Mine")
    refused = httpx.post(
        f"{fake.base_url}/calendar/v3/calendars/{owned}/events",
        json=body,
        headers={"Authorization": f"Bearer {reader['token']}"},
    )
    assert refused.status_code == 403

"""Signing up and filling forms in the server-rendered dashboard."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient

from tests.signups import browser_sign_up


def csrf(html: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert match, "no CSRF token on the page"
    return match.group(1)


def sign_up(client: TestClient, email: str = "ana@example.org") -> None:
    reply = browser_sign_up(client, email, timezone="Asia/Kolkata")
    assert reply.status_code == 303, reply.text
    assert reply.headers["location"] == "/dashboard/week"


def plan_form(token: str, **overrides: str) -> dict[str, str]:
    form = {
        "csrf_token": token,
        "goal": "Lead a cross-team project",
        "goal_why": "Promotion case",
        "goal_by": "2027-06-30",
        "weekly_target_minutes": "240",
        "block_min": "120",
        "block_max": "120",
        "max_blocks_per_day": "1",
        "day_mon": "on",
        "day_tue": "on",
        "day_wed": "on",
        "windows": "08:00-18:00",
        "preferred_windows": "09:00-12:00",
        "buffer_minutes": "10",
        "book_day": "sun",
        "book_time": "18:00",
        "action": "save",
    }
    form.update(overrides)
    return form

"""The server-rendered dashboard through HTTP: local sign-up, CSRF, every page, the forms."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from app.main import create_app
from app.runtime import Runtime
from tests.support.dashboard import csrf, plan_form, sign_up
from tests.support.world import FakeClock

PAGES = [
    "/dashboard/week",
    "/dashboard/plan",
    "/dashboard/boundary",
    "/dashboard/accounts",
    "/dashboard/notifications",
    "/dashboard/tokens",
]


@pytest.fixture
def browser(runtime: Runtime, clock: FakeClock) -> Iterator[TestClient]:
    with TestClient(create_app(runtime, scheduler=False), follow_redirects=False) as client:
        yield client


def test_pages_need_sign_in(browser: TestClient):
    for page in PAGES:
        reply = browser.get(page)
        assert reply.status_code == 303 and reply.headers["location"] == "/"


def test_sign_up_sign_in_and_every_page(browser: TestClient):
    sign_up(browser)
    for page in PAGES:
        reply = browser.get(page)
        assert reply.status_code == 200, page
        assert "<h1>" in reply.text and 'lang="en"' in reply.text
    signout = browser.post("/auth/sign-out", data={"csrf_token": csrf(browser.get(PAGES[0]).text)})
    assert signout.status_code == 303
    assert browser.get(PAGES[0]).status_code == 303
    front = browser.get("/")
    wrong = browser.post(
        "/signin",
        data={
            "email": "ana@example.org",
            "password": "nope nope nope",
            "csrf_token": csrf(front.text),
        },
    )
    assert wrong.status_code == 401 and "wrong password" in wrong.text
    right = browser.post(
        "/signin",
        data={
            "email": "ana@example.org",
            "password": "correct horse battery",
            "csrf_token": csrf(front.text),
        },
    )
    assert right.status_code == 303


def test_forms_reject_a_missing_or_foreign_csrf_token(browser: TestClient):
    sign_up(browser)
    reply = browser.post("/dashboard/tokens", data={"name": "script", "csrf_token": "forged"})
    assert reply.status_code == 403
    assert (
        browser.post(
            "/signup", data={"email": "x@y.org", "password": "x" * 20, "timezone": "UTC"}
        ).status_code
        == 403
    )


def test_short_password_is_refused_naming_the_field(browser: TestClient):
    front = browser.get("/")
    reply = browser.post(
        "/signup",
        data={
            "email": "b@example.org",
            "password": "short",
            "timezone": "UTC",
            "csrf_token": csrf(front.text),
        },
    )
    assert reply.status_code == 422 and "password" in reply.text


def test_plan_form_preview_save_and_errors(browser: TestClient):
    sign_up(browser)
    token = csrf(browser.get("/dashboard/plan").text)
    preview = browser.post("/dashboard/plan", data=plan_form(token, action="preview"))
    assert preview.status_code == 200 and "120 of" not in preview.text
    assert "240 of 240 minutes" in preview.text
    saved = browser.post("/dashboard/plan", data=plan_form(token))
    assert saved.status_code == 303
    page = browser.get("/dashboard/plan")
    assert "Promotion case" in page.text and "240 of 240" in page.text
    bad = browser.post("/dashboard/plan", data=plan_form(token, windows="09:00-10:00"))
    assert bad.status_code == 422 and "does not fit in any allowed window" in bad.text
    assert 'aria-describedby="block_max-error"' in bad.text  # next to its field
    assert 'value="09:00-10:00"' in bad.text  # what they typed is kept


def test_boundary_page_preset_rule_yaml_dry_run_and_explain(browser: TestClient):
    sign_up(browser)
    token = csrf(browser.get("/dashboard/plan").text)
    browser.post("/dashboard/plan", data=plan_form(token))
    page = browser.get("/dashboard/boundary")
    token = csrf(page.text)
    assert (
        browser.post(
            "/dashboard/boundary",
            data={"csrf_token": token, "action": "preset", "preset": "strict"},
        ).status_code
        == 303
    )
    assert "strict" in browser.get("/dashboard/boundary").text
    added = browser.post(
        "/dashboard/boundary",
        data={
            "csrf_token": token,
            "action": "add_rule",
            "name": "big meetings",
            "matcher": "attendees_at_least",
            "value": "8",
            "then": "decline",
        },
    )
    assert added.status_code == 303
    assert "big meetings" in browser.get("/dashboard/boundary").text
    bad_yaml = browser.post(
        "/dashboard/boundary",
        data={
            "csrf_token": token,
            "action": "yaml",
            "policy_yaml": (
                "rules:\n  - name: r\n    when: {title_matches: '(broken'}\n    then: flag\n"
            ),
        },
    )
    assert bad_yaml.status_code == 422 and "title_matches" in bad_yaml.text
    dry = browser.post(
        "/dashboard/boundary", data={"csrf_token": token, "action": "dry_run", "dry_run": "on"}
    )
    assert dry.status_code == 303 and "Dry run is on" in browser.get("/dashboard/boundary").text
    explained = browser.post(
        "/dashboard/boundary",
        data={
            "csrf_token": token,
            "action": "explain",
            "title": "All-hands",
            "attendees": "40",
            "hours_ahead": "72",
        },
    )
    assert explained.status_code == 200 and "dry run" in explained.text


def test_tokens_and_channels_pages(browser: TestClient):
    sign_up(browser)
    token = csrf(browser.get("/dashboard/tokens").text)
    made = browser.post("/dashboard/tokens", data={"csrf_token": token, "name": "script"})
    assert made.status_code == 303  # post/redirect/get: the next page shows it once
    api_token = re.search(
        r'<code class="wrap">(gg_[^<]+)</code>', browser.get(made.headers["location"]).text
    )
    assert api_token
    assert (
        browser.get("/plans", headers={"Authorization": f"Bearer {api_token.group(1)}"}).status_code
        == 200
    )
    added = browser.post(
        "/dashboard/channels",
        data={"csrf_token": token, "kind": "webhook", "target": "http://127.0.0.1:9/hook"},
    )
    assert added.status_code == 303  # post/redirect/get: a reload adds nothing
    assert "ggwh_" in browser.get(added.headers["location"]).text  # the secret, shown once
    bad = browser.post(
        "/dashboard/channels", data={"csrf_token": token, "kind": "email", "target": "nope"}
    )
    assert bad.status_code == 422 and "target" in bad.text


def test_report_page_shows_chart_table_and_csv_link(browser: TestClient):
    sign_up(browser)
    empty = browser.get("/dashboard/report")
    assert empty.status_code == 200 and "Create a plan" in empty.text
    token = csrf(browser.get("/dashboard/plan").text)
    browser.post("/dashboard/plan", data=plan_form(token))
    page = browser.get("/dashboard/report")
    assert page.status_code == 200
    assert "<svg" in page.text and "<title" in page.text and "Download CSV" in page.text
    assert "Per week" in page.text

"""Browser routes answer errors with the app's pages, API routes keep JSON (issue 12, 2)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from httpx import Response

from app.main import create_app
from app.runtime import Runtime
from tests.support.dashboard import csrf, plan_form, sign_up

BROWSER = {"accept": "text/html,application/xhtml+xml,*/*;q=0.8"}
SCRIPT = {"accept": "application/json"}


@pytest.fixture
def client(runtime: Runtime) -> Iterator[TestClient]:
    app = create_app(runtime, scheduler=False)
    with TestClient(app, raise_server_exceptions=False, follow_redirects=False) as test_client:
        yield test_client


def is_page(reply: Response) -> bool:
    html = reply.headers["content-type"].startswith("text/html")
    return html and "Back to GrowthGuard" in reply.text


def test_an_unknown_dashboard_address_is_a_404_page(client: TestClient):
    sign_up(client)
    for path in ("/dashboard", "/dashboard/nothing-here", "/signup/whatever"):
        reply = client.get(path, headers=BROWSER)
        assert reply.status_code == 404, path
        assert is_page(reply), reply.text
        assert "<h1>Not found</h1>" in reply.text
        assert "There is no page at this address." in reply.text
    # A browser somewhere else gets the page too; a script asking for JSON gets JSON.
    assert is_page(client.get("/no-such-thing", headers=BROWSER))
    api = client.get("/no-such-thing", headers=SCRIPT)
    assert api.status_code == 404 and api.json() == {"detail": "Not Found"}


def test_api_errors_stay_json(client: TestClient):
    sign_up(client)
    reply = client.get("/plans/99999", headers=BROWSER)
    assert reply.status_code == 404
    assert reply.json() == {"detail": "plan not found"}


def test_a_garbled_week_is_a_400_page_in_plain_words(client: TestClient):
    sign_up(client)
    reply = client.get("/dashboard/week?week=garbage", headers=BROWSER)
    assert reply.status_code == 400
    assert is_page(reply)
    assert "is not an ISO week like 2027-W03" in reply.text
    assert "week:" not in reply.text  # no field names meant for scripts
    lower = client.get("/dashboard/week?week=2027-w03", headers=BROWSER)
    assert lower.status_code == 200 and "Week of 18 Jan" in lower.text


def test_too_much_yaml_is_a_413_page(client: TestClient):
    sign_up(client)
    token = csrf(client.get("/dashboard/boundary").text)
    reply = client.post(
        "/dashboard/boundary",
        data={"csrf_token": token, "action": "yaml", "policy_yaml": "x" * (2 * 1024 * 1024)},
        headers=BROWSER,
    )
    assert reply.status_code == 413
    assert is_page(reply)
    assert "<h1>Too much at once</h1>" in reply.text and "256 KiB" in reply.text
    api = client.post("/policies", content=b"x" * (2 * 1024 * 1024), headers=SCRIPT)
    assert api.status_code == 413 and "too large" in api.json()["detail"]


def test_a_bug_in_a_page_is_a_500_page_and_json_for_the_api(
    client: TestClient, runtime: Runtime, monkeypatch: pytest.MonkeyPatch
):
    sign_up(client)
    token = csrf(client.get("/dashboard/plan").text)

    def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("boom")

    # A fault at the boundary (the clock the runtime was given), not in our modules.
    monkeypatch.setattr(runtime, "clock", broken)
    page = client.post("/dashboard/plan", data=plan_form(token), headers=BROWSER)
    assert page.status_code == 500
    assert is_page(page) and "Something went wrong on our side" in page.text
    assert "boom" not in page.text and "Traceback" not in page.text
    api = client.get("/users/me", headers=SCRIPT)
    assert api.status_code == 500 and api.json() == {"detail": "internal server error"}
    monkeypatch.undo()
    assert client.get("/dashboard/plan", headers=BROWSER).status_code == 200


def test_plan_errors_sit_next_to_their_field_in_plain_words(client: TestClient):
    sign_up(client)
    token = csrf(client.get("/dashboard/plan").text)
    reply = client.post(
        "/dashboard/plan",
        data=plan_form(token, weekly_target_minutes="5", timezone="Mars/Olympus"),
        headers=BROWSER,
    )
    assert reply.status_code == 422
    text = reply.text
    assert 'aria-describedby="weekly_target_minutes-error"' in text
    assert (
        '<p class="field-error" id="weekly_target_minutes-error">Must be at least 15.</p>' in text
    )
    assert 'id="timezone" name="timezone" value="Mars/Olympus"' in text  # kept
    assert 'aria-invalid="true" aria-describedby="timezone-error"' in text
    assert "Input should be" not in text and "weekly_target_minutes:" not in text
    assert '<a href="#weekly_target_minutes">Weekly target</a>: Must be at least 15.' in text
    # The preview says the same instead of asking to fill in the plan.
    assert "Nothing to preview until these are fixed" in text


def test_opening_a_form_address_directly_is_a_page(client: TestClient):
    sign_up(client)
    reply = client.get("/dashboard/tokens/1/revoke", headers=BROWSER)
    assert reply.status_code == 405 and is_page(reply)
    assert "not meant to be opened directly" in reply.text
    api = client.put("/users/me", headers=SCRIPT)
    assert api.status_code == 405 and api.json() == {"detail": "Method Not Allowed"}

"""The boundary editor's errors: next to their field, in plain words, input kept (issue 12, 5)."""

from __future__ import annotations

import html
import re
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from httpx import Response

from app.main import create_app
from app.runtime import Runtime
from tests.support.dashboard import csrf, plan_form, sign_up


@pytest.fixture
def client(runtime: Runtime) -> Iterator[TestClient]:
    app = create_app(runtime, scheduler=False)
    with TestClient(app, raise_server_exceptions=False, follow_redirects=False) as test_client:
        sign_up(test_client)
        token = csrf(test_client.get("/dashboard/plan").text)
        assert test_client.post("/dashboard/plan", data=plan_form(token)).status_code == 303
        yield test_client


def post(client: TestClient, **fields: str) -> Response:
    token = csrf(client.get("/dashboard/boundary").text)
    return client.post("/dashboard/boundary", data={"csrf_token": token, **fields})


def rules(client: TestClient) -> str:
    return client.get("/dashboard/boundary").text


def test_external_takes_only_yes_or_no(client: TestClient):
    reply = post(
        client, action="add_rule", name="outsiders", matcher="external", value="maybe", then="flag"
    )
    assert reply.status_code == 422
    text = reply.text
    assert '<p class="field-error" id="rule-value-error">Answer yes or no.</p>' in text
    assert 'value="outsiders"' in text and 'value="maybe"' in text  # what was typed is kept
    assert "outsiders" not in rules(client)
    saved = post(
        client, action="add_rule", name="outsiders", matcher="external", value="No", then="flag"
    )
    assert saved.status_code == 303
    assert "Organizer is inside my domains" in rules(client)


def test_a_bad_rule_value_is_named_in_plain_words(client: TestClient):
    reply = post(
        client,
        action="add_rule",
        name="big",
        matcher="attendees_at_least",
        value="lots",
        then="decline",
    )
    assert reply.status_code == 422
    text = reply.text
    assert 'aria-invalid="true" aria-describedby="rule-value-error"' in text
    assert "Enter a whole number." in text and "unable to parse" not in text


def test_yaml_errors_give_line_and_column(client: TestClient):
    reply = post(client, action="yaml", policy_yaml="default: flag\nrules: [\n  - name: x: y\n")
    assert reply.status_code == 422
    text = reply.text
    assert 'id="policy_yaml-error">Line 3, column' in text
    assert "name: x: y" in text  # kept in the box
    bad_rule = post(
        client,
        action="yaml",
        policy_yaml="rules:\n  - name: r\n    when: {attendees_at_least: many}\n    then: flag\n",
    )
    assert "Rule 1, when attendees at least: enter a whole number" in bad_rule.text


def test_an_emptied_yaml_box_asks_first(client: TestClient):
    post(client, action="add_rule", name="keep me", matcher="recurring", value="yes", then="flag")
    reply = post(client, action="yaml", policy_yaml="   \n")
    assert reply.status_code == 422
    assert "saving it removes every rule" in reply.text
    assert 'name="confirm_empty"' in reply.text
    assert "keep me" in rules(client)
    confirmed = post(client, action="yaml", policy_yaml="", confirm_empty="yes")
    assert confirmed.status_code == 303
    assert "keep me" not in rules(client)


@pytest.mark.parametrize(
    ("field", "value", "note"),
    [
        ("hours_ahead", "-5", "ex-hours-error"),
        ("hours_ahead", "1e300", "ex-hours-error"),
        ("hours_ahead", "nan", "ex-hours-error"),
        ("attendees", "-1", "ex-attendees-error"),
        ("attendees", "99999999999999999999", "ex-attendees-error"),
        ("attendees", "2.5", "ex-attendees-error"),
    ],
)
def test_explain_with_out_of_range_numbers_is_422_not_500(
    client: TestClient, field: str, value: str, note: str
):
    reply = post(client, action="explain", **{field: value})
    assert reply.status_code == 422, reply.text
    assert f'id="{note}"' in reply.text


def test_explain_answers_in_plain_words_and_keeps_the_sample(client: TestClient):
    post(
        client,
        action="add_rule",
        name="big",
        matcher="attendees_at_least",
        value="8",
        then="decline_after",
        grace_hours="4",
    )
    assert "Decline after 4 h unless I keep it" in rules(client)
    reply = post(client, action="explain", title="All-hands", attendees="40", hours_ahead="72")
    text = reply.text
    assert 'action="/dashboard/boundary#explain-result"' in text  # lands on the result
    assert '<div id="explain-result" tabindex="-1">' in text
    # The preset's own rule comes first (first match wins).
    assert "<strong>Decline after a grace time unless I keep it</strong>" in text
    assert '(rule "large meetings")' in text
    assert 'value="All-hands"' in text and 'value="40"' in text


def test_the_preset_selector_says_custom_for_own_rules(client: TestClient):
    post(client, action="preset", preset="strict")
    assert '<option value="strict" selected>' in rules(client)
    post(client, action="add_rule", name="mine", matcher="recurring", value="yes", then="flag")
    page = rules(client)
    assert "<strong>custom</strong>" in page
    assert '<option value="" selected disabled>custom (your own rules)</option>' in page
    assert '<option value="strict" selected>' not in page


def test_the_yaml_shows_whole_numbers_and_saves_back_unchanged(client: TestClient):
    page = rules(client)
    shown = re.search(r'<textarea id="policy_yaml"[^>]*>([^<]*)</textarea>', page)
    assert shown
    text = html.unescape(shown.group(1))
    assert "starts_within_hours: 24\n" in text and "24.0" not in text
    assert post(client, action="yaml", policy_yaml=text).status_code == 303
    assert "Invite arrives less than 24 h ahead" in rules(client)

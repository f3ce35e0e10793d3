"""The policy document: validation errors name the rule and field; presets are safe."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from app.domain.decide import Context, Invite, decide
from app.domain.intervals import Interval
from app.domain.policy import (
    DEFAULT_PRESET,
    PRESETS,
    Match,
    PolicySpec,
    Rule,
    placeholders,
    preset,
)

NOW = datetime(2027, 1, 18, 8, 0, tzinfo=UTC)  # a Monday
ZONE = ZoneInfo("Europe/Berlin")


def errors(document: dict[str, Any]) -> list[tuple[tuple[int | str, ...], str]]:
    with pytest.raises(ValidationError) as caught:
        PolicySpec.model_validate(document)
    return [(tuple(e["loc"]), e["msg"]) for e in caught.value.errors()]


def one_rule(**rule: Any) -> dict[str, Any]:
    return {"rules": [{"name": "ok", "then": "flag"}, {"name": "r", **rule}]}


@pytest.mark.parametrize(
    ("document", "loc", "words"),
    [
        (
            one_rule(then="flag", when={"title_matches": "(("}),
            ("rules", 1, "when", "title_matches"),
            "regular expression",
        ),
        (one_rule(then="decline_after"), ("rules", 1, "grace_hours"), "required"),
        (one_rule(then="flag", grace_hours=2), ("rules", 1, "grace_hours"), "only allowed"),
        (one_rule(then="decline_after", grace_hours=0), ("rules", 1, "grace_hours"), "greater"),
        (one_rule(then="decline_after", grace_hours=169), ("rules", 1, "grace_hours"), "168"),
        (one_rule(then="reject"), ("rules", 1, "then"), "decline"),
        (
            one_rule(then="flag", when={"organiser_in": ["a@b.example"]}),
            ("rules", 1, "when", "organiser_in"),
            "Extra inputs",
        ),
        (
            one_rule(then="flag", when={"organizer_in": ["bob"]}),
            ("rules", 1, "when", "organizer_in"),
            "neither an email nor an @domain",
        ),
        (
            one_rule(then="flag", when={"organizer_in": []}),
            ("rules", 1, "when", "organizer_in"),
            "at least one",
        ),
        (
            one_rule(then="flag", when={"attendees_at_least": 5, "attendees_at_most": 2}),
            ("rules", 1, "when", "attendees_at_most"),
            "attendees_at_least (5)",
        ),
        (
            one_rule(then="flag", when={"weekday": ["monday"]}),
            ("rules", 1, "when", "weekday", 0),
            "mon",
        ),
        (
            one_rule(then="flag", when={"response": ["declined"]}),
            ("rules", 1, "when", "response", 0),
            "needsAction",
        ),
        (one_rule(name="", then="flag"), ("rules", 1, "name"), "at least 1"),
        (one_rule(name="x" * 101, then="flag"), ("rules", 1, "name"), "at most 100"),
        (
            {"rules": [{"name": "Big", "then": "flag"}, {"name": "big ", "then": "decline"}]},
            ("rules",),
            "rules 0 and 1",
        ),
        ({"decline_message": "Try {alternative}"}, ("decline_message",), "{alternative}"),
        ({"decline_message": "Try {title!r}"}, ("decline_message",), "format spec"),
        ({"decline_message": "Try {0}"}, ("decline_message",), "unknown placeholder"),
        ({"decline_message": "Try {"}, ("decline_message",), "literal braces"),
        ({"default": "ignore"}, ("default",), "decline"),
        (
            {"guardrails": {"max_declines_per_week": -1}},
            ("guardrails", "max_declines_per_week"),
            "0",
        ),
        ({"guardrails": {"dryrun": True}}, ("guardrails", "dryrun"), "Extra inputs"),
        ({"default_grace_hours": 0}, ("default_grace_hours",), "greater"),
        ({"rule": []}, ("rule",), "Extra inputs"),
    ],
)
def test_validation_errors_name_the_field(
    document: dict[str, Any], loc: tuple[int | str, ...], words: str
) -> None:
    found = errors(document)
    assert any(where == loc and words in msg for where, msg in found), found


def test_every_error_is_reported_at_once() -> None:
    found = errors(
        {
            "rules": [
                {"name": "a", "then": "decline_after"},
                {"name": "b", "then": "flag", "when": {"title_matches": "["}},
            ],
            "decline_message": "{nope}",
        }
    )
    assert {where for where, _ in found} == {
        ("rules", 0, "grace_hours"),
        ("rules", 1, "when", "title_matches"),
        ("decline_message",),
    }


def test_valid_documents_round_trip() -> None:
    spec = PolicySpec.model_validate(
        {
            "default": "allow",
            "rules": [
                {
                    "name": "vp",
                    "when": {"organizer_in": [" VP@Corp.Example ", "@Partner.Example"]},
                    "then": "move_block",
                },
                {"name": "late", "when": {}, "then": "decline_after", "grace_hours": 0.5},
            ],
            "decline_message": "No {{thanks}} for {title} from {organizer}: {alternatives}",
        }
    )
    assert spec.rules[0].when.organizer_in == ["vp@corp.example", "@partner.example"]
    assert spec.rules[1].when == Match()
    assert PolicySpec.model_validate(spec.model_dump()) == spec
    assert PolicySpec.model_validate(spec.model_dump(exclude_none=True)) == spec
    assert placeholders(spec.decline_message) == ["title", "organizer", "alternatives"]


def test_defaults() -> None:
    spec = PolicySpec()
    assert spec.default == "flag"
    assert spec.rules == []
    assert spec.guardrails.max_declines_per_week == 5
    assert spec.guardrails.never_decline_accepted is True
    assert spec.guardrails.dry_run is False
    assert spec.default_grace_hours == 4
    assert "{alternatives}" in spec.decline_message


def test_models_are_frozen_and_presets_are_copied() -> None:
    with pytest.raises(ValidationError):
        PRESETS["balanced"].default = "decline"
    copy = preset("strict")
    assert copy == PRESETS["strict"]
    assert copy is not PRESETS["strict"]
    with pytest.raises(KeyError, match="known: balanced, gentle, strict"):
        preset("harsh")


def test_grace_for_uses_rule_then_default() -> None:
    spec = PolicySpec(default_grace_hours=6)
    rule = Rule(name="r", then="decline_after", grace_hours=1.5)
    assert spec.grace_for(rule) == 1.5
    assert spec.grace_for(None) == 6
    assert spec.grace_for(Rule(name="f", then="flag")) == 6


# ---- presets ---------------------------------------------------------------------------------


def make_invite(
    *, hours_ahead: float = 72, attendees: int = 3, organizer: str = "amy@corp.example", **kw: Any
) -> Invite:
    start = NOW + timedelta(hours=hours_ahead)
    fields: dict[str, Any] = {
        "title": "Sync",
        "start": start,
        "end": start + timedelta(hours=1),
        "organizer_email": organizer,
        "self_is_organizer": False,
        "self_response": "needsAction",
        "attendee_count": attendees,
        "recurring": False,
        "calendar": "Work",
        "calendar_id": "work-id",
    }
    fields.update(kw)
    return Invite(**fields)


def make_ctx(invite: Invite, declines: int = 0) -> Context:
    return Context(
        now=NOW,
        zone=ZONE,
        user_domains=frozenset({"corp.example"}),
        block=Interval(invite.start, invite.end),
        declines_this_week=declines,
    )


def run(name: str, invite: Invite) -> tuple[str, str | None]:
    decision = decide(invite, PRESETS[name], make_ctx(invite))
    return decision.action, decision.rule


def test_presets_exist_and_balanced_is_default() -> None:
    assert set(PRESETS) == {"gentle", "balanced", "strict"}
    assert DEFAULT_PRESET == "balanced"
    for spec in PRESETS.values():
        assert PolicySpec.model_validate(spec.model_dump()) == spec


def test_gentle_has_no_declining_rule() -> None:
    spec = PRESETS["gentle"]
    assert spec.default == "flag"
    assert all(rule.then not in {"decline", "decline_after"} for rule in spec.rules)


@pytest.mark.parametrize(
    ("name", "invite", "expected"),
    [
        ("gentle", make_invite(attendees=40), ("flag", None)),
        ("balanced", make_invite(hours_ahead=5, attendees=40), ("flag", "short notice")),
        ("balanced", make_invite(attendees=12), ("decline_after", "large meetings")),
        (
            "balanced",
            make_invite(attendees=12, organizer="cto@customer.example"),
            ("flag", "external organizer"),
        ),
        ("balanced", make_invite(attendees=3), ("flag", None)),
        ("strict", make_invite(hours_ahead=23), ("flag", "short notice")),
        ("strict", make_invite(recurring=True), ("decline_after", "recurring series")),
        ("strict", make_invite(), ("decline", None)),
    ],
)
def test_presets_behave(name: str, invite: Invite, expected: tuple[str, str | None]) -> None:
    assert run(name, invite) == expected


def test_balanced_grace_is_four_hours_and_strict_two() -> None:
    invite = make_invite(attendees=9)
    decision = decide(invite, PRESETS["balanced"], make_ctx(invite))
    assert decision.due_at == NOW + timedelta(hours=4)
    invite = make_invite(recurring=True)
    decision = decide(invite, PRESETS["strict"], make_ctx(invite))
    assert decision.due_at == NOW + timedelta(hours=2)


@settings(max_examples=150, deadline=None)
@given(
    name=st.sampled_from(sorted(PRESETS)),
    minutes_ahead=st.integers(-120, 24 * 60),
    attendees=st.integers(0, 50),
    recurring=st.booleans(),
    organizer=st.sampled_from(["a@corp.example", "b@other.example", "c@CORP.EXAMPLE"]),
    response=st.sampled_from(["needsAction", "tentative", None]),
)
def test_no_preset_declines_short_notice(
    name: str,
    minutes_ahead: int,
    attendees: int,
    recurring: bool,
    organizer: str,
    response: str | None,
) -> None:
    invite = make_invite(
        hours_ahead=minutes_ahead / 60,
        attendees=attendees,
        recurring=recurring,
        organizer=organizer,
        self_response=response,
    )
    action, _ = run(name, invite)
    assert action not in {"decline", "decline_after"}

"""The decision function: matchers, explanations, and invariants that hold whatever the rules."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any, Literal
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from app.domain.decide import (
    DRY_RUN_NOTE,
    Context,
    Invite,
    Verdict,
    decide,
    fallback_flag,
    matches,
    overlap_minutes,
    render_decline_message,
)
from app.domain.intervals import Interval
from app.domain.policy import Guardrails, Match, PolicySpec, Rule
from app.domain.time import WEEKDAYS

NOW = datetime(2027, 1, 18, 8, 0, tzinfo=UTC)  # Monday 09:00 in Berlin
BERLIN = ZoneInfo("Europe/Berlin")
START = NOW + timedelta(days=1, hours=5)  # Tuesday 14:00 Berlin
BLOCK = Interval(START - timedelta(minutes=30), START + timedelta(minutes=90))
DECLINING = {"decline", "decline_after"}


def invite(**kw: Any) -> Invite:
    fields: dict[str, Any] = {
        "title": "Q3 sync",
        "start": START,
        "end": START + timedelta(hours=1),
        "organizer_email": "Amy@Corp.Example",
        "self_is_organizer": False,
        "self_response": "needsAction",
        "attendee_count": 12,
        "recurring": True,
        "calendar": "Work",
        "calendar_id": "cal-123",
    }
    fields.update(kw)
    if "start" in kw and "end" not in kw:
        fields["end"] = kw["start"] + timedelta(hours=1)
    return Invite(**fields)


def ctx(**kw: Any) -> Context:
    fields: dict[str, Any] = {
        "now": NOW,
        "zone": BERLIN,
        "user_domains": frozenset({"corp.example", "corp-labs.example"}),
        "block": BLOCK,
        "declines_this_week": 0,
    }
    fields.update(kw)
    return Context(**fields)


def policy(*rules: dict[str, Any], default: str = "flag", **kw: Any) -> PolicySpec:
    return PolicySpec.model_validate({"default": default, "rules": list(rules), **kw})


def fires(when: dict[str, Any], inv: Invite | None = None, context: Context | None = None) -> bool:
    return matches(Match.model_validate(when), inv or invite(), context or ctx())


# ---- matchers --------------------------------------------------------------------------------

LATE_MONDAY_UTC = datetime(2027, 1, 18, 20, 0, tzinfo=UTC)  # Tue 01:30 in Kolkata


@pytest.mark.parametrize(
    ("when", "inv", "context", "expected"),
    [
        ({}, None, None, True),
        ({"organizer_in": ["amy@corp.example"]}, None, None, True),
        ({"organizer_in": ["AMY@CORP.EXAMPLE"]}, None, None, True),
        ({"organizer_in": ["bob@corp.example"]}, None, None, False),
        ({"organizer_in": ["@corp.example"]}, None, None, True),
        ({"organizer_in": ["@CORP.example"]}, None, None, True),
        ({"organizer_in": ["@other.example"]}, None, None, False),
        ({"organizer_in": ["@example"]}, None, None, False),  # a domain, not a suffix
        ({"organizer_in": ["@example"]}, invite(organizer_email="a@example"), None, True),
        ({"organizer_in": ["@corp.example"]}, invite(organizer_email=None), None, False),
        ({"external": False}, None, None, True),
        ({"external": True}, None, None, False),
        ({"external": True}, invite(organizer_email="x@Other.example"), None, True),
        ({"external": True}, invite(organizer_email="x@corp-labs.example"), None, False),
        ({"external": True}, invite(organizer_email="x@sub.corp.example"), None, True),
        ({"external": True}, invite(organizer_email=None), None, False),
        ({"external": False}, invite(organizer_email=None), None, False),
        ({"attendees_at_least": 12}, None, None, True),
        ({"attendees_at_least": 13}, None, None, False),
        ({"attendees_at_most": 12}, None, None, True),
        ({"attendees_at_most": 11}, None, None, False),
        ({"attendees_at_least": 2, "attendees_at_most": 4}, invite(attendee_count=3), None, True),
        ({"title_matches": "q3"}, None, None, True),
        ({"title_matches": "^SYNC"}, None, None, False),
        ({"title_matches": r"sync$"}, None, None, True),
        ({"title_matches": "hiring|interview"}, invite(title="Interview loop"), None, True),
        ({"starts_within_hours": 29}, None, None, True),
        ({"starts_within_hours": 28.9}, None, None, False),
        ({"starts_within_hours": 1}, invite(start=NOW - timedelta(minutes=5)), None, True),
        ({"overlap_minutes_at_least": 60}, None, None, True),
        ({"overlap_minutes_at_least": 61}, None, None, False),
        (
            {"overlap_minutes_at_least": 15},
            invite(start=BLOCK.end - timedelta(minutes=10)),
            None,
            False,
        ),
        ({"recurring": True}, None, None, True),
        ({"recurring": False}, None, None, False),
        ({"response": ["needsAction", "tentative"]}, None, None, True),
        ({"response": ["accepted"]}, None, None, False),
        ({"response": ["accepted"]}, invite(self_response=None), None, False),
        ({"calendar": ["work"]}, None, None, True),
        ({"calendar": ["cal-123"]}, None, None, True),
        ({"calendar": ["Personal"]}, None, None, False),
        ({"weekday": ["tue"]}, None, None, True),
        ({"weekday": ["mon", "wed"]}, None, None, False),
        (
            {"weekday": ["tue"]},
            invite(start=LATE_MONDAY_UTC),
            ctx(zone=ZoneInfo("Asia/Kolkata")),
            True,
        ),
        ({"weekday": ["tue"]}, invite(start=LATE_MONDAY_UTC), ctx(zone=ZoneInfo("UTC")), False),
        ({"weekday": ["mon"]}, invite(start=LATE_MONDAY_UTC), ctx(zone=ZoneInfo("UTC")), True),
        ({"attendees_at_least": 2, "recurring": False}, None, None, False),
        ({"attendees_at_least": 2, "recurring": True, "external": False}, None, None, True),
    ],
)
def test_matchers(
    when: dict[str, Any], inv: Invite | None, context: Context | None, expected: bool
) -> None:
    assert fires(when, inv, context) is expected


def test_overlap_minutes() -> None:
    assert overlap_minutes(invite(), BLOCK) == 60
    assert overlap_minutes(invite(start=BLOCK.end), BLOCK) == 0


def test_first_match_wins_and_default_applies() -> None:
    spec = policy(
        {"name": "big", "when": {"attendees_at_least": 8}, "then": "decline"},
        {"name": "all", "then": "allow"},
    )
    assert decide(invite(), spec, ctx()).rule == "big"
    assert decide(invite(attendee_count=3), spec, ctx()).rule == "all"
    fallback = decide(invite(attendee_count=3), policy(default="move_block"), ctx())
    assert (fallback.action, fallback.rule) == ("move_block", None)


# ---- explanations ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("rule", "inv", "expected"),
    [
        (
            {"name": "big meetings", "when": {"attendees_at_least": 8}, "then": "decline"},
            invite(),
            "Declined: 'Q3 sync' has 12 attendees (rule 'big meetings').",
        ),
        (
            {"name": "short notice", "when": {"starts_within_hours": 24}, "then": "flag"},
            invite(title="Hiring sync", start=NOW + timedelta(hours=5)),
            "Flagged: 'Hiring sync' starts in 5 hours (rule 'short notice').",
        ),
        (
            {
                "name": "large meetings",
                "when": {"attendees_at_least": 8},
                "then": "decline_after",
                "grace_hours": 4,
            },
            invite(title="X"),
            "Will decline 'X' in 4 hours unless you keep it: it has 12 attendees "
            "(rule 'large meetings').",
        ),
        (
            {"name": "vp", "when": {"organizer_in": ["@corp.example"]}, "then": "move_block"},
            invite(),
            "Moving your growth block: 'Q3 sync' is organized by Amy@Corp.Example (rule 'vp').",
        ),
        (
            {"name": "ext", "when": {"external": True}, "then": "flag"},
            invite(organizer_email="x@other.example"),
            "Flagged: 'Q3 sync' is organized by x@other.example, outside your domains "
            "(rule 'ext').",
        ),
        (
            {"name": "1:1", "when": {"attendees_at_most": 2}, "then": "allow"},
            invite(attendee_count=1),
            "Allowed: 'Q3 sync' has 1 attendee (rule '1:1').",
        ),
        (
            {"name": "long", "when": {"overlap_minutes_at_least": 30}, "then": "flag"},
            invite(),
            "Flagged: 'Q3 sync' overlaps your growth block by 60 minutes (rule 'long').",
        ),
        (
            {"name": "tue", "when": {"weekday": ["tue"]}, "then": "flag"},
            invite(),
            "Flagged: 'Q3 sync' is on a Tuesday (rule 'tue').",
        ),
        (
            {"name": "soon", "when": {"starts_within_hours": 1}, "then": "flag"},
            invite(start=NOW + timedelta(minutes=40)),
            "Flagged: 'Q3 sync' starts in 40 minutes (rule 'soon').",
        ),
    ],
)
def test_explanations_name_rule_and_fact(rule: dict[str, Any], inv: Invite, expected: str) -> None:
    assert decide(inv, policy(rule), ctx()).explanation == expected


@pytest.mark.parametrize(
    ("when", "fact"),
    [
        ({"title_matches": "sync"}, "title that matches"),
        ({"recurring": True}, "is a recurring meeting"),
        ({"response": ["needsAction"]}, "still awaits your answer"),
        ({"calendar": ["work"]}, "calendar 'Work'"),
    ],
)
def test_other_facts(when: dict[str, Any], fact: str) -> None:
    text = decide(invite(), policy({"name": "r", "when": when, "then": "flag"}), ctx()).explanation
    assert fact in text
    assert "(rule 'r')" in text


def test_default_explanation_says_no_rule_matched() -> None:
    text = decide(invite(), policy(default="flag"), ctx()).explanation
    assert text == (
        "Flagged: 'Q3 sync' overlaps your growth block by 60 minutes "
        "(no rule matched; the default is flag)."
    )


def test_long_and_empty_titles_are_shortened() -> None:
    assert "'(no title)'" in decide(invite(title="  "), policy(), ctx()).explanation
    text = decide(invite(title="a" * 300), policy(), ctx()).explanation
    assert "a" * 77 + "..." in text
    assert "a" * 78 not in text


# ---- invariants, by example ------------------------------------------------------------------

DECLINE_ALL = policy({"name": "no", "then": "decline"})


def test_decline_writes_and_has_no_due_time() -> None:
    decision = decide(invite(), DECLINE_ALL, ctx())
    assert decision == Verdict("decline", "no", decision.explanation, True, None)


def test_decline_after_due_at_uses_rule_or_default_grace() -> None:
    spec = policy({"name": "later", "then": "decline_after", "grace_hours": 1.5})
    assert decide(invite(), spec, ctx()).due_at == NOW + timedelta(hours=1.5)
    spec = policy(default="decline_after", default_grace_hours=6)
    decision = decide(invite(), spec, ctx())
    assert decision.due_at == NOW + timedelta(hours=6)
    assert "in 6 hours" in decision.explanation
    assert decision.writes


def test_keep_wins_over_everything() -> None:
    decision = decide(invite(), DECLINE_ALL, ctx(person_choice="keep"))
    assert decision == Verdict("allow", None, "You chose to keep 'Q3 sync'.", False)


def test_person_decline_declines_even_past_the_cap() -> None:
    decision = decide(
        invite(), policy(default="allow"), ctx(person_choice="decline", declines_this_week=99)
    )
    assert (decision.action, decision.rule, decision.writes) == ("decline", None, True)
    assert decision.explanation == "Declined: you chose to decline 'Q3 sync'."


def test_person_decline_still_respects_organizer_and_accepted() -> None:
    for inv in (invite(self_is_organizer=True), invite(self_response="accepted")):
        decision = decide(inv, policy(), ctx(person_choice="decline"))
        assert decision.action == "flag"
        assert "you chose to decline it" in decision.explanation


def test_own_event_is_never_declined() -> None:
    decision = decide(invite(self_is_organizer=True), DECLINE_ALL, ctx())
    assert decision.action == "flag"
    assert decision.rule == "no"
    assert decision.explanation == (
        "Flagged: you organize 'Q3 sync', so it is never declined (rule 'no' would decline it)."
    )
    moved = decide(invite(self_is_organizer=True), policy(default="move_block"), ctx())
    assert moved.action == "move_block"


def test_already_declined_needs_nothing() -> None:
    for spec in (DECLINE_ALL, policy(default="move_block"), policy(default="flag")):
        decision = decide(invite(self_response="declined"), spec, ctx())
        assert (decision.action, decision.writes) == ("allow", False)
        assert "already declined" in decision.explanation


def test_accepted_is_flagged_unless_the_guardrail_is_off() -> None:
    decision = decide(invite(self_response="accepted"), DECLINE_ALL, ctx())
    assert decision.action == "flag"
    assert "you already accepted 'Q3 sync'" in decision.explanation
    off = DECLINE_ALL.model_copy(update={"guardrails": Guardrails(never_decline_accepted=False)})
    assert decide(invite(self_response="accepted"), off, ctx()).action == "decline"


def test_weekly_cap_flags_instead() -> None:
    spec = policy(
        {"name": "big", "when": {"attendees_at_least": 8}, "then": "decline"},
        guardrails={"max_declines_per_week": 3},
    )
    assert decide(invite(), spec, ctx(declines_this_week=2)).action == "decline"
    decision = decide(invite(), spec, ctx(declines_this_week=3))
    assert decision.action == "flag"
    assert decision.explanation == (
        "Flagged: 'Q3 sync' has 12 attendees, but the weekly decline limit of 3 is reached "
        "(rule 'big')."
    )
    zero = policy(default="decline_after", guardrails={"max_declines_per_week": 0})
    assert decide(invite(), zero, ctx()).action == "flag"


def test_dry_run_keeps_the_action_but_writes_nothing() -> None:
    spec = policy(
        {
            "name": "big",
            "when": {"attendees_at_least": 8},
            "then": "decline_after",
            "grace_hours": 2,
        },
        guardrails={"dry_run": True},
    )
    decision = decide(invite(), spec, ctx())
    assert decision.action == "decline_after"
    assert decision.due_at == NOW + timedelta(hours=2)
    assert (decision.writes, decision.dry_run) == (False, True)
    assert decision.explanation.endswith(f"(rule 'big'). {DRY_RUN_NOTE}")


def test_fallback_flag() -> None:
    moved = decide(invite(), policy({"name": "vp", "then": "move_block"}), ctx())
    flagged = fallback_flag(moved, "no free slot this week.")
    assert flagged == Verdict(
        "flag",
        "vp",
        "Flagged instead of move block: no free slot this week (rule 'vp').",
        False,
    )
    dry = decide(invite(), policy(default="move_block", guardrails={"dry_run": True}), ctx())
    assert fallback_flag(dry, "").explanation == (
        f"Flagged instead of move block: it could not be carried out. {DRY_RUN_NOTE}"
    )


# ---- decline message -------------------------------------------------------------------------


def test_render_decline_message() -> None:
    spec = policy(decline_message="Sorry {organizer}, {title} clashes. Maybe: {alternatives}")
    slots = [
        Interval(datetime(2027, 1, 19, 13, tzinfo=UTC), datetime(2027, 1, 19, 14, tzinfo=UTC)),
        Interval(datetime(2027, 1, 20, 9, tzinfo=UTC), datetime(2027, 1, 20, 10, tzinfo=UTC)),
    ]
    text = render_decline_message(spec, invite(), slots, BERLIN)
    assert text == (
        "Sorry Amy@Corp.Example, Q3 sync clashes. Maybe: "
        "Tue 19 Jan 14:00\u201315:00, Wed 20 Jan 10:00\u201311:00 (Europe/Berlin)"
    )


def test_render_default_message_without_alternatives_or_organizer() -> None:
    inv = invite(organizer_email=None, title="{alternatives}")
    text = render_decline_message(PolicySpec(), inv, [], BERLIN)
    assert text.endswith("Could one of these work instead? no other times this week")
    spec = policy(decline_message="{{literal}} {organizer}: {title}")
    assert (
        render_decline_message(spec, inv, [], BERLIN) == "{literal} the organizer: {alternatives}"
    )


def test_render_slot_crossing_midnight() -> None:
    slot = Interval(
        datetime(2027, 1, 19, 22, 30, tzinfo=UTC), datetime(2027, 1, 19, 23, 30, tzinfo=UTC)
    )
    text = render_decline_message(
        policy(decline_message="{alternatives}"), invite(), [slot], BERLIN
    )
    assert text == "Tue 19 Jan 23:30\u2013Wed 20 Jan 00:30 (Europe/Berlin)"


def test_invite_and_context_reject_naive_times() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        invite(start=datetime(2027, 1, 19, 9))  # noqa: DTZ001
    with pytest.raises(ValueError, match="before"):
        invite(end=START - timedelta(minutes=1))
    with pytest.raises(ValueError, match="timezone-aware"):
        ctx(now=datetime(2027, 1, 19, 9))  # noqa: DTZ001


# ---- invariants, by property -----------------------------------------------------------------

ACTIONS = ["decline", "decline_after", "move_block", "flag", "allow"]
EMAILS = ["amy@corp.example", "BOB@Corp.Example", "eve@other.example", "x@sub.corp.example"]


@st.composite
def matchers(draw: st.DrawFn) -> dict[str, Any]:
    options: dict[str, st.SearchStrategy[Any]] = {
        "organizer_in": st.lists(
            st.sampled_from([*EMAILS, "@corp.example", "@OTHER.example"]), min_size=1, max_size=2
        ),
        "external": st.booleans(),
        "attendees_at_least": st.integers(0, 20),
        "attendees_at_most": st.integers(20, 40),
        "title_matches": st.sampled_from(["sync", "^1:1", "HIRING|review", "."]),
        "starts_within_hours": st.floats(0.5, 96),
        "overlap_minutes_at_least": st.integers(1, 120),
        "recurring": st.booleans(),
        "response": st.lists(st.sampled_from(["needsAction", "tentative", "accepted"]), min_size=1),
        "calendar": st.lists(st.sampled_from(["Work", "home", "cal-1"]), min_size=1, max_size=2),
        "weekday": st.lists(st.sampled_from(WEEKDAYS), min_size=1, max_size=3),
    }
    chosen = draw(st.lists(st.sampled_from(sorted(options)), max_size=3, unique=True))
    return {name: draw(options[name]) for name in chosen}


@st.composite
def policies(draw: st.DrawFn) -> PolicySpec:
    rules = []
    for index in range(draw(st.integers(0, 4))):
        then = draw(st.sampled_from(ACTIONS))
        rule: dict[str, Any] = {"name": f"rule {index}", "when": draw(matchers()), "then": then}
        if then == "decline_after":
            rule["grace_hours"] = draw(st.sampled_from([0.25, 1, 4, 168]))
        rules.append(rule)
    return policy(
        *rules,
        default=draw(st.sampled_from(ACTIONS)),
        guardrails={
            "max_declines_per_week": draw(st.integers(0, 6)),
            "never_decline_accepted": draw(st.booleans()),
            "dry_run": draw(st.booleans()),
        },
    )


@st.composite
def invites(draw: st.DrawFn) -> Invite:
    start = NOW + timedelta(minutes=draw(st.integers(-600, 14 * 24 * 60)))
    return invite(
        title=draw(st.sampled_from(["Sync", "1:1 Amy", "Hiring review", "", "Q3 {title}"])),
        start=start,
        end=start + timedelta(minutes=draw(st.integers(0, 240))),
        organizer_email=draw(st.sampled_from([*EMAILS, None, "no-at-sign"])),
        self_is_organizer=draw(st.booleans()),
        self_response=draw(
            st.sampled_from(["needsAction", "tentative", "accepted", "declined", None])
        ),
        attendee_count=draw(st.integers(0, 30)),
        recurring=draw(st.booleans()),
        calendar=draw(st.sampled_from(["Work", "Home"])),
        calendar_id=draw(st.sampled_from(["cal-1", "cal-2"])),
    )


@st.composite
def contexts(draw: st.DrawFn, inv: Invite) -> Context:
    choice: Literal["keep", "decline"] | None = draw(
        st.sampled_from([None, None, "keep", "decline"])
    )
    return ctx(
        zone=ZoneInfo(draw(st.sampled_from(["UTC", "Asia/Kolkata", "America/New_York"]))),
        block=Interval(inv.start - timedelta(minutes=draw(st.integers(0, 90))), inv.end),
        declines_this_week=draw(st.integers(0, 8)),
        person_choice=choice,
    )


@settings(max_examples=400, deadline=None)
@given(data=st.data(), spec=policies(), inv=invites())
def test_invariants_hold_for_any_policy(data: st.DataObject, spec: PolicySpec, inv: Invite) -> None:
    context = data.draw(contexts(inv))
    decision = decide(inv, spec, context)
    guard = spec.guardrails
    declining = decision.action in DECLINING
    if inv.self_is_organizer:
        assert not declining
    if inv.self_response == "declined":
        assert decision.action == "allow"
    if inv.self_response == "accepted" and guard.never_decline_accepted:
        assert not declining
    if context.declines_this_week >= guard.max_declines_per_week and context.person_choice is None:
        assert not declining
    if context.person_choice == "keep":
        assert decision.action == "allow"
    if guard.dry_run:
        assert decision.writes is False
        assert decision.explanation.endswith(DRY_RUN_NOTE)
    assert decision.writes == (decision.action in {*DECLINING, "move_block"} and not guard.dry_run)
    assert (decision.due_at is not None) == (decision.action == "decline_after")
    assert decision.explanation.strip()
    if decision.rule is not None:
        assert f"'{decision.rule}'" in decision.explanation
    assert decide(inv, spec, context) == decision
    flagged = fallback_flag(decision, "no slot")
    assert (flagged.action, flagged.writes, flagged.due_at) == ("flag", False, None)


@settings(max_examples=150, deadline=None)
@given(data=st.data(), spec=policies(), inv=invites())
def test_decisions_only_weaken_what_the_rules_propose(
    data: st.DataObject, spec: PolicySpec, inv: Invite
) -> None:
    context = replace(data.draw(contexts(inv)), person_choice=None)
    decision = decide(inv, spec, context)
    # the guardrails may turn a decline into a flag or allow, never invent a decline
    proposed = next((r.then for r in spec.rules if matches(r.when, inv, context)), spec.default)
    if decision.action in DECLINING:
        assert decision.action == proposed
    rule = next((r for r in spec.rules if matches(r.when, inv, context)), None)
    assert isinstance(rule, Rule | None)
    if inv.self_response != "declined":
        assert decision.rule == (rule.name if rule else None)

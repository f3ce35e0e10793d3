"""Defense levels in the domain: thresholds (elapsed hours, DST-proof), the squeeze, and what
a block's level does to a decision (flexible only flags, locked declines flags, pinned stays)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from app.domain import defense
from app.domain.decide import Context, Invite, decide
from app.domain.intervals import Interval
from app.domain.plan import DEFAULT_WORKING_HOURS, PlanSpec
from app.domain.policy import Guardrails, Match, PolicySpec, Rule
from app.domain.time import IsoWeek

BERLIN = ZoneInfo("Europe/Berlin")
LORD_HOWE = ZoneInfo("Australia/Lord_Howe")


def plan(**kw: Any) -> PlanSpec:
    return PlanSpec.model_validate({"goal": "Lead", "defense": "flexible", **kw})


def block(start: datetime, *, hours: float = 2, level: str = "flexible", busy: bool = False):
    end = start + timedelta(hours=hours)
    return defense.BlockDefense(f"k{start:%d%H%M}", start, end, level, busy)


def test_firm_is_the_default_and_always_busy():
    spec = PlanSpec(goal="Lead")
    assert spec.defense == "firm"
    far = datetime(2031, 1, 1, tzinfo=UTC)
    assert defense.busy_at_booking(spec, far + timedelta(days=30), far) is True


def test_unknown_levels_and_hours_are_refused_naming_the_field():
    with pytest.raises(ValueError, match="defense"):
        PlanSpec.model_validate({"goal": "Lead", "defense": "soft"})
    with pytest.raises(ValueError, match="flexible_hours_before"):
        PlanSpec.model_validate({"goal": "Lead", "flexible_hours_before": 0})


@pytest.mark.parametrize(
    ("zone", "local_start"),
    [
        # Berlin: summer time ends Sun 26 Oct 2031; Lord Howe's half hour starts Sun 5 Oct 2031
        (BERLIN, datetime(2031, 10, 27, 9, 0, tzinfo=BERLIN)),
        (LORD_HOWE, datetime(2031, 10, 6, 9, 0, tzinfo=LORD_HOWE)),
    ],
)
def test_the_threshold_is_elapsed_hours_across_a_dst_change(zone, local_start):
    spec = plan(flexible_hours_before=48)
    start = local_start
    when = defense.threshold(spec, start)
    assert start.astimezone(UTC) - when == timedelta(hours=48)
    # not the same wall clock two days earlier: the offset changed in between
    assert when.astimezone(zone).time() != start.astimezone(zone).time()
    assert defense.busy_at_booking(spec, start, when - timedelta(seconds=1)) is False
    assert defense.busy_at_booking(spec, start, when) is True


def test_blocks_to_harden_by_time_only_free_flexible_unended():
    spec = plan(flexible_hours_before=24)
    now = datetime(2031, 3, 3, 9, 0, tzinfo=UTC)
    soon = block(now + timedelta(hours=23))
    later = block(now + timedelta(hours=30))
    firm = block(now + timedelta(hours=1), level="firm", busy=True)
    done = block(now - timedelta(hours=3))
    already = block(now + timedelta(hours=2), busy=True)
    keys = defense.blocks_to_harden(spec, [soon, later, firm, done, already], now)
    assert keys == [soon.key]


def test_the_squeeze_turns_every_free_block_busy_when_free_time_falls_to_the_need():
    spec = plan(flexible_hours_before=24)
    now = datetime(2031, 3, 3, 9, 0, tzinfo=UTC)
    a, b = block(now + timedelta(days=2)), block(now + timedelta(days=3))
    assert defense.blocks_to_harden(spec, [a, b], now, free_minutes=241) == []
    assert defense.blocks_to_harden(spec, [a, b], now, free_minutes=240) == sorted([a.key, b.key])


def test_free_minutes_left_counts_windows_after_now_minus_busy_in_the_zone():
    spec = plan(days=["mon", "tue"], windows=["09:00-12:00"])
    week = IsoWeek(2031, 44)  # Mon 27 Oct 2031, the day after Berlin's change
    now = datetime(2031, 10, 27, 10, 0, tzinfo=BERLIN)  # an hour into Monday's window
    meeting = Interval(
        datetime(2031, 10, 28, 9, 0, tzinfo=BERLIN), datetime(2031, 10, 28, 10, 0, tzinfo=BERLIN)
    )
    left = defense.free_minutes_left(spec, week, BERLIN, DEFAULT_WORKING_HOURS, [meeting], now)
    assert left == 120 + 120


def test_conflict_level_of_a_flexible_block_turned_busy_is_firm():
    assert defense.conflict_level("flexible", False) == "flexible"
    assert defense.conflict_level("flexible", True) == "firm"
    assert defense.conflict_level("locked", True) == "locked"


# --- what a level does to a decision -----------------------------------------------------------

NOW = datetime(2027, 1, 18, 8, 0, tzinfo=UTC)
START = NOW + timedelta(days=1, hours=5)


def invite(**kw: Any) -> Invite:
    fields: dict[str, Any] = {
        "title": "Q3 sync",
        "start": START,
        "end": START + timedelta(hours=1),
        "organizer_email": "amy@corp.example",
        "self_is_organizer": False,
        "self_response": "needsAction",
        "attendee_count": 12,
        "recurring": False,
        "calendar": "Work",
        "calendar_id": "cal",
    }
    return Invite(**{**fields, **kw})


def ctx(**kw: Any) -> Context:
    fields: dict[str, Any] = {
        "now": NOW,
        "zone": BERLIN,
        "user_domains": frozenset({"corp.example"}),
        "block": Interval(START, START + timedelta(hours=2)),
        "declines_this_week": 0,
    }
    return Context(**{**fields, **kw})


def policy(default: str, *rules: Rule, **guard: Any) -> PolicySpec:
    return PolicySpec(rules=list(rules), default=default, guardrails=Guardrails(**guard))


@pytest.mark.parametrize("action", ["decline", "decline_after", "move_block"])
def test_a_free_flexible_block_is_never_defended_only_flagged(action):
    decision = decide(invite(), policy(action), ctx(block_level="flexible"))
    assert decision.action == "flag"
    assert decision.writes is False
    assert "flexible" in decision.explanation


def test_the_person_may_still_decline_over_a_flexible_block():
    decision = decide(
        invite(), policy("flag"), ctx(block_level="flexible", person_choice="decline")
    )
    assert decision.action == "decline"


def test_a_locked_block_declines_what_the_rules_would_flag():
    rule = Rule(name="big meetings", when=Match(attendees_at_least=5), then="flag")
    decision = decide(invite(), policy("allow", rule), ctx(block_level="locked"))
    assert decision.action == "decline"
    assert decision.rule == "big meetings"
    assert "locked" in decision.explanation
    assert decide(invite(), policy("flag"), ctx(block_level="locked")).action == "decline"
    # allow stays allow: a locked block declines flags, not what the person allowed
    assert decide(invite(), policy("allow"), ctx(block_level="locked")).action == "allow"


def test_a_locked_block_keeps_the_guardrails():
    accepted = decide(invite(self_response="accepted"), policy("flag"), ctx(block_level="locked"))
    assert accepted.action == "flag"
    capped = decide(
        invite(),
        policy("flag", max_declines_per_week=2),
        ctx(block_level="locked", declines_this_week=2),
    )
    assert capped.action == "flag"
    dry = decide(invite(), policy("flag", dry_run=True), ctx(block_level="locked"))
    assert dry.action == "decline" and dry.writes is False


def test_a_pinned_block_is_not_moved_by_the_policy():
    decision = decide(invite(), policy("move_block"), ctx(block_pinned=True))
    assert decision.action == "flag"
    assert "pinned" in decision.explanation
    assert decide(invite(), policy("move_block"), ctx()).action == "move_block"

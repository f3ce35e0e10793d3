"""Title patterns run on RE2: linear time, and refused with a reason when RE2 cannot run them."""

from __future__ import annotations

import time

import pytest
from pydantic import ValidationError

from app.domain.patterns import PatternError, compile_pattern, title_matches
from app.domain.policy import PolicySpec


def test_catastrophic_pattern_runs_in_linear_time() -> None:
    started = time.monotonic()
    assert not title_matches(r"^(\w+\s?)+$", "a" * 5000 + "!")
    # generous: a backtracking engine would not finish in the lifetime of the test run
    assert time.monotonic() - started < 1.0


def test_matching_is_case_insensitive_search() -> None:
    assert title_matches("all-hands", "Q3 ALL-HANDS meeting")
    assert not title_matches("^all-hands", "Q3 all-hands")


@pytest.mark.parametrize(
    ("pattern", "reason"),
    [(r"(a)\1", "escape"), (r"foo(?=bar)", "perl operator"), ("a{1001}", "repetition")],
)
def test_what_re2_cannot_run_is_refused_with_its_reason(pattern: str, reason: str) -> None:
    with pytest.raises(PatternError, match=reason):
        compile_pattern(pattern)
    with pytest.raises(ValidationError) as caught:
        PolicySpec.model_validate(
            {"rules": [{"name": "r", "when": {"title_matches": pattern}, "then": "flag"}]}
        )
    error = caught.value.errors()[0]
    assert error["loc"] == ("rules", 0, "when", "title_matches")
    assert "RE2" in error["msg"] and reason in error["msg"]

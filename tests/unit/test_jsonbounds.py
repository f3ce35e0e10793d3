"""Nesting depth of JSON from strangers: brackets inside strings don't count, and no shape of
text makes the count slow (strings are found in one linear scan)."""

from __future__ import annotations

import json

import pytest

from app.jsonbounds import JsonRejectedError, check_depth, loads, nesting_depth


@pytest.mark.parametrize(
    ("text", "depth"),
    [
        ("", 0),
        ("1", 0),
        ("[]", 1),
        ('{"a": [1, {"b": []}]}', 4),
        ('["[[[[", "{{{"]', 1),
        ('["a\\\\", "]"]', 1),  # an escaped backslash ends before the quote: "]" is a string
        ('["a\\"]"]', 1),  # an escaped quote does not end the string
        ('"never closed [[[[', 0),  # an unterminated string runs to the end
        ('["x\\', 1),
    ],
)
def test_depth_ignores_brackets_inside_strings(text: str, depth: int) -> None:
    assert nesting_depth(text) == depth


def test_depth_matches_the_parsed_structure() -> None:
    value = {"value": [{"resourceData": {"id": "ev[1]", "tags": [["{", "}"], []]}}]}
    assert nesting_depth(json.dumps(value)) == 6


def test_too_deep_or_not_utf8_is_refused_with_a_reason() -> None:
    with pytest.raises(JsonRejectedError, match="deeper than 3"):
        check_depth(b"[[[[1]]]]", max_depth=3)
    assert loads(b"[[[1]]]", max_depth=3) == [[[1]]]
    wide = "[" + "[{}]," * 40 + "[]]"  # many brackets, little depth
    assert check_depth(wide.encode(), max_depth=3) == wide
    assert check_depth(b'["[[[[[[[["]', max_depth=3) == '["[[[[[[[["]'
    with pytest.raises(JsonRejectedError, match="UTF-8"):
        check_depth(b"\xff\xfe")
    with pytest.raises(JsonRejectedError, match="not JSON"):
        loads(b'{"a": ')


def test_a_megabyte_of_escaped_quotes_is_counted_in_one_pass() -> None:
    # Quadratic before: every quote began a scan to the end (3.5 s for 32 KB, an hour for this).
    hostile = '"' + '\\"' * 500_000
    assert nesting_depth(hostile) == 0
    assert nesting_depth("[" + hostile + "\\") == 1

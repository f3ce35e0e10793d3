"""JSON from strangers, parsed with a nesting limit (a deep document is refused, not a 500)."""

from __future__ import annotations

import json
import re
from itertools import accumulate
from typing import Any

MAX_DEPTH = 32
# A string runs to its closing quote, or to the end of the text when it never closes: every
# quote a scan starts from is consumed with all that follows it, so the scan is linear. (Without
# the second ending, a body of escaped quotes made each quote start a scan to the end: 3.5 s of
# CPU for 32 KB, before any verification.) Each character has one way to match: no backtracking.
_STRING = re.compile(r'"(?:[^"\\]|\\.)*(?:"|\\?\Z)', re.DOTALL)
_NOT_BRACKET = re.compile(r"[^\[\]{}]+")


class JsonRejectedError(ValueError):
    """The body is not JSON, or nests deeper than allowed; the message is safe to answer."""


def nesting_depth(text: str) -> int:
    """The deepest nesting of objects and arrays, ignoring brackets inside strings."""
    brackets = _NOT_BRACKET.sub("", _STRING.sub("", text))
    moves = (1 if c in "[{" else -1 for c in brackets)
    return max(accumulate(moves, initial=0))


def check_depth(body: bytes, max_depth: int = MAX_DEPTH) -> str:
    """The body as text; JsonRejectedError when it is not UTF-8 or nests too deep."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise JsonRejectedError("body is not UTF-8") from None
    opening = text.count("[") + text.count("{")  # an upper bound, counted at C speed
    if opening > max_depth and nesting_depth(text) > max_depth:
        raise JsonRejectedError(f"body nests deeper than {max_depth} levels")
    return text


def loads(body: bytes, max_depth: int = MAX_DEPTH) -> Any:
    """Parse `body`; JsonRejectedError when it is not UTF-8 JSON or nests too deep."""
    text = check_depth(body, max_depth)
    try:
        return json.loads(text)
    except (ValueError, RecursionError):
        raise JsonRejectedError("body is not JSON") from None

"""User-written title patterns, run on RE2: linear time in the title, whatever the pattern.

Python's `re` backtracks, so a pattern like ``^(\\w+\\s?)+$`` against a title a stranger chose
can hold the GIL for minutes. RE2 has no backreferences or lookaround, so a pattern using them
is refused when the policy is saved, with RE2's own reason.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

import re2

# RE2 refuses (at compile time) patterns whose program would need more memory than this.
MAX_PROGRAM_BYTES = 1 << 20


class PatternError(ValueError):
    """The pattern cannot be compiled by RE2; the message says why."""


def _options() -> Any:
    options = re2.Options()
    options.case_sensitive = False
    options.log_errors = False  # RE2 would otherwise print every refused pattern to stderr
    options.max_mem = MAX_PROGRAM_BYTES
    return options


@lru_cache(maxsize=512)
def compile_pattern(pattern: str) -> Any:
    """The compiled, case-insensitive pattern; PatternError when RE2 cannot run it."""
    try:
        return re2.compile(pattern, _options())
    except re2.error as error:
        reason = error.args[0] if error.args else "unsupported syntax"
        if isinstance(reason, bytes):
            reason = reason.decode("utf-8", "replace")
        raise PatternError(
            f"{pattern!r} is not a regular expression GrowthGuard can run: {reason} "
            "(patterns run on RE2, which has no backreferences or lookaround)"
        ) from None


def title_matches(pattern: str, title: str) -> bool:
    """Whether `pattern` is found anywhere in `title` (case-insensitive, linear time)."""
    return compile_pattern(pattern).search(title) is not None

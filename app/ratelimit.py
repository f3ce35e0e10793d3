"""Rate limits for guessing and flooding: sign-in, sign-up and API tokens (the `limits` package).

Each kind has a per-address and a per-account rule made of several windows; once a short one
is spent, the longer ones make the wait grow (1 minute, then an hour, then a day): back-off
without bookkeeping of our own. Counters live in `GG_RATE_LIMIT_STORAGE`: memory:// for the
embedded mode (one process); a deployment with several processes must point all of them at one
shared store, e.g. redis://host:6379, or each process would allow the full rate.
"""

from __future__ import annotations

import math
import time

from limits import RateLimitItem, parse_many
from limits.storage import storage_from_string
from limits.strategies import MovingWindowRateLimiter

RULES: dict[str, str] = {
    # every sign-in attempt from one address; failed attempts against one account
    "signin.address": "30/minute;200/hour",
    "signin.account": "5/minute;20/hour;100/day",
    # sign-up requests from one address, and for one email address (each sends a mail)
    "signup.address": "5/minute;30/hour",
    "signup.email": "3/hour;10/day",
    # wrong API tokens from one address; requests with one person's valid tokens
    "token.address": "20/minute;200/hour",
    "token.account": "600/minute",
}


class RateLimited(Exception):
    """Too many attempts; `retry_after` is in whole seconds."""

    def __init__(self, retry_after: int) -> None:
        self.retry_after = max(1, retry_after)
        super().__init__(f"too many attempts; try again in {self.retry_after} s")


class Throttle:
    """Checks and counts attempts per (kind, key)."""

    def __init__(self, storage_uri: str = "memory://") -> None:
        self._limiter = MovingWindowRateLimiter(storage_from_string(storage_uri))
        self._rules: dict[str, list[RateLimitItem]] = {k: parse_many(v) for k, v in RULES.items()}

    def check(self, kind: str, key: str) -> None:
        """RateLimited when any window of the rule is spent (counts nothing)."""
        waits = [
            self._limiter.get_window_stats(item, kind, key).reset_time - time.time()
            for item in self._rules[kind]
            if not self._limiter.test(item, kind, key)
        ]
        if waits:
            raise RateLimited(math.ceil(max(waits)))

    def hit(self, kind: str, key: str) -> None:
        """Count one attempt in every window of the rule."""
        for item in self._rules[kind]:
            self._limiter.hit(item, kind, key)

    def take(self, kind: str, key: str) -> None:
        """Check, then count: for attempts that count whether or not they succeed."""
        self.check(kind, key)
        self.hit(kind, key)

    def clear(self, kind: str, key: str) -> None:
        for item in self._rules[kind]:
            self._limiter.clear(item, kind, key)

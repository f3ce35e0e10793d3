"""One Retry-After parser for every connector (connectors.errors.retry_after_seconds)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from connectors.errors import retry_after_seconds

NOW = datetime(2026, 3, 29, 1, 30, tzinfo=UTC)


@pytest.mark.parametrize(
    ("value", "seconds"),
    [
        ("120", 120.0),
        ("0", 0.0),
        ("1.5", 1.5),
        ("-5", 0.0),  # never a negative wait
        ("Sun, 29 Mar 2026 01:31:00 GMT", 60.0),  # the HTTP-date form, from `now`
        ("Sun, 29 Mar 2026 01:00:00 GMT", 0.0),  # a date in the past: now
        (None, None),
        ("", None),
        ("soon", None),
        ("Sun, 99 Foo 2026", None),
    ],
)
def test_retry_after_reads_seconds_and_dates(value: str | None, seconds: float | None) -> None:
    assert retry_after_seconds(value, NOW) == seconds

"""One Retry-After parser and one status mapping for every connector (connectors.errors)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from connectors.errors import (
    Collision,
    ConnectorError,
    CursorExpired,
    NotFound,
    PermissionDenied,
    RateLimited,
    ReauthRequired,
    TransientError,
    error_for_status,
    retry_after_seconds,
)

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


@pytest.mark.parametrize(
    ("status", "retry_after", "kind"),
    [
        (401, None, ReauthRequired),
        (403, None, PermissionDenied),
        (404, None, NotFound),
        (410, None, NotFound),
        (409, None, Collision),
        (429, None, RateLimited),
        (503, "9", RateLimited),
        (503, None, TransientError),
        (500, None, TransientError),
        (408, None, TransientError),
        (None, None, TransientError),  # no answer at all
        (400, None, ConnectorError),
        (418, None, ConnectorError),
    ],
)
def test_statuses_map_to_connector_errors(
    status: int | None, retry_after: str | None, kind: type[ConnectorError]
) -> None:
    error = error_for_status(status, "listing events failed", retry_after=retry_after)
    assert type(error) is kind and str(error) == "listing events failed"
    if isinstance(error, RateLimited):
        assert error.retry_after == (9.0 if retry_after else None)


def test_a_provider_says_what_its_own_statuses_mean() -> None:
    error = error_for_status(410, "delta", special={410: CursorExpired})
    assert type(error) is CursorExpired
    assert type(error_for_status(404, "x", special={410: CursorExpired})) is NotFound

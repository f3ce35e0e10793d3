"""The contract's value types and error tree."""

from __future__ import annotations

import pickle
from datetime import UTC, date, datetime, timedelta, timezone

import pytest

from connectors.base import BlockSpec, BlockTag, Capability, Event, Response, SelfResponse, Watch
from connectors.errors import (
    ConnectorError,
    NotAGrowthBlock,
    PermissionDenied,
    RateLimited,
    TransientError,
)

IST = timezone(timedelta(hours=5, minutes=30))


def event(**overrides: object) -> Event:
    fields: dict[str, object] = {
        "id": "e1",
        "calendar_id": "c",
        "title": "t",
        "start": datetime(2031, 3, 3, 9, tzinfo=IST),
        "end": datetime(2031, 3, 3, 10, tzinfo=IST),
    }
    fields.update(overrides)
    return Event(**fields)  # type: ignore[arg-type]


def test_event_normalises_to_utc() -> None:
    e = event(updated=datetime(2031, 3, 1, tzinfo=IST))
    assert e.start == datetime(2031, 3, 3, 3, 30, tzinfo=UTC)
    assert e.start.tzinfo is UTC
    assert e.end.tzinfo is UTC
    assert e.updated is not None
    assert e.updated.tzinfo is UTC
    assert not e.is_growth_block
    assert event(tag=BlockTag("p", "s")).is_growth_block


@pytest.mark.parametrize(
    "overrides",
    [
        {"start": datetime(2031, 3, 3, 9)},  # noqa: DTZ001 - naive on purpose
        {"end": datetime(2031, 3, 3, 8, tzinfo=IST)},
        {"all_day": True},  # not midnights
        {"updated": datetime(2031, 3, 3)},  # noqa: DTZ001
    ],
)
def test_event_rejects_bad_times(overrides: dict[str, object]) -> None:
    with pytest.raises(ValueError, match=r"aware|ends before|midnight"):
        event(**overrides)


def test_all_day_event_at_utc_midnights() -> None:
    e = event(
        all_day=True, start=datetime(2031, 3, 4, tzinfo=UTC), end=datetime(2031, 3, 5, tzinfo=UTC)
    )
    assert (e.start.date(), e.end.date()) == (date(2031, 3, 4), date(2031, 3, 5))


def test_block_spec_and_watch_validate_times() -> None:
    start = datetime(2031, 3, 3, 9, tzinfo=IST)
    assert BlockSpec(BlockTag("p", "s"), "g", start, start + timedelta(hours=2)).start.tzinfo is UTC
    with pytest.raises(ValueError, match="must end after"):
        BlockSpec(BlockTag("p", "s"), "g", start, start)
    with pytest.raises(ValueError, match="aware"):
        Watch("w", "c", None, datetime(2031, 1, 1), "s")  # noqa: DTZ001


def test_enums_carry_provider_values() -> None:
    assert SelfResponse(Response.DECLINE.value) is SelfResponse.DECLINED
    assert Response.TENTATIVE.value == "tentative"
    both = Capability.WRITE | Capability.RESPOND
    assert Capability.WRITE in both
    assert Capability.PUSH not in both


def test_error_tree() -> None:
    assert issubclass(RateLimited, TransientError)
    assert issubclass(NotAGrowthBlock, PermissionDenied)
    assert issubclass(PermissionDenied, ConnectorError)


def test_rate_limited_keeps_retry_after_through_pickle() -> None:
    err = RateLimited(12.5)
    assert "12.5" in str(err)
    copy = pickle.loads(pickle.dumps(err))
    assert isinstance(copy, RateLimited)
    assert (copy.retry_after, str(copy)) == (12.5, str(err))
    assert RateLimited().retry_after is None

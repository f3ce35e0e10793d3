"""The pure part of quiet during blocks: the status text, and what to put back at the end."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from app.domain.quiet import STATUS_EMOJI, STATUS_LIMIT, ChatStatus, status_for, to_restore
from app.domain.time import resolve_zone

END = datetime(2027, 3, 1, 10, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("zone", "text"),
    [
        ("Europe/Berlin", "Growth work until 11:00"),
        ("Asia/Kolkata", "Growth work until 15:30"),
        ("America/St_Johns", "Growth work until 06:30"),
        ("Australia/Lord_Howe", "Growth work until 21:00"),  # +11 in (southern) summer
    ],
)
def test_the_end_is_on_the_persons_wall_clock(zone: str, text: str) -> None:
    status = status_for(END, resolve_zone(zone))
    assert (status.text, status.emoji, status.expiration) == (
        text,
        STATUS_EMOJI,
        int(END.timestamp()),
    )


def test_lord_howe_half_hour_dst_shift() -> None:
    # Lord Howe leaves its +11 summer time on 2027-04-04 02:00 local, back to +10:30.
    after = datetime(2027, 4, 5, 0, 0, tzinfo=UTC)
    assert status_for(after, resolve_zone("Australia/Lord_Howe")).text.endswith("10:30")


def test_the_text_is_limited_and_naive_times_refused() -> None:
    assert len(status_for(END, resolve_zone("UTC"), label="x" * 300).text) == STATUS_LIMIT
    with pytest.raises(ValueError, match="aware"):
        status_for(END.replace(tzinfo=None), resolve_zone("UTC"))


OURS = status_for(END, resolve_zone("UTC"))
BEFORE = ChatStatus("In a meeting", ":calendar:", 0)


@pytest.mark.parametrize(
    ("current", "now", "previous", "expected"),
    [
        (OURS, END, BEFORE, BEFORE),  # still ours: put back
        (ChatStatus(), END + timedelta(hours=20), BEFORE, BEFORE),  # ours expired (missed end)
        (ChatStatus("Lunch", ":hamburger:"), END, BEFORE, None),  # theirs: left alone
        (ChatStatus(), END - timedelta(minutes=5), BEFORE, None),  # they cleared it mid-block
        (OURS, END, ChatStatus(), ChatStatus()),  # nothing before: ours is cleared
        (ChatStatus(), END, ChatStatus(), None),  # nothing to do
        # The status from before expired meanwhile: it does not come back.
        (OURS, END, ChatStatus("Away", ":palm_tree:", int(END.timestamp()) - 60), ChatStatus()),
    ],
)
def test_what_is_put_back(
    current: ChatStatus, now: datetime, previous: ChatStatus, expected: ChatStatus | None
) -> None:
    assert to_restore(current, OURS, previous, now) == expected

"""Milestones worked backward from the goal's date; the title naming the current one."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from app.domain.milestones import (
    MAX_MONTHS_BACK,
    GoalDateError,
    MilestoneView,
    block_description,
    block_title,
    current,
    months_before,
    propose,
    status,
)

DATES = st.dates(min_value=date(1990, 1, 1), max_value=date(2200, 12, 31))


def test_months_before_clamps_to_the_end_of_a_shorter_month() -> None:
    assert months_before(date(2027, 3, 31), 1) == date(2027, 2, 28)
    assert months_before(date(2028, 3, 31), 1) == date(2028, 2, 29)  # leap year
    assert months_before(date(2027, 5, 31), 1) == date(2027, 4, 30)
    assert months_before(date(2027, 1, 15), 1) == date(2026, 12, 15)  # across the year end
    assert months_before(date(2028, 2, 29), 12) == date(2027, 2, 28)


def test_a_goal_half_a_year_away_gets_monthly_checkpoints_and_two_weeks_before() -> None:
    proposals = propose(date(2027, 6, 30), today=date(2026, 12, 20))
    assert [(p.due, p.title) for p in proposals] == [
        (date(2026, 12, 30), "Checkpoint: 6 months to go"),
        (date(2027, 1, 30), "Checkpoint: 5 months to go"),
        (date(2027, 2, 28), "Checkpoint: 4 months to go"),  # Feb 30 does not exist
        (date(2027, 3, 30), "Checkpoint: 3 months to go"),
        (date(2027, 4, 30), "Checkpoint: 2 months to go"),
        (date(2027, 5, 30), "Checkpoint: 1 month to go"),
        (date(2027, 6, 16), "Checkpoint: 2 weeks to go"),
    ]


def test_a_leap_day_goal() -> None:
    proposals = propose(date(2028, 2, 29), today=date(2027, 11, 1))
    assert [p.due for p in proposals] == [
        date(2027, 11, 29),
        date(2027, 12, 29),
        date(2028, 1, 29),
        date(2028, 2, 15),
    ]


def test_month_end_goal_reaches_back_across_february_of_a_leap_year() -> None:
    dues = [p.due for p in propose(date(2028, 3, 31), today=date(2028, 1, 10))]
    assert dues == [date(2028, 1, 31), date(2028, 2, 29), date(2028, 3, 17)]


def test_a_goal_less_than_a_month_away_gets_two_weeks_before_or_halfway() -> None:
    assert [p.due for p in propose(date(2027, 1, 25), today=date(2027, 1, 1))] == [
        date(2027, 1, 11)
    ]
    ten_days = propose(date(2027, 1, 11), today=date(2027, 1, 1))
    assert [(p.due, p.title) for p in ten_days] == [(date(2027, 1, 6), "Checkpoint: halfway")]
    assert propose(date(2027, 1, 2), today=date(2027, 1, 1)) == []


@pytest.mark.parametrize("goal_by", [date(2026, 12, 31), date(2027, 1, 1)])
def test_a_date_not_in_the_future_is_refused_with_a_message(goal_by: date) -> None:
    with pytest.raises(GoalDateError) as raised:
        propose(goal_by, today=date(2027, 1, 1))
    assert str(raised.value) == (
        f"the goal date {goal_by.isoformat()} is not in the future; choose a date after 2027-01-01"
    )


@given(today=DATES, ahead=st.integers(min_value=1, max_value=4000))
def test_proposals_lie_strictly_between_today_and_the_goal_in_order(
    today: date, ahead: int
) -> None:
    goal_by = today + timedelta(days=ahead)
    proposals = propose(goal_by, today)
    dues = [p.due for p in proposals]
    assert dues == sorted(set(dues))
    assert all(today < due < goal_by for due in dues)
    assert len(proposals) <= MAX_MONTHS_BACK + 1
    if ahead >= 2:
        assert proposals, "a goal two or more days away gets at least one checkpoint"


@given(today=DATES, ahead=st.integers(min_value=95, max_value=4000))
def test_a_goal_months_away_has_three_one_month_and_two_weeks_checkpoints(
    today: date, ahead: int
) -> None:
    goal_by = today + timedelta(days=ahead)
    dues = {p.due for p in propose(goal_by, today)}
    for months in (3, 2, 1):
        assert months_before(goal_by, months) in dues
    assert goal_by - timedelta(days=14) in dues


@given(day=DATES, months=st.integers(min_value=0, max_value=60))
def test_months_before_keeps_the_day_unless_the_month_is_shorter(day: date, months: int) -> None:
    earlier = months_before(day, months)
    assert (day.year * 12 + day.month) - (earlier.year * 12 + earlier.month) == months
    assert earlier.day == day.day or (earlier.day < day.day and (earlier + timedelta(1)).day == 1)


def test_current_milestone_is_the_earliest_open_one_not_yet_due() -> None:
    done = MilestoneView("outline", date(2027, 2, 1), done=True)
    draft = MilestoneView("draft the proposal", date(2027, 3, 1))
    pitch = MilestoneView("pitch it", date(2027, 4, 1))
    assert current([pitch, draft, done], date(2027, 1, 20)) == draft
    assert current([pitch, draft, done], date(2027, 3, 1)) == draft
    assert current([pitch, draft, done], date(2027, 3, 2)) == pitch
    assert current([pitch, draft, done], date(2027, 4, 2)) is None


def test_title_and_description_name_the_milestone_and_the_goal() -> None:
    draft = MilestoneView("draft the proposal", date(2027, 3, 1))
    goal = "lead a cross-team project by June"
    assert block_title(goal, draft) == (
        "Growth: draft the proposal — toward: lead a cross-team project by June"
    )
    assert block_title(goal, None) == "Growth: lead a cross-team project by June"
    assert block_description(goal, draft).splitlines()[0] == (
        "Current milestone: draft the proposal (by 2027-03-01)"
    )
    long = block_title("g" * 200, MilestoneView("m" * 200, date(2027, 3, 1)))
    assert len(long) == 200 and long.endswith("…")


def test_status_hit_late_missed_open() -> None:
    m = MilestoneView("draft", date(2027, 3, 1))
    today = date(2027, 3, 10)
    assert status(m, date(2027, 3, 1), today) == "hit"
    assert status(m, date(2027, 3, 2), today) == "late"
    assert status(m, None, today) == "missed"
    assert status(m, None, date(2027, 2, 1)) == "open"

"""The plan document: defaults, parsing, field-named errors and context checks."""

from __future__ import annotations

from datetime import time
from typing import Any

import pytest
from pydantic import ValidationError

from app.domain.plan import DEFAULT_WORKING_HOURS, BlockLength, BookAt, PlanSpec, plan_problems
from app.domain.time import TimeRange, Weekday


def error_for(data: dict[str, Any]) -> tuple[tuple[int | str, ...], str]:
    with pytest.raises(ValidationError) as caught:
        PlanSpec.model_validate(data)
    errors = caught.value.errors()
    assert errors
    return errors[0]["loc"], errors[0]["msg"]


def test_defaults() -> None:
    spec = PlanSpec(goal="  Lead a cross-team project by June  ")
    assert spec.goal == "Lead a cross-team project by June"
    assert spec.block_title() == "Growth: Lead a cross-team project by June"
    assert spec.timezone is None
    assert spec.weekly_target_minutes == 240
    assert spec.block_minutes == BlockLength(min=120, max=120)
    assert spec.max_blocks_per_day == 1
    assert spec.days == ["mon", "tue", "wed", "thu", "fri"]
    assert spec.working_hours is None
    assert spec.window_ranges() == [TimeRange(time(9), time(17))]  # the default working hours
    assert spec.preferred_ranges() == [TimeRange(time(9), time(12))]
    assert spec.buffer_minutes == 10
    assert spec.horizon_weeks == 2
    assert spec.book_at == BookAt(day="sun", time="18:00")
    assert spec.book_at.clock == time(18)


def test_block_minutes_as_int_and_object() -> None:
    assert PlanSpec(goal="g", block_minutes=90).block_minutes == BlockLength(min=90, max=90)
    spec = PlanSpec.model_validate({"goal": "g", "block_minutes": {"min": 60, "max": 180}})
    assert (spec.block_minutes.min, spec.block_minutes.max) == (60, 180)


def test_days_deduped_in_week_order() -> None:
    spec = PlanSpec.model_validate({"goal": "g", "days": ["fri", "mon", "fri", "sun"]})
    assert spec.days == ["mon", "fri", "sun"]


def test_yaml_like_document() -> None:
    spec = PlanSpec.model_validate(
        {
            "goal": "Learn Rust",
            "timezone": "Europe/Berlin",
            "working_hours": {"tue": ["08:00-12:00", "13:00-17:00"], "mon": ["09:00-17:00"]},
            "book_at": {"day": "fri", "time": "07:30"},
        }
    )
    hours = spec.working_ranges(DEFAULT_WORKING_HOURS)
    assert list(hours) == ["mon", "tue"]
    assert [str(r) for r in hours["tue"]] == ["08:00-12:00", "13:00-17:00"]
    assert spec.book_at.clock == time(7, 30)


def test_working_ranges_defaults_to_the_users() -> None:
    spec = PlanSpec(goal="g")
    hours = spec.working_ranges(DEFAULT_WORKING_HOURS)
    assert hours == DEFAULT_WORKING_HOURS
    assert hours is not DEFAULT_WORKING_HOURS


@pytest.mark.parametrize(
    ("data", "loc", "message"),
    [
        ({"timezone": "Mars/Olympus"}, ("timezone",), "unknown time zone 'Mars/Olympus'"),
        ({"windows": ["25:00-26:00"]}, ("windows",), "'25:00-26:00' is not a HH:MM-HH:MM range"),
        ({"windows": []}, ("windows",), "at least one window"),
        ({"preferred_windows": ["12:00-09:00"]}, ("preferred_windows",), "must end after"),
        (
            {"working_hours": {"mon": ["9-5"]}},
            ("working_hours",),
            "'9-5' is not a HH:MM-HH:MM range",
        ),
        ({"working_hours": {"monday": ["09:00-17:00"]}}, ("working_hours", "monday"), "Input"),
        ({"block_minutes": {"min": 120, "max": 60}}, ("block_minutes",), "max (60) must be"),
        ({"block_minutes": 10}, ("block_minutes", "min"), "greater than or equal to 15"),
        ({"colour": "blue"}, ("colour",), "Extra inputs are not permitted"),
        ({"days": []}, ("days",), "at least one day"),
        ({"days": ["someday"]}, ("days", 0), "Input should be"),
        ({"weekly_target_minutes": 5000}, ("weekly_target_minutes",), "less than or equal"),
        ({"max_blocks_per_day": 0}, ("max_blocks_per_day",), "greater than or equal to 1"),
        ({"buffer_minutes": 121}, ("buffer_minutes",), "less than or equal to 120"),
        ({"horizon_weeks": 9}, ("horizon_weeks",), "less than or equal to 8"),
        ({"book_at": {"time": "25:00"}}, ("book_at", "time"), "'25:00' is not a HH:MM time"),
        ({"goal": "   "}, ("goal",), "at least 1 character"),
        ({"goal": "x" * 201}, ("goal",), "at most 200 characters"),
    ],
)
def test_errors_name_the_field(data: dict[str, Any], loc: tuple[str, ...], message: str) -> None:
    got_loc, got_message = error_for({"goal": "g", **data})
    assert got_loc[: len(loc)] == loc
    assert message in got_message


def test_goal_is_required() -> None:
    loc, _ = error_for({})
    assert loc == ("goal",)


def test_plan_problems_none_for_defaults() -> None:
    assert plan_problems(PlanSpec(goal="g"), DEFAULT_WORKING_HOURS) == []


def test_plan_problems_block_does_not_fit() -> None:
    spec = PlanSpec(goal="g", windows=["08:00-10:30"])
    problems = plan_problems(spec, DEFAULT_WORKING_HOURS)
    assert problems == [
        (
            "block_minutes",
            "a 120-minute block does not fit in any allowed window (longest: 90 min on mon)",
        )
    ]


def test_plan_problems_longest_day_named() -> None:
    hours: dict[Weekday, list[TimeRange]] = {
        "mon": [TimeRange.parse("09:00-10:00")],
        "wed": [TimeRange.parse("09:00-10:40")],
    }
    problems = plan_problems(PlanSpec(goal="g", weekly_target_minutes=60), hours)
    assert problems == [
        (
            "block_minutes",
            "a 120-minute block does not fit in any allowed window (longest: 100 min on wed)",
        )
    ]


def test_plan_problems_target_unreachable() -> None:
    spec = PlanSpec(goal="g", weekly_target_minutes=720, days=["mon", "tue", "wed"])
    problems = plan_problems(spec, DEFAULT_WORKING_HOURS)
    assert [field for field, _ in problems] == ["weekly_target_minutes"]
    assert "720" in problems[0][1]
    assert "360" in problems[0][1]


def test_plan_problems_more_blocks_per_day_make_target_reachable() -> None:
    spec = PlanSpec(goal="g", weekly_target_minutes=720, days=["mon", "tue"], max_blocks_per_day=3)
    assert plan_problems(spec, DEFAULT_WORKING_HOURS) == []


def test_plan_problems_no_working_days() -> None:
    spec = PlanSpec(goal="g", days=["sat", "sun"])
    assert plan_problems(spec, DEFAULT_WORKING_HOURS) == [
        ("days", "none of the allowed days (sat, sun) has working hours")
    ]


def test_plan_problems_uses_plan_working_hours() -> None:
    spec = PlanSpec.model_validate(
        {"goal": "g", "days": ["sat"], "working_hours": {"sat": ["10:00-14:00"]}}
    )
    problems = plan_problems(spec, DEFAULT_WORKING_HOURS)
    assert [field for field, _ in problems] == ["weekly_target_minutes"]

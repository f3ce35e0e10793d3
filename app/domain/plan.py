"""The growth plan document (DESIGN section 5) and checks that need the user's context."""

from __future__ import annotations

import datetime as dt
import re
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    field_validator,
    model_validator,
)

from app.domain.intervals import intersect
from app.domain.planner import empty_week_capacity
from app.domain.time import WEEKDAYS, TimeRange, Weekday, local_interval, resolve_zone

_CLOCK_RE = re.compile(r"(\d{2}):(\d{2})")

DEFAULT_WORKING_HOURS: dict[Weekday, list[TimeRange]] = {
    day: [TimeRange(dt.time(9, 0), dt.time(17, 0))] for day in WEEKDAYS[:5]
}


def _check_ranges(values: list[str]) -> list[str]:
    return [str(TimeRange.parse(text)) for text in values]


class BlockLength(BaseModel):
    """Allowed length of one block in minutes; a plain int N means exactly N."""

    model_config = ConfigDict(extra="forbid")

    min: int = Field(ge=15, le=720)
    max: int = Field(ge=15, le=720)

    @model_validator(mode="before")
    @classmethod
    def _from_int(cls, data: Any) -> Any:
        if isinstance(data, int) and not isinstance(data, bool):
            return {"min": data, "max": data}
        return data

    @model_validator(mode="after")
    def _max_not_below_min(self) -> BlockLength:
        if self.max < self.min:
            raise ValueError(f"max ({self.max}) must be at least min ({self.min})")
        return self


class BookAt(BaseModel):
    """When the weekly booking runs, in the plan's zone."""

    model_config = ConfigDict(extra="forbid")

    day: Weekday = "sun"
    time: str = "18:00"

    @field_validator("time")
    @classmethod
    def _valid_clock(cls, value: str) -> str:
        match = _CLOCK_RE.fullmatch(value.strip())
        if match is None or int(match.group(1)) > 23 or int(match.group(2)) > 59:
            raise ValueError(f"{value!r} is not a HH:MM time")
        return f"{match.group(1)}:{match.group(2)}"

    @property
    def clock(self) -> dt.time:
        """The booking time as a naive wall-clock time."""
        hours, minutes = self.time.split(":")
        return dt.time(int(hours), int(minutes))


DefenseLevel = Literal["flexible", "firm", "locked"]

AutoDecline = Literal[
    "declineNone", "declineAllConflictingInvitations", "declineOnlyNewConflictingInvitations"
]


class PlanSpec(BaseModel):
    """What to book: goal, weekly target, block sizes, allowed days and windows."""

    model_config = ConfigDict(extra="forbid")

    goal: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
    # A goal is specific and time-bound: why it matters and by when (both optional).
    goal_why: Annotated[str, StringConstraints(strip_whitespace=True, max_length=500)] = ""
    goal_by: dt.date | None = None
    timezone: str | None = None
    weekly_target_minutes: int = Field(default=240, ge=15, le=3000)
    block_minutes: BlockLength = Field(default_factory=lambda: BlockLength(min=120, max=120))
    max_blocks_per_day: int = Field(default=1, ge=1, le=8)
    days: list[Weekday] = Field(default_factory=lambda: list(WEEKDAYS[:5]))
    working_hours: dict[Weekday, list[str]] | None = None
    # The same as the default working hours: a wider default only looked like more room.
    windows: list[str] = Field(default_factory=lambda: ["09:00-17:00"])
    preferred_windows: list[str] = Field(default_factory=lambda: ["09:00-12:00"])
    buffer_minutes: int = Field(default=10, ge=0, le=120)
    horizon_weeks: int = Field(default=2, ge=0, le=8)
    book_at: BookAt = Field(default_factory=BookAt)
    # Where the calendar supports it (Google Workspace primary calendars), book blocks as native
    # focus time. Auto-decline is off by default: GrowthGuard's boundary policy decides, with
    # reasons and a counter-offer, instead of a blunt provider-side decline.
    focus_time: bool = True
    auto_decline: AutoDecline = "declineNone"
    # How hard the blocks are defended (docs/architecture.md, "Defense levels"): flexible
    # blocks are written free until `flexible_hours_before` their start (or until the week's
    # free time falls to what the target still needs), firm ones busy, locked ones busy with
    # the policy's flags upgraded to declines and, where supported, native focus time.
    defense: DefenseLevel = "firm"
    flexible_hours_before: int = Field(default=24, ge=1, le=336)

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str | None) -> str | None:
        if value is not None:
            resolve_zone(value)
        return value

    @field_validator("days")
    @classmethod
    def _week_order(cls, value: list[Weekday]) -> list[Weekday]:
        if not value:
            raise ValueError("name at least one day")
        return [day for day in WEEKDAYS if day in value]

    @field_validator("windows")
    @classmethod
    def _valid_windows(cls, value: list[str]) -> list[str]:
        # an empty list could never book anything; say so here rather than at booking time
        if not value:
            raise ValueError("name at least one window")
        return _check_ranges(value)

    @field_validator("preferred_windows")
    @classmethod
    def _valid_preferred(cls, value: list[str]) -> list[str]:
        return _check_ranges(value)

    @field_validator("working_hours")
    @classmethod
    def _valid_hours(
        cls, value: dict[Weekday, list[str]] | None
    ) -> dict[Weekday, list[str]] | None:
        if value is None:
            return None
        return {day: _check_ranges(value[day]) for day in WEEKDAYS if day in value}

    def block_title(self) -> str:
        """Title of the calendar events this plan creates."""
        return f"Growth: {self.goal}"

    def window_ranges(self) -> list[TimeRange]:
        """The windows blocks may go in."""
        return [TimeRange.parse(text) for text in self.windows]

    def preferred_ranges(self) -> list[TimeRange]:
        """The windows tried first."""
        return [TimeRange.parse(text) for text in self.preferred_windows]

    def working_ranges(
        self, default: dict[Weekday, list[TimeRange]]
    ) -> dict[Weekday, list[TimeRange]]:
        """This plan's working hours, or ``default`` (the user's) when the plan has none."""
        if self.working_hours is None:
            return {day: list(ranges) for day, ranges in default.items()}
        return {
            day: [TimeRange.parse(text) for text in texts]
            for day, texts in self.working_hours.items()
        }


# A fixed Monday in a week without DST changes anywhere, so that checks see nominal day lengths.
_REFERENCE_MONDAY = dt.date(2001, 1, 15)
_UTC_ZONE = ZoneInfo("UTC")


def _longest_stretch(spec: PlanSpec, ranges: list[TimeRange], offset: int) -> float:
    day = _REFERENCE_MONDAY + dt.timedelta(days=offset)
    windows = [local_interval(day, r, _UTC_ZONE) for r in spec.window_ranges()]
    hours = [local_interval(day, r, _UTC_ZONE) for r in ranges]
    both = intersect([w for w in windows if w is not None], [h for h in hours if h is not None])
    return max((piece.minutes for piece in both), default=0.0)


def _blocks(count: int) -> str:
    return "1 block" if count == 1 else f"{count} blocks"


def plan_problems(
    spec: PlanSpec, working_hours: dict[Weekday, list[TimeRange]]
) -> list[tuple[str, str]]:
    """Problems that need the user's working hours, as (field, message) pairs; [] when fine."""
    hours = spec.working_ranges(working_hours)
    problems: list[tuple[str, str]] = []
    working_days = [day for day in spec.days if hours.get(day)]
    if not working_days:
        listed = ", ".join(spec.days)
        problems.append(("days", f"none of the allowed days ({listed}) has working hours"))
        return problems
    stretches = {
        day: _longest_stretch(spec, hours[day], WEEKDAYS.index(day)) for day in working_days
    }
    best_day = max(working_days, key=lambda day: stretches[day])
    need = spec.block_minutes.min
    if stretches[best_day] < need:
        if stretches[best_day] == 0:
            detail = "no window overlaps your working hours on an allowed day"
        else:
            detail = f"longest: {stretches[best_day]:g} min on {best_day}"
        problems.append(
            (
                "block_minutes",
                f"a {need}-minute block does not fit in any allowed window ({detail})",
            )
        )
    capacity = empty_week_capacity(spec, hours)
    target = spec.weekly_target_minutes
    # when no block fits at all the target message would only repeat the block_minutes one
    if capacity < target and not problems:
        problems.append(
            (
                "weekly_target_minutes",
                f"a target of {target} min cannot be reached even in an empty week "
                f"(at most {capacity} min fit in your days, windows, working hours "
                f"and {_blocks(spec.max_blocks_per_day)} per day)",
            )
        )
    return problems

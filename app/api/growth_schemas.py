"""Request and response documents of the growth API (milestones, log, rules, reviews)."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

Title = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
Line = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=300)]
Outcome = Annotated[str, StringConstraints(strip_whitespace=True, max_length=300)]
RuleItem = Annotated[str, StringConstraints(strip_whitespace=True, max_length=320)]
Answer = Annotated[str, StringConstraints(max_length=4000)]


class MilestoneIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    title: Title
    due: date
    done_on: date | None = None


class MilestonesIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    milestones: list[MilestoneIn] = Field(min_length=1, max_length=60)


class MilestoneOut(BaseModel):
    id: int
    plan_id: int
    title: str
    due: date
    done_on: date | None


class ProposalOut(BaseModel):
    title: str
    due: date


class EntryIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    block_id: int | None = Field(default=None, ge=1, le=2**31 - 1)
    text: Line
    outcome: Outcome = ""
    milestone_id: int | None = Field(default=None, ge=1, le=2**31 - 1)
    milestone_done: bool = False
    day: date | None = None


class EntryUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    text: Line
    outcome: Outcome = ""
    milestone_id: int | None = Field(default=None, ge=1, le=2**31 - 1)
    milestone_done: bool = False
    day: date | None = None


class EntryOut(BaseModel):
    id: int
    block_id: int | None
    day: date
    text: str
    outcome: str
    milestone_id: int | None


class RulesDoc(BaseModel):
    """Which other events count as growth. An empty keyword turns the tag off."""

    model_config = ConfigDict(extra="forbid")

    keyword: Annotated[str, StringConstraints(strip_whitespace=True, max_length=50)] = "#growth"
    organizers: list[RuleItem] = Field(default_factory=list, max_length=50)
    title_words: list[RuleItem] = Field(default_factory=list, max_length=50)
    calendars: list[RuleItem] = Field(default_factory=list, max_length=50)


class MarkIn(BaseModel):
    """Count this event as growth (true), not (false), or by the rules again (null)."""

    model_config = ConfigDict(extra="forbid")

    growth: bool | None


class MarkOut(BaseModel):
    calendar_id: int
    event_id: str
    growth: bool | None


class AnswersDoc(BaseModel):
    """The quarterly review's three prompts; a field left out keeps its answer."""

    model_config = ConfigDict(extra="forbid")

    worked: Answer | None = None
    drained: Answer | None = None
    changes: Answer | None = None


class ReviewMilestoneOut(BaseModel):
    id: int
    title: str
    due: date
    done_on: date | None
    status: Literal["hit", "late", "missed", "open"]


class LostToOut(BaseModel):
    organizer: str
    rule: str
    blocks: int


class ReviewEntryOut(BaseModel):
    id: int
    day: str
    text: str
    outcome: str
    milestone: str
    block_start: str
    block_end: str


class ReviewOut(BaseModel):
    quarter: str
    first: date
    last: date
    plan_id: int
    goal: str
    goal_by: date | None
    weeks: int
    target_minutes: int
    kept_minutes: int
    growth_minutes: int
    weekly_growth_minutes: float
    baseline_weekly_growth_minutes: float | None
    trend: Literal["up", "down", "level", "unknown"]
    lost_blocks: int
    lost_minutes: int
    milestones: list[ReviewMilestoneOut]
    entries: list[ReviewEntryOut]
    lost_to: list[LostToOut]
    answers: dict[str, str]

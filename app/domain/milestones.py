"""Milestones worked backward from a goal's date, and the block title that names the current one.

Pure: dates in, proposals and titles out. "Today" is always passed in (the person's local date).
"""

from __future__ import annotations

import calendar
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, timedelta

# Monthly checkpoints reach back at most this far: a goal years away gets a year of them,
# which the person extends as the year passes (a wall of 40 checkpoints helps nobody).
MAX_MONTHS_BACK = 12
TITLE_MAX = 200


class GoalDateError(ValueError):
    """The goal's date cannot be worked backward from; the message says why and what to do."""


@dataclass(frozen=True, slots=True)
class Proposal:
    """A proposed checkpoint: a default name the person renames, and its date."""

    title: str
    due: date


@dataclass(frozen=True, slots=True)
class MilestoneView:
    """A milestone as the title logic sees it."""

    title: str
    due: date
    done: bool = False


def months_before(day: date, months: int) -> date:
    """``day`` moved back by whole calendar months, clamped to the end of a shorter month."""
    index = day.year * 12 + (day.month - 1) - months
    year, month = divmod(index, 12)
    last = calendar.monthrange(year, month + 1)[1]
    return date(year, month + 1, min(day.day, last))


def _label(months: int) -> str:
    return "1 month to go" if months == 1 else f"{months} months to go"


def propose(goal_by: date, today: date) -> list[Proposal]:
    """Checkpoints worked backward from ``goal_by``: monthly (3 months, 1 month before, every
    month in between and before), 2 weeks before, all strictly between today and the goal.

    A goal less than a month away gets 2 weeks before when that is still ahead, otherwise one
    checkpoint halfway; a goal tomorrow gets none. A date not after today is refused.
    """
    if goal_by <= today:
        raise GoalDateError(
            f"the goal date {goal_by.isoformat()} is not in the future; "
            f"choose a date after {today.isoformat()}"
        )
    found: dict[date, str] = {}
    for months in range(MAX_MONTHS_BACK, 0, -1):
        due = months_before(goal_by, months)
        if due > today:
            found[due] = f"Checkpoint: {_label(months)}"
    two_weeks = goal_by - timedelta(days=14)
    if two_weeks > today:
        found.setdefault(two_weeks, "Checkpoint: 2 weeks to go")
    if not found and (goal_by - today).days >= 2:
        halfway = today + timedelta(days=(goal_by - today).days // 2)
        found[halfway] = "Checkpoint: halfway"
    return [Proposal(title=title, due=due) for due, title in sorted(found.items())]


def current(milestones: Iterable[MilestoneView], on: date) -> MilestoneView | None:
    """The milestone a block on ``on`` works toward: the earliest open one due on or after it."""
    ahead = [m for m in milestones if not m.done and m.due >= on]
    return min(ahead, key=lambda m: (m.due, m.title), default=None)


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def block_title(goal: str, milestone: MilestoneView | None) -> str:
    """``Growth: <milestone> — toward: <goal>``, or ``Growth: <goal>`` without a milestone."""
    if milestone is None:
        return _clip(f"Growth: {goal}", TITLE_MAX)
    return _clip(f"Growth: {milestone.title} — toward: {goal}", TITLE_MAX)


def block_description(goal: str, milestone: MilestoneView | None) -> str:
    """The event description: the current milestone and its date, then the goal."""
    lines: list[str] = []
    if milestone is not None:
        lines.append(f"Current milestone: {milestone.title} (by {milestone.due.isoformat()})")
    lines += [f"Reserved growth time for: {goal}", "Booked by GrowthGuard."]
    return "\n".join(lines)


def status(milestone: MilestoneView, done_on: date | None, today: date) -> str:
    """``hit`` (done by its date), ``late`` (done after it), ``missed`` or ``open``."""
    if done_on is not None:
        return "hit" if done_on <= milestone.due else "late"
    return "missed" if milestone.due < today else "open"


def ordered(milestones: Sequence[MilestoneView]) -> list[MilestoneView]:
    """By date, then title."""
    return sorted(milestones, key=lambda m: (m.due, m.title))

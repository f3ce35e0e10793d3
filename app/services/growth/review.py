"""The quarterly review: hours against target and baseline, milestones, the log, what was lost.

Everything here is read from GrowthGuard's own tables (no provider call), so the page is fast
and the export shows exactly what the page shows.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.db.growth_models import Milestone, Review
from app.db.models import Block, BlockState, Conflict, Decision, Plan, User
from app.domain import milestones as domain
from app.domain.ledger import quarter_bounds, quarter_of
from app.domain.time import IsoWeek, day_bounds
from app.services.errors import InvalidInputError
from app.services.growth import log as growth_log
from app.services.planning.plans import plan_spec, plan_zone
from app.services.reports import baseline as baseline_service
from app.services.reports import ledgers as report_service

_QUARTER_RE = re.compile(r"(\d{4})-Q([1-4])")
PROMPTS = (
    ("worked", "What worked?"),
    ("drained", "What drained you?"),
    ("changes", "What changes next quarter?"),
)
ANSWER_MAX = 4000


@dataclass(frozen=True, slots=True)
class Quarter:
    year: int
    number: int

    def __str__(self) -> str:
        return f"{self.year}-Q{self.number}"

    @classmethod
    def parse(cls, text: str, field_name: str = "quarter") -> Quarter:
        match = _QUARTER_RE.fullmatch(text.strip())
        if match is None or not 2000 <= int(match.group(1)) <= 2200:
            raise InvalidInputError([(field_name, f"{text[:20]!r} is not a quarter like 2027-Q1")])
        return cls(int(match.group(1)), int(match.group(2)))

    @classmethod
    def containing(cls, day: date) -> Quarter:
        return cls(*quarter_of(day))

    def bounds(self) -> tuple[date, date]:
        """First day, and the first day of the next quarter."""
        return quarter_bounds(self.year, self.number)


@dataclass(frozen=True, slots=True)
class MilestoneLine:
    id: int
    title: str
    due: date
    done_on: date | None
    status: str  # hit | late | missed | open


@dataclass(frozen=True, slots=True)
class LostTo:
    organizer: str
    rule: str
    blocks: int


@dataclass
class QuarterReview:
    """What the review page and the exports show."""

    quarter: str
    first: date
    last: date
    plan_id: int
    goal: str
    goal_why: str
    goal_by: date | None
    weeks: int
    target_minutes: int
    kept_minutes: int
    growth_minutes: int
    weekly_growth_minutes: float
    baseline_weekly_growth_minutes: float | None
    lost_blocks: int
    lost_minutes: int
    milestones: list[MilestoneLine] = field(default_factory=list)
    entries: list[dict[str, Any]] = field(default_factory=list)
    lost_to: list[LostTo] = field(default_factory=list)
    answers: dict[str, str] = field(default_factory=dict)
    # Weeks whose target days off reduced: (ISO week, why), e.g. "2 days of leave: target …".
    reduced_weeks: list[tuple[str, str]] = field(default_factory=list)

    @property
    def trend(self) -> str:
        """Growth per week against the baseline: up, down, level, or unknown."""
        base = self.baseline_weekly_growth_minutes
        if base is None:
            return "unknown"
        delta = self.weekly_growth_minutes - base
        if abs(delta) < 15:  # a quarter of an hour a week is noise
            return "level"
        return "up" if delta > 0 else "down"


def current_quarter(plan: Plan, user: User, now: datetime) -> Quarter:
    return Quarter.containing(now.astimezone(plan_zone(plan_spec(plan), user)).date())


def _weeks(first: date, until: date, now: datetime, plan: Plan, user: User) -> list[IsoWeek]:
    zone = plan_zone(plan_spec(plan), user)
    start = IsoWeek.containing(day_bounds(first, zone).start, zone)
    last_day = min(until, now.astimezone(zone).date())
    end = IsoWeek.containing(day_bounds(last_day, zone).start, zone)
    return report_service.week_range(start, end) if start <= end else []


def _baseline_weekly(session: Session, user: User) -> float | None:
    data = baseline_service.baseline_of(session, user)
    if not data or not data.get("weeks"):
        return None
    return float(data["total"]["growth_minutes"]) / len(data["weeks"])


def _lost_to(session: Session, blocks: list[Block]) -> list[LostTo]:
    lost_ids = [b.id for b in blocks if b.state == BlockState.LOST]
    if not lost_ids:
        return []
    found = session.execute(
        select(Conflict, Decision)
        .outerjoin(Decision, Decision.conflict_id == Conflict.id)
        .where(Conflict.block_id.in_(lost_ids))
    ).all()
    counts: Counter[tuple[str, str]] = Counter()
    explained: set[int] = set()
    for conflict, decision in found:
        if conflict.block_id in explained:
            continue  # a block is lost once, to the first meeting that took it
        explained.add(conflict.block_id)
        organizer = str(conflict.event.get("organizer_email") or "unknown organizer")
        rule = (decision.rule if decision else None) or "no rule"
        counts[(organizer, rule)] += 1
    unexplained = len(set(lost_ids) - explained)
    if unexplained:
        counts[("removed from the calendar", "no conflict")] += unexplained
    return [
        LostTo(organizer=o, rule=r, blocks=n)
        for (o, r), n in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
    ]


def answers_of(session: Session, user: User, quarter: Quarter) -> dict[str, str]:
    row = session.scalars(
        select(Review).where(Review.user_id == user.id, Review.quarter == str(quarter))
    ).first()
    return {key: (getattr(row, key) if row is not None else "") for key, _ in PROMPTS}


def save_answers(
    session: Session, user: User, quarter: Quarter, answers: dict[str, str]
) -> dict[str, str]:
    """Keep the answers to the three prompts (a field left out keeps its answer)."""
    for key, value in answers.items():
        if len(value) > ANSWER_MAX:
            raise InvalidInputError([(key, f"at most {ANSWER_MAX} characters")])
    row = session.scalars(
        select(Review).where(Review.user_id == user.id, Review.quarter == str(quarter))
    ).first()
    if row is None:
        row = Review(user_id=user.id, quarter=str(quarter), worked="", drained="", changes="")
        session.add(row)
    for key, _ in PROMPTS:
        if key in answers:
            setattr(row, key, answers[key].strip())
    session.flush()
    return answers_of(session, user, quarter)


def build(
    session: Session, user: User, plan: Plan, quarter: Quarter, now: datetime
) -> QuarterReview:
    """The review of one plan's quarter as of ``now``."""
    spec = plan_spec(plan)
    zone = plan_zone(spec, user)
    first, until = quarter.bounds()
    weeks = _weeks(first, until, now, plan, user)
    rows = report_service.weekly_report(session, user, plan, weeks, now) if weeks else []
    # Weeks before the plan booked anything are not weeks it fell short in.
    while rows and rows[0].booked_minutes == 0 and rows[0].tagged_minutes == 0:
        rows.pop(0)
    start, end = day_bounds(first, zone).start, day_bounds(until, zone).start
    blocks = list(
        session.scalars(
            select(Block).where(Block.plan_id == plan.id, Block.start >= start, Block.start < end)
        )
    )
    lost = [b for b in blocks if b.state == BlockState.LOST]
    today = now.astimezone(zone).date()
    stones = session.scalars(
        select(Milestone)
        .where(Milestone.plan_id == plan.id)
        .order_by(Milestone.due, Milestone.title)
    ).all()
    lines = [
        MilestoneLine(
            id=m.id,
            title=m.title,
            due=m.due,
            done_on=m.done_on,
            status=domain.status(domain.MilestoneView(m.title, m.due), m.done_on, today),
        )
        for m in stones
        if first <= m.due < until or (m.done_on is not None and first <= m.done_on < until)
    ]
    entries = growth_log.export_rows(session, user, growth_log.entries(session, user, first, until))
    growth = sum(r.growth_minutes for r in rows)
    return QuarterReview(
        quarter=str(quarter),
        first=first,
        last=date.fromordinal(until.toordinal() - 1),
        plan_id=plan.id,
        goal=spec.goal,
        goal_why=spec.goal_why,
        goal_by=spec.goal_by,
        weeks=len(rows),
        target_minutes=sum(r.target_minutes for r in rows),
        kept_minutes=sum(r.kept_minutes for r in rows),
        growth_minutes=growth,
        weekly_growth_minutes=round(growth / len(rows), 1) if rows else 0.0,
        baseline_weekly_growth_minutes=_baseline_weekly(session, user),
        lost_blocks=len(lost),
        lost_minutes=sum(round((b.end - b.start).total_seconds() / 60) for b in lost),
        milestones=lines,
        entries=entries,
        lost_to=_lost_to(session, blocks),
        answers=answers_of(session, user, quarter),
        reduced_weeks=[(r.week, r.target_note) for r in rows if r.target_note],
    )

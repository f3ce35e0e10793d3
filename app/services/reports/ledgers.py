"""Growth reports (DESIGN §9): weekly ledgers from the events cache, the summary, CSV.

The baseline at connect reads the calendars live: `reports.baseline`.
"""

from __future__ import annotations

import csv
import io
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import asdict, replace
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.db.models import (
    Block,
    BlockState,
    CalendarEvent,
    Conflict,
    Decision,
    Plan,
    User,
)
from app.domain.ledger import (
    ACTIONS,
    DEFAULT_GROWTH_KEYWORD,
    BlockFact,
    EventFact,
    Summary,
    WeekInput,
    WeekLedger,
    last_complete_week,
    summarize,
    week_ledger,
)
from app.domain.time import IsoWeek
from app.services.accounts.rows import busy_source_events
from app.services.growth import counting as growth_counting
from app.services.planning import days_off as days_off_service
from app.services.planning.plans import plan_spec, plan_working_hours, plan_zone
from connectors.base import Event, EventStatus, SelfResponse

# Streaks older than this are not worth a longer query (five years of weekly rows).
MAX_HISTORY_WEEKS = 260
# Quarterly reviews go out in the first days of a quarter only (the job may run daily).
REVIEW_WINDOW_DAYS = 14


def week_range(first: IsoWeek, last: IsoWeek) -> list[IsoWeek]:
    """Every week from ``first`` to ``last``, inclusive."""
    out: list[IsoWeek] = []
    week = first
    while week <= last:
        out.append(week)
        week = week.next()
    return out


def recent_weeks(plan: Plan, user: User, now: datetime, count: int) -> list[IsoWeek]:
    """The ``count`` weeks ending with the current one, in the plan's zone."""
    current = IsoWeek.containing(now, plan_zone(plan_spec(plan), user))
    return week_range(current.plus(1 - count), current)


def _fact_of_row(row: CalendarEvent) -> EventFact:
    return EventFact(
        title=row.title,
        start=row.start,
        end=row.end,
        busy=row.busy,
        all_day=row.all_day,
        cancelled=row.status == EventStatus.CANCELLED.value,
        declined=row.self_response == SelfResponse.DECLINED.value,
        is_block=row.tag_slot_key is not None,
        event_type=row.event_type,
    )


def event_fact(event: Event) -> EventFact:
    """The ledger's view of a provider event (growth is decided by the caller)."""
    return EventFact(
        title=event.title,
        start=event.start,
        end=event.end,
        busy=event.busy,
        all_day=event.all_day,
        cancelled=event.status is EventStatus.CANCELLED,
        declined=event.self_response is SelfResponse.DECLINED,
        is_block=event.tag is not None,
        event_type=event.event_type.value,
    )


def cached_facts(session: Session, user: User, start: datetime, end: datetime) -> list[EventFact]:
    """Events of the user's busy-source calendars overlapping [start, end), from the cache."""
    found = busy_source_events(session, user, start, end)
    # Growth hook: the person's rules and marks decide which events count as growth.
    decide = growth_counting.decider(session, user)
    return [replace(_fact_of_row(row), growth=decide.row(row)) for row in found]


def weekly_report(
    session: Session,
    user: User,
    plan: Plan,
    weeks: Sequence[IsoWeek],
    now: datetime,
    keyword: str = DEFAULT_GROWTH_KEYWORD,
) -> list[WeekLedger]:
    """One ledger row per requested week (sorted), from blocks, decisions and the events cache."""
    if not weeks:
        return []
    ordered = sorted(set(weeks))
    spec = plan_spec(plan)
    zone = plan_zone(spec, user)
    hours = plan_working_hours(spec, user)
    # "YYYY-Www" strings sort like the weeks they name, so a range query is exact.
    first, last = str(ordered[0]), str(ordered[-1])
    blocks = list(
        session.scalars(
            select(Block).where(Block.plan_id == plan.id, Block.week >= first, Block.week <= last)
        )
    )
    decided = session.execute(
        select(Block.id, Block.week, Decision.action, Decision.outcome)
        .join(Conflict, Conflict.block_id == Block.id)
        .join(Decision, Decision.conflict_id == Conflict.id)
        .where(Block.plan_id == plan.id, Block.week >= first, Block.week <= last)
    ).all()
    moved = {
        bid for bid, _, action, outcome in decided if action == "move_block" and outcome == "done"
    }
    actions: dict[str, list[str]] = defaultdict(list)
    for _, block_week, action, _ in decided:
        actions[block_week].append(action)
    by_week: dict[str, list[BlockFact]] = defaultdict(list)
    for block in blocks:
        by_week[block.week].append(
            BlockFact(
                block.start, block.end, block.state == BlockState.LOST, moved=block.id in moved
            )
        )
    events = cached_facts(session, user, ordered[0].start(zone), ordered[-1].end(zone))
    since = plan_start_week(session, user, zone, now)
    # Leave, public holidays and out-of-office time reduce a week's target (app/domain/days_off).
    targets = days_off_service.week_targets(session, user, spec, ordered)
    rows = []
    for week in ordered:
        start, end = week.start(zone), week.end(zone)
        data = WeekInput(
            week=week,
            target_minutes=spec.weekly_target_minutes,
            blocks=tuple(by_week.get(str(week), ())),
            events=tuple(e for e in events if e.end > start and e.start < end),
            decisions=tuple(actions.get(str(week), ())),
            reduced=targets[week],
        )
        row = week_ledger(data, zone, hours, now, keyword)
        if since is not None and week < since:
            row = replace(row, before_plan=True, on_target=False)
        rows.append(row)
    return rows


def conflict_levels(
    session: Session, plan: Plan, weeks: Sequence[IsoWeek]
) -> dict[str, dict[str, int]]:
    """Per week: how many conflicts found their block flexible (still free), firm or locked."""
    if not weeks:
        return {}
    first, last = str(min(weeks)), str(max(weeks))
    rows = session.execute(
        select(Block.week, Conflict.block_level, func.count())
        .join(Conflict, Conflict.block_id == Block.id)
        .where(Block.plan_id == plan.id, Block.week >= first, Block.week <= last)
        .group_by(Block.week, Conflict.block_level)
    ).all()
    out: dict[str, dict[str, int]] = defaultdict(dict)
    for week, level, count in rows:
        out[week][level] = int(count)
    return dict(out)


def plan_start_week(session: Session, user: User, zone: ZoneInfo, now: datetime) -> IsoWeek | None:
    """The week the person's first plan began: made then, or its first block if earlier.

    A creation time after `now` (rows stamped by another clock) is ignored, not trusted.
    """
    made = session.scalar(select(func.min(Plan.created_at)).where(Plan.user_id == user.id))
    if made is not None and made > now:
        made = None
    booked = session.scalar(
        select(func.min(Block.week))
        .join(Plan, Plan.id == Block.plan_id)
        .where(Plan.user_id == user.id)
    )
    weeks = [IsoWeek.containing(made, zone)] if made is not None else []
    if booked:
        weeks.append(IsoWeek.parse(booked))
    return min(weeks, default=None)


def history(
    session: Session,
    user: User,
    plan: Plan,
    now: datetime,
    keyword: str = DEFAULT_GROWTH_KEYWORD,
) -> tuple[Summary, list[WeekLedger]]:
    """The summary and the rows it was computed from (this year and the plan's whole run)."""
    spec = plan_spec(plan)
    latest = last_complete_week(now, plan_zone(spec, user))
    earliest = session.scalar(select(func.min(Block.week)).where(Block.plan_id == plan.id))
    since = IsoWeek.parse(earliest) if earliest else None
    start = min(IsoWeek(latest.year, 1), since or latest)
    start = max(start, latest.plus(1 - MAX_HISTORY_WEEKS))
    rows = weekly_report(session, user, plan, week_range(start, latest), now, keyword)
    return summarize(rows, latest, spec.weekly_target_minutes, since), rows


def summary(
    session: Session,
    user: User,
    plan: Plan,
    now: datetime,
    keyword: str = DEFAULT_GROWTH_KEYWORD,
) -> Summary:
    """Streak of weeks on target, year-to-date growth hours and the yearly projections."""
    return history(session, user, plan, now, keyword)[0]


CSV_FIELDS = (
    "week",
    "complete",
    "target_minutes",
    "booked_minutes",
    "kept_minutes",
    "moved_minutes",
    "lost_minutes",
    "tagged_minutes",
    "working_minutes",
    "growth_minutes",
    "meeting_minutes",
    "growth_ratio",
    "meeting_ratio",
    "on_target",
    "base_target_minutes",
    "away",
    "target_note",
)


def row_dict(row: WeekLedger) -> dict[str, Any]:
    """A ledger row as plain JSON-able values."""
    out = asdict(row)
    out["conflicts"] = dict(row.conflicts)
    out["days_off"] = [
        {"day": d.day.isoformat(), "reason": d.reason.value, "name": d.name} for d in row.days_off
    ]
    return out


def _csv_value(row: WeekLedger, name: str, value: Any) -> Any:
    if name == "on_target" and row.before_plan:
        return ""  # before the first plan: neither on target nor missed
    if name == "on_target" and row.away:
        return ""  # away all week: neither on target nor missed
    return str(value).lower() if name in {"complete", "on_target", "away"} else value


def to_csv(rows: Iterable[WeekLedger]) -> str:
    """Header plus one line per week; conflicts get a column per action."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow([*CSV_FIELDS, *(f"conflicts_{action}" for action in ACTIONS)])
    for row in rows:
        values = row_dict(row)
        writer.writerow(
            [
                *(_csv_value(row, name, values[name]) for name in CSV_FIELDS),
                *(row.conflicts.get(action, 0) for action in ACTIONS),
            ]
        )
    return buffer.getvalue()

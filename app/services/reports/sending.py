"""Report notifications: the weekly report and the quarterly review reminder."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.db.models import Block, BlockState, Notification, Plan, User
from app.domain.ledger import (
    DEFAULT_GROWTH_KEYWORD,
    last_complete_week,
    previous_quarter,
    quarter_bounds,
    quarter_of,
    quarterly_message,
    weekly_message,
)
from app.domain.time import day_bounds, resolve_zone
from app.services.growth import log as growth_log
from app.services.notifications import outbox
from app.services.planning.plans import plan_spec, plan_zone
from app.services.reports.ledgers import REVIEW_WINDOW_DAYS, history


def send_weekly_reports(
    session: Session,
    now: datetime,
    keyword: str = DEFAULT_GROWTH_KEYWORD,
    log_links: growth_log.Linker | None = None,
) -> int:
    """Record each active plan's report for its last complete week, once; returns how many.

    With ``log_links``, the report also asks about the ended blocks not asked about yet.
    """
    sent = 0
    pairs = session.execute(
        select(Plan, User).join(User, User.id == Plan.user_id).where(Plan.active.is_(True))
    ).all()
    for plan, user in pairs:
        week = last_complete_week(now, plan_zone(plan_spec(plan), user))
        key = f"report.weekly:{plan.id}:{week}"
        if _already(session, key):
            continue  # cheap check first: the report itself reads a year of rows
        result, rows = history(session, user, plan, now, keyword)
        row = rows[-1]
        if row.booked_minutes == 0 and row.tagged_minutes == 0:
            continue  # nothing was planned that week (e.g. the plan is new): no report
        payload = {
            "plan_id": plan.id,
            "week": row.week,
            "target_minutes": row.target_minutes,
            "base_target_minutes": row.base_target_minutes,
            "target_note": row.target_note,
            "away": row.away,
            "kept_minutes": row.kept_minutes,
            "moved_minutes": row.moved_minutes,
            "lost_minutes": row.lost_minutes,
            "growth_ratio": row.growth_ratio,
            "meeting_ratio": row.meeting_ratio,
            "streak_weeks": result.streak_weeks,
            "ytd_hours": result.ytd_hours,
            "projection_hours": result.projection_hours,
            "message": weekly_message(row, result.streak_weeks),
        }
        if log_links is not None:  # growth hook: one line per ended block, asked once
            asks = log_links.weekly_ask(session, user, now)
            if asks:
                payload.update(asks, message=f"{payload['message']} {asks['log_message']}")
        if outbox.record(session, user.id, "report.weekly", payload, dedupe_key=key):
            sent += 1
    return sent


def send_quarterly_reviews(session: Session, now: datetime, public_url: str = "") -> int:
    """Early in each quarter, ask every person who used a plan last quarter to revisit it.

    The in-app list links the review page by path; email and chat get `review_url`, the same
    page under `public_url` (when given), because a path is not a link outside the app.
    """
    sent = 0
    users = session.scalars(
        select(User).where(User.id.in_(select(Plan.user_id))).order_by(User.id)
    ).all()
    for user in users:
        zone = resolve_zone(user.timezone)
        today = now.astimezone(zone).date()
        this_start, _ = quarter_bounds(*quarter_of(today))
        if (today - this_start).days >= REVIEW_WINDOW_DAYS:
            continue  # a review weeks into the quarter would be about stale figures
        year, quarter = previous_quarter(*quarter_of(today))
        key = f"review.quarterly:{user.id}:{year}Q{quarter}"
        if _already(session, key):
            continue
        first, following = quarter_bounds(year, quarter)
        start, end = day_bounds(first, zone).start, day_bounds(following, zone).start
        blocks = session.execute(
            select(Block, Plan.goal)
            .join(Plan, Plan.id == Block.plan_id)
            .where(Plan.user_id == user.id, Block.start >= start, Block.start < end)
        ).all()
        if not blocks:
            continue  # not using GrowthGuard that quarter
        kept = sum(
            round((b.end - b.start).total_seconds() / 60)
            for b, _ in blocks
            if b.state == BlockState.BOOKED and b.end <= now
        )
        goals = sorted({goal for _, goal in blocks})
        payload = {
            "quarter": f"{year}Q{quarter}",
            "kept_minutes": kept,
            "goals": goals,
            "message": quarterly_message(year, quarter, kept, goals),
            # growth hook: the in-app list links the review page of that quarter
            "url": f"/dashboard/review?quarter={year}-Q{quarter}",
            "link_text": "Open the quarterly review",
        }
        if public_url:
            payload["review_url"] = public_url.rstrip("/") + str(payload["url"])
        if outbox.record(session, user.id, "review.quarterly", payload, dedupe_key=key):
            sent += 1
    return sent


def _already(session: Session, dedupe_key: str) -> bool:
    found = session.scalar(select(Notification.id).where(Notification.dedupe_key == dedupe_key))
    return found is not None

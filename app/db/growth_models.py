"""Growth tables: milestones, the growth log, counting rules and marks, quarterly reviews.

Kept apart from models.py (imported there so Alembic sees them).
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import Boolean, Date, ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from app.db.base import Base, utc_now


class Milestone(Base):
    """A dated checkpoint on the way to a plan's goal."""

    __tablename__ = "growth_milestones"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    plan_id: Mapped[int] = mapped_column(ForeignKey("plans.id", ondelete="CASCADE"), index=True)
    title: Mapped[str] = mapped_column(String(200))
    due: Mapped[date] = mapped_column(Date)
    done_on: Mapped[date | None] = mapped_column(Date)
    created_at: Mapped[datetime] = mapped_column(default=utc_now)


class LogEntry(Base):
    """What the person did in a growth block (one line) and, optionally, what came of it."""

    __tablename__ = "growth_log_entries"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    # One entry per block at most; None for an entry about growth outside a block (or when the
    # block's plan was deleted: the entry is evidence and outlives it).
    block_id: Mapped[int | None] = mapped_column(
        ForeignKey("blocks.id", ondelete="SET NULL"), unique=True
    )
    day: Mapped[date] = mapped_column(Date)
    text: Mapped[str] = mapped_column(String(300))
    outcome: Mapped[str] = mapped_column(String(300), default="")
    milestone_id: Mapped[int | None] = mapped_column(
        ForeignKey("growth_milestones.id", ondelete="SET NULL")
    )
    created_at: Mapped[datetime] = mapped_column(default=utc_now)
    updated_at: Mapped[datetime] = mapped_column(default=utc_now, onupdate=utc_now)


class GrowthSettings(Base):
    """Which other calendar events count as growth: the tag, organizers, title words, calendars."""

    __tablename__ = "growth_settings"

    user_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    rules: Mapped[dict[str, Any]]


class EventMark(Base):
    """The person's own say on one event: growth (True) or not (False), whatever the rules say."""

    __tablename__ = "growth_event_marks"
    __table_args__ = (UniqueConstraint("calendar_id", "provider_event_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    calendar_id: Mapped[int] = mapped_column(ForeignKey("calendars.id", ondelete="CASCADE"))
    provider_event_id: Mapped[str] = mapped_column(String(1024))
    growth: Mapped[bool] = mapped_column(Boolean)


class Review(Base):
    """The person's answers to the quarterly review's three prompts."""

    __tablename__ = "growth_reviews"
    __table_args__ = (UniqueConstraint("user_id", "quarter"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    quarter: Mapped[str] = mapped_column(String(8))  # "2027-Q1"
    worked: Mapped[str] = mapped_column(Text, default="")
    drained: Mapped[str] = mapped_column(Text, default="")
    changes: Mapped[str] = mapped_column(Text, default="")
    updated_at: Mapped[datetime] = mapped_column(default=utc_now, onupdate=utc_now)


class BlockLabel(Base):
    """The title last written on a block's event, so booking rewrites only what changed."""

    __tablename__ = "growth_block_labels"

    slot_key: Mapped[str] = mapped_column(String(64), primary_key=True)
    plan_id: Mapped[int] = mapped_column(ForeignKey("plans.id", ondelete="CASCADE"), index=True)
    title: Mapped[str] = mapped_column(String(200))

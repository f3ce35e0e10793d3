"""Quiet during blocks: a person's Slack connection and one quiet period per block.

Kept apart from models.py (imported there so Alembic sees them).
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import BigInteger, Boolean, ForeignKey, Integer, LargeBinary, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from app.db.base import Base, utc_now


class SlackStatus(StrEnum):
    OK = "ok"
    NEEDS_REAUTH = "needs_reauth"  # the token was revoked or lacks a scope: reconnect
    ERROR = "error"  # retries were spent; the next sweep tries again


class QuietState(StrEnum):
    STARTING = "starting"  # the status before is remembered; ours may or may not be set yet
    ON = "on"  # our status and snooze are set
    DONE = "done"  # restored (or left alone: the person changed it meanwhile)


class SlackLink(Base):
    """One person's Slack user token (encrypted) and whether quiet mode is on."""

    __tablename__ = "slack_links"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), unique=True)
    team_id: Mapped[str] = mapped_column(String(32), default="")
    team_name: Mapped[str] = mapped_column(String(200), default="")
    slack_user_id: Mapped[str] = mapped_column(String(32), default="")
    # Fernet ciphertext of {"access_token": ...}, like Account.credentials.
    credentials: Mapped[bytes] = mapped_column(LargeBinary)
    scopes: Mapped[str] = mapped_column(String(500), default="")
    quiet_enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    status: Mapped[SlackStatus] = mapped_column(String(32), default=SlackStatus.OK)
    status_detail: Mapped[str] = mapped_column(Text, default="")
    # Transient failures in a row (the RetryPolicy's attempt), and when to try again.
    failures: Mapped[int] = mapped_column(Integer, default=0)
    retry_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utc_now)
    updated_at: Mapped[datetime] = mapped_column(default=utc_now, onupdate=utc_now)


class QuietPeriod(Base):
    """Quiet during one block: what we set, what was there before, and how it ended."""

    __tablename__ = "quiet_periods"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    # One period per block (the unique key makes a second sweep start nothing); a block
    # deleted meanwhile leaves the period open, to be restored.
    block_id: Mapped[int | None] = mapped_column(
        ForeignKey("blocks.id", ondelete="SET NULL"), unique=True
    )
    state: Mapped[QuietState] = mapped_column(String(16), default=QuietState.STARTING)
    ends_at: Mapped[datetime]
    status_text: Mapped[str] = mapped_column(String(100))
    status_emoji: Mapped[str] = mapped_column(String(100))
    previous_text: Mapped[str] = mapped_column(Text, default="")
    previous_emoji: Mapped[str] = mapped_column(String(200), default="")
    previous_expiration: Mapped[int] = mapped_column(BigInteger, default=0)
    snooze_until: Mapped[datetime | None]
    outcome: Mapped[str] = mapped_column(String(32), default="")
    started_at: Mapped[datetime]
    ended_at: Mapped[datetime | None]

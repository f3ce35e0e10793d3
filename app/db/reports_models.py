"""Report tables (kept apart from models.py; imported there so Alembic sees them)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey
from sqlalchemy.orm import Mapped, mapped_column

from app.db.base import Base


class Baseline(Base):
    """The person's time split over the four complete weeks before they connected."""

    __tablename__ = "baselines"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), unique=True)
    computed_at: Mapped[datetime]
    # {"timezone", "keyword", "weeks": [{week, working/meeting/growth/free minutes}], "total"}
    data: Mapped[dict[str, Any]]

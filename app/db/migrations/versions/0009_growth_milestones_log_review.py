"""growth: milestones, the growth log, counting rules and marks, reviews, block labels

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-29 08:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _user_fk(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        ["user_id"], ["users.id"], name=op.f(f"fk_{table}_user_id_users"), ondelete="CASCADE"
    )


def upgrade() -> None:
    op.create_table(
        "growth_milestones",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("plan_id", sa.Integer(), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("due", sa.Date(), nullable=False),
        sa.Column("done_on", sa.Date(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        _user_fk("growth_milestones"),
        sa.ForeignKeyConstraint(
            ["plan_id"],
            ["plans.id"],
            name=op.f("fk_growth_milestones_plan_id_plans"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_growth_milestones")),
    )
    op.create_index(
        op.f("ix_growth_milestones_user_id"), "growth_milestones", ["user_id"], unique=False
    )
    op.create_index(
        op.f("ix_growth_milestones_plan_id"), "growth_milestones", ["plan_id"], unique=False
    )
    op.create_table(
        "growth_log_entries",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("block_id", sa.Integer(), nullable=True),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("text", sa.String(length=300), nullable=False),
        sa.Column("outcome", sa.String(length=300), nullable=False),
        sa.Column("milestone_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        _user_fk("growth_log_entries"),
        sa.ForeignKeyConstraint(
            ["block_id"],
            ["blocks.id"],
            name=op.f("fk_growth_log_entries_block_id_blocks"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["milestone_id"],
            ["growth_milestones.id"],
            name=op.f("fk_growth_log_entries_milestone_id_growth_milestones"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_growth_log_entries")),
        sa.UniqueConstraint("block_id", name=op.f("uq_growth_log_entries_block_id")),
    )
    op.create_index(
        op.f("ix_growth_log_entries_user_id"), "growth_log_entries", ["user_id"], unique=False
    )
    op.create_table(
        "growth_settings",
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("rules", sa.JSON(), nullable=False),
        _user_fk("growth_settings"),
        sa.PrimaryKeyConstraint("user_id", name=op.f("pk_growth_settings")),
    )
    op.create_table(
        "growth_event_marks",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("calendar_id", sa.Integer(), nullable=False),
        sa.Column("provider_event_id", sa.String(length=1024), nullable=False),
        sa.Column("growth", sa.Boolean(), nullable=False),
        _user_fk("growth_event_marks"),
        sa.ForeignKeyConstraint(
            ["calendar_id"],
            ["calendars.id"],
            name=op.f("fk_growth_event_marks_calendar_id_calendars"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_growth_event_marks")),
        sa.UniqueConstraint(
            "calendar_id",
            "provider_event_id",
            name=op.f("uq_growth_event_marks_calendar_id"),
        ),
    )
    op.create_index(
        op.f("ix_growth_event_marks_user_id"), "growth_event_marks", ["user_id"], unique=False
    )
    op.create_table(
        "growth_reviews",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("quarter", sa.String(length=8), nullable=False),
        sa.Column("worked", sa.Text(), nullable=False),
        sa.Column("drained", sa.Text(), nullable=False),
        sa.Column("changes", sa.Text(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        _user_fk("growth_reviews"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_growth_reviews")),
        sa.UniqueConstraint("user_id", "quarter", name=op.f("uq_growth_reviews_user_id")),
    )
    op.create_table(
        "growth_block_labels",
        sa.Column("slot_key", sa.String(length=64), nullable=False),
        sa.Column("plan_id", sa.Integer(), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.ForeignKeyConstraint(
            ["plan_id"],
            ["plans.id"],
            name=op.f("fk_growth_block_labels_plan_id_plans"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("slot_key", name=op.f("pk_growth_block_labels")),
    )
    op.create_index(
        op.f("ix_growth_block_labels_plan_id"), "growth_block_labels", ["plan_id"], unique=False
    )


def downgrade() -> None:
    op.drop_table("growth_block_labels")
    op.drop_table("growth_reviews")
    op.drop_table("growth_event_marks")
    op.drop_table("growth_settings")
    op.drop_table("growth_log_entries")
    op.drop_table("growth_milestones")

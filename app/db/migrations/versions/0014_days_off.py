"""days off: leave days and the public-holiday region (issue 17 item 4)

Revision ID: 0014
Revises: 0015
Create Date: 2026-11-29
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "leave_days",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("note", sa.String(length=200), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_leave_days_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_leave_days")),
        sa.UniqueConstraint("user_id", "day", name=op.f("uq_leave_days_user_id")),
    )
    op.create_index(op.f("ix_leave_days_user_id"), "leave_days", ["user_id"], unique=False)
    with op.batch_alter_table("users") as batch:
        batch.add_column(sa.Column("holiday_country", sa.String(length=3), nullable=True))
        batch.add_column(sa.Column("holiday_subdivision", sa.String(length=10), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("users") as batch:
        batch.drop_column("holiday_subdivision")
        batch.drop_column("holiday_country")
    op.drop_index(op.f("ix_leave_days_user_id"), table_name="leave_days")
    op.drop_table("leave_days")

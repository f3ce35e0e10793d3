"""defense levels and pinning: a block's level, transparency and pin; the level a conflict
found its block at; weeks whose slots the person chose

Revision ID: 0012
Revises: 0011
Create Date: 2026-11-29
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # server defaults fill the rows that exist: every block so far was booked firm and busy
    with op.batch_alter_table("blocks", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("level", sa.String(length=16), nullable=False, server_default="firm")
        )
        batch_op.add_column(
            sa.Column("busy", sa.Boolean(), nullable=False, server_default=sa.true())
        )
        batch_op.add_column(
            sa.Column("pinned", sa.Boolean(), nullable=False, server_default=sa.false())
        )
    with op.batch_alter_table("conflicts", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("block_level", sa.String(length=16), nullable=False, server_default="firm")
        )
    op.create_table(
        "chosen_weeks",
        sa.Column("plan_id", sa.Integer(), nullable=False),
        sa.Column("week", sa.String(length=8), nullable=False),
        sa.Column("chosen_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["plan_id"],
            ["plans.id"],
            name=op.f("fk_chosen_weeks_plan_id_plans"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("plan_id", "week", name=op.f("pk_chosen_weeks")),
    )


def downgrade() -> None:
    op.drop_table("chosen_weeks")
    with op.batch_alter_table("conflicts", schema=None) as batch_op:
        batch_op.drop_column("block_level")
    with op.batch_alter_table("blocks", schema=None) as batch_op:
        batch_op.drop_column("pinned")
        batch_op.drop_column("busy")
        batch_op.drop_column("level")

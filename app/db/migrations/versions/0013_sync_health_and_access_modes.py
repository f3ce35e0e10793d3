"""sync health (a calendar's last error, in words) and book-only accounts

Revision ID: 0013
Revises: 0011
Create Date: 2026-11-29
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # calendars.last_synced_at exists since 0002; the error side is new.
    with op.batch_alter_table("calendars") as batch:
        batch.add_column(sa.Column("last_error", sa.Text(), nullable=True))
        batch.add_column(sa.Column("last_error_at", sa.DateTime(timezone=True), nullable=True))
    with op.batch_alter_table("accounts") as batch:
        batch.add_column(
            sa.Column("access_mode", sa.String(length=16), nullable=False, server_default="full")
        )


def downgrade() -> None:
    with op.batch_alter_table("accounts") as batch:
        batch.drop_column("access_mode")
    with op.batch_alter_table("calendars") as batch:
        batch.drop_column("last_error_at")
        batch.drop_column("last_error")

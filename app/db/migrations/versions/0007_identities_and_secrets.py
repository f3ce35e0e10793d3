"""security: provider identities, verified emails, single-use links, encrypted channel targets

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-29

Channel targets are encrypted by the application at start-up (`growthguard migrate` or the
first `serve`), because the encryption keys live in settings, never in the migration.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("email_verified_at", sa.DateTime(timezone=True), nullable=True)
        )
    op.create_table(
        "identities",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("provider", sa.String(length=32), nullable=False),
        sa.Column("subject", sa.String(length=320), nullable=False),
        sa.Column("email", sa.String(length=320), nullable=False),
        sa.Column("email_verified", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_identities_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_identities")),
        sa.UniqueConstraint("provider", "subject", name=op.f("uq_identities_provider")),
    )
    with op.batch_alter_table("identities", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_identities_user_id"), ["user_id"], unique=False)
    op.create_table(
        "used_links",
        sa.Column("link_id", sa.String(length=64), nullable=False),
        sa.Column("purpose", sa.String(length=32), nullable=False),
        sa.Column("used_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("link_id", name=op.f("pk_used_links")),
    )
    with op.batch_alter_table("notification_channels", schema=None) as batch_op:
        batch_op.add_column(sa.Column("target_secret", sa.LargeBinary(), nullable=True))

    # Identities of accounts connected before: Google's `sub`, MSAL's home account id
    # ("<oid>.<tid>", the same form the connect flow now builds from the id token) and a CalDAV
    # account's principal URL (its external id is that URL, not an email).
    connection = op.get_bind()
    rows = connection.execute(
        sa.text(
            "SELECT user_id, provider, provider_account_id, external_id, created_at FROM accounts "
            "WHERE provider IN ('google', 'microsoft', 'caldav') "
            "AND provider_account_id IS NOT NULL ORDER BY id"
        )
    ).all()
    seen: set[tuple[str, str]] = set()
    for user_id, provider, subject, email, created_at in rows:
        if (provider, subject) in seen:
            continue
        seen.add((provider, subject))
        connection.execute(
            sa.text(
                "INSERT INTO identities (user_id, provider, subject, email, email_verified, "
                "created_at) VALUES (:u, :p, :s, :e, :v, :c)"
            ),
            # Google sign-in always required a verified email; Microsoft's was never proven.
            {
                "u": user_id,
                "p": provider,
                "s": subject,
                "e": "" if provider == "caldav" else email,
                "v": provider == "google",
                "c": created_at,
            },
        )
    # Only Google proved an address before this revision; everyone else stays unproven, which
    # only means: no linking by email (they sign in as before).
    connection.execute(
        sa.text(
            "UPDATE users SET email_verified_at = created_at WHERE id IN "
            "(SELECT user_id FROM accounts WHERE provider = 'google' "
            "AND lower(external_id) = lower(users.email))"
        )
    )


def downgrade() -> None:
    with op.batch_alter_table("notification_channels", schema=None) as batch_op:
        batch_op.drop_column("target_secret")
    op.drop_table("used_links")
    with op.batch_alter_table("identities", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_identities_user_id"))
    op.drop_table("identities")
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.drop_column("email_verified_at")

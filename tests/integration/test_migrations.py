"""The migrations build the schema the models describe, and reverse cleanly."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Engine, inspect

from app.db.migrate import downgrade, upgrade
from app.db.models import Base


def test_schema_matches_the_models(engine: Engine):
    with engine.connect() as connection:
        context = MigrationContext.configure(
            connection,
            opts={
                "include_object": lambda obj, name, type_, *_: (
                    not (type_ == "table" and name == "apscheduler_jobs")
                )
            },
        )
        diff = compare_metadata(context, Base.metadata)
    assert diff == []


def test_downgrade_and_upgrade_round_trip(db_url: str, engine: Engine):
    downgrade(db_url, "base")
    assert set(inspect(engine).get_table_names()) <= {"alembic_version", "apscheduler_jobs"}
    upgrade(db_url)
    assert {"users", "plans", "blocks", "notifications", "audit_log"} <= set(
        inspect(engine).get_table_names()
    )

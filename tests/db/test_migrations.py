"""The Alembic migrations build exactly the schema the SQLModel tables describe."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Engine, inspect
from sqlmodel import SQLModel

import db.tables  # noqa: F401
from db.engine import migrate


def test_migrated_schema_matches_the_models(engine: Engine) -> None:
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), SQLModel.metadata)
    assert diff == []
    assert {"complaints", "complaint_events", "outbox", "staff", "staff_service_history"} <= set(
        inspect(engine).get_table_names()
    )


def test_migrating_twice_changes_nothing(engine: Engine, database_url: str) -> None:
    migrate(database_url)
    with engine.connect() as conn:
        assert MigrationContext.configure(conn).get_current_revision() == "0021"

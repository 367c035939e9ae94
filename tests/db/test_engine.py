"""Engine and migrations on a fresh machine."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import inspect, text
from sqlalchemy.exc import IntegrityError

from db.engine import make_engine, migrate


def test_migrate_creates_the_sqlite_directory(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'not' / 'yet' / 'there.db'}"
    migrate(url)
    assert "complaints" in inspect(make_engine(url)).get_table_names()


def test_upgrading_a_database_that_holds_complaints(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'old.db'}"
    migrate(url, "0001")
    engine = make_engine(url)
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO complaints (complaint_id, workflow_id, source_system, source_reference, channel, "
                "category, status, customer_id, customer_name, sla_breached, last_seq, snapshot, received_at, "
                "updated_at) VALUES "
                "('CMP-1', 'complaint-CMP-1', 's', 'r', 'phone', 'other', 'in_handling', 'C-1', 'n', 0, 1, '{}', "
                "'2026-11-01 00:00:00', '2026-11-01 00:00:00')"
            )
        )
    migrate(url)
    with engine.connect() as conn:
        assert conn.execute(text("SELECT reopened_count, root_cause FROM complaints")).one() == (0, None)


def test_upgrading_keeps_the_service_history_and_keys_new_entries(tmp_path: Path) -> None:
    """0003 swaps the (staff, day, kind) uniqueness for the writer's key, keeping every row."""
    url = f"sqlite:///{tmp_path / 'old.db'}"
    migrate(url, "0002")
    engine = make_engine(url)
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO staff_service_history (staff_id, occurred_on, kind, note) "
                "VALUES ('S-RM-007', '2026-03-14', 'complaint', 'curt replies')"
            )
        )
    migrate(url)
    insert = text(
        "INSERT INTO staff_service_history (staff_id, occurred_on, kind, note, source_key) "
        "VALUES ('S-RM-007', '2026-11-28', 'warning', :note, :key)"
    )
    with engine.begin() as conn:
        assert conn.execute(text("SELECT note, source_key FROM staff_service_history")).one() == ("curt replies", None)
        # Two investigations may warn the same person on the same day.
        conn.execute(insert, {"note": "first", "key": "investigation-CMP-1:S-RM-007:accountability"})
        conn.execute(insert, {"note": "second", "key": "investigation-CMP-2:S-RM-007:accountability"})
    with pytest.raises(IntegrityError), engine.begin() as conn:
        conn.execute(insert, {"note": "again", "key": "investigation-CMP-1:S-RM-007:accountability"})

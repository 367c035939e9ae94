"""Engine and migrations on a fresh machine."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import inspect

from db.engine import make_engine, migrate


def test_migrate_creates_the_sqlite_directory(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'not' / 'yet' / 'there.db'}"
    migrate(url)
    assert "complaints" in inspect(make_engine(url)).get_table_names()

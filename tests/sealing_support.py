"""What the tests of sealing at rest share: key rings, a database of their own, raw rows.

Sealed rows stay out of the session's shared database: a later test there runs with no key ring
(tests/conftest.py) and would fail, rightly, on a value it cannot open.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

from sqlalchemy import Engine

from complaints.codec import KeyRing
from complaints.keys import set_up_demo_keys
from db.engine import make_engine, migrate
from db.seed import seed_staff_directory
from tests.conftest import STAFF_DIRECTORY, _postgres_database

K1 = KeyRing(current="k1", keys={"k1": b"\x11" * 32}, source="test ring k1")
ROTATED = KeyRing(current="k2", keys={"k1": b"\x11" * 32, "k2": b"\x22" * 32}, source="test ring k1+k2")
ONLY_K2 = KeyRing(current="k2", keys={"k2": b"\x22" * 32}, source="test ring without k1")


def own_engine(backend: str, tmp_path: Path) -> Iterator[Engine]:
    """A migrated database of the caller's own on ``backend`` (sqlite or postgresql), staff and keys seeded."""
    urls = iter([f"sqlite:///{tmp_path / 'sealed.db'}"]) if backend == "sqlite" else _postgres_database()
    for url in urls:
        migrate(url)
        engine = make_engine(url)
        seed_staff_directory(engine, STAFF_DIRECTORY)
        set_up_demo_keys(engine)  # staff sign their actions (tests/conftest.py's engine does the same)
        try:
            yield engine
        finally:
            engine.dispose()


RAW = {
    "complaints": "SELECT * FROM complaints WHERE complaint_id = :id",
    "complaint_events": "SELECT * FROM complaint_events WHERE complaint_id = :id",
    "outbox": "SELECT * FROM outbox WHERE complaint_id = :id",
    "investigations": "SELECT * FROM investigations WHERE complaint_id = :id",
}


def raw_rows(engine: Engine, complaint_id: str) -> dict[str, list[dict[str, Any]]]:
    """The complaint's rows as the database holds them: plain SQL, no ORM, no column types."""
    from sqlalchemy import text

    with engine.connect() as conn:
        return {
            table: [dict(r._mapping) for r in conn.execute(text(sql), {"id": complaint_id})]
            for table, sql in RAW.items()
        }


def raw_text(rows: dict[str, list[dict[str, Any]]]) -> str:
    """Every stored value as text (JSON columns come back as their JSON text or parsed, either way)."""
    return "\n".join(repr(value) for table in rows.values() for row in table for value in row.values())

"""Seed the staff directory from db/staff_directory.yaml (idempotent upsert).

Every field is the file's at each worker start, but ``service_quality_score``: the file's value
is only the starting one, for a member first inserted; after that the quarterly scorecard
computes it (``db.scorecards.store_scores``), and a restart must not undo that.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import Engine
from sqlmodel import Session, select

from db.tables import Staff, StaffServiceEvent

ROLES = ("handler", "relationship_manager", "legal", "finance", "manager", "senior_manager", "compliance")


class _StaffEntry(BaseModel):
    model_config = ConfigDict(extra="forbid")
    staff_id: str = Field(min_length=1, max_length=64)
    name: str = Field(min_length=1)
    role: str = Field(pattern="^(" + "|".join(ROLES) + ")$")
    team: str
    manager_id: str | None = None
    skills: list[str] = []
    languages: list[str] = []
    service_quality_score: float = Field(ge=0, le=100)
    active: bool = True
    # Issue 16: public keys only (db.staff_keys.seed_staff_keys puts them in staff_keys).
    public_keys: list[dict[str, Any]] = []


class _HistoryEntry(BaseModel):
    model_config = ConfigDict(extra="forbid")
    staff_id: str
    occurred_on: date
    kind: str
    note: str


class _Directory(BaseModel):
    model_config = ConfigDict(extra="forbid")
    staff: list[_StaffEntry]
    service_history: list[_HistoryEntry] = []


def _upsert(session: Session, entry: _StaffEntry) -> None:
    """Insert a new member as the file has them; update an existing one, keeping their score."""
    existing = session.get(Staff, entry.staff_id)
    if existing is None:
        session.add(Staff(**entry.model_dump(exclude={"public_keys"})))
        return
    for field, value in entry.model_dump(exclude={"staff_id", "service_quality_score", "public_keys"}).items():
        setattr(existing, field, value)
    session.add(existing)


def seed_staff_directory(engine: Engine, path: Path) -> int:
    directory = _Directory.model_validate(yaml.safe_load(Path(path).read_text(encoding="utf-8")))
    with Session(engine) as session:
        for entry in directory.staff:
            _upsert(session, entry)
        for item in directory.service_history:
            exists = session.exec(
                select(StaffServiceEvent).where(
                    StaffServiceEvent.staff_id == item.staff_id,
                    StaffServiceEvent.occurred_on == item.occurred_on,
                    StaffServiceEvent.kind == item.kind,
                )
            ).first()
            if not exists:
                session.add(StaffServiceEvent(**item.model_dump()))
        session.commit()
    return len(directory.staff)

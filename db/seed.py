"""Seed the staff directory from db/staff_directory.yaml (idempotent upsert)."""

from __future__ import annotations

from datetime import date
from pathlib import Path

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


def seed_staff_directory(engine: Engine, path: Path) -> int:
    directory = _Directory.model_validate(yaml.safe_load(Path(path).read_text(encoding="utf-8")))
    with Session(engine) as session:
        for entry in directory.staff:
            session.merge(Staff(**entry.model_dump()))
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

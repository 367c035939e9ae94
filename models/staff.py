"""Staff as a complaint sees them: the roster it loads, the handler it is given, a named staff member's record."""

from __future__ import annotations

from pydantic import BaseModel, Field

from models.base import Model
from models.policy import Role
from models.signature import StaffKey


class RosterEntry(BaseModel):
    staff_id: str
    name: str
    role: Role
    team: str
    manager_id: str | None = None
    skills: list[str] = Field(default_factory=list)
    languages: list[str] = Field(default_factory=list)


class StaffRoster(BaseModel):
    entries: list[RosterEntry]
    # The registered public keys of these people (issue 16), for the signature check.
    keys: list[StaffKey] = Field(default_factory=list)


class StaffKeys(BaseModel):
    """The registered public keys a workflow checks signatures against (``refresh_staff_keys``)."""

    keys: list[StaffKey] = Field(default_factory=list)


class RosterRequest(BaseModel):
    complaint_id: str


class HandlerChoiceRequest(BaseModel):
    complaint_id: str
    category: str
    language: str
    exclude: list[str] = Field(default_factory=list)
    # The complaint's tier and pinned policy: by the policy's switch, complex and major complaints
    # skip handlers overdue on training mandatory for the category (absent from older histories).
    tier: str | None = None
    policy_version: str | None = None


class HandlerChoice(BaseModel):
    staff_id: str | None
    reason: str


class ServiceEvent(Model):
    occurred_on: str
    kind: str
    note: str


class StaffRecord(Model):
    staff_id: str
    found: bool
    name: str | None = None
    role: str | None = None
    team: str | None = None
    service_quality_score: float | None = None
    service_history: list[ServiceEvent] = Field(default_factory=list)
    open_complaints_naming_them: int = 0


class StaffLookupRequest(Model):
    complaint_id: str
    staff_id: str

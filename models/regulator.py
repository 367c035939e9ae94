"""Reports to regulators: one thread per regulator, each filed exactly once."""

from __future__ import annotations

from decimal import Decimal
from typing import Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

ReportReason = Literal["lodged_with_regulator", "referred_by_regulator", "suspected_illegal_conduct"]


class RegulatorReport(BaseModel):
    """The initial report on a complaint lodged with, referred by, or reportable to a regulator."""

    model_config = ConfigDict(extra="forbid")

    idempotency_key: str = Field(min_length=1, max_length=160)
    report_type: Literal["initial"] = "initial"
    sequence: int = Field(ge=1)
    regulator: str = Field(pattern=r"^[A-Z][A-Z0-9_-]+$")
    complaint_id: str
    reason: ReportReason
    received_at: AwareDatetime
    reported_at: AwareDatetime
    customer_id: str
    customer_name: str
    company: str | None = None
    category: str
    tier: str
    summary: str = Field(min_length=1, max_length=200)
    contract_number: str | None = None
    amount_in_dispute: Decimal | None = Field(default=None, ge=0)
    currency: str | None = None
    handling_status: str


class FileReportRequest(BaseModel):
    complaint_id: str
    report: RegulatorReport


class RegulatorReceipt(BaseModel):
    idempotency_key: str
    regulator: str
    acknowledgement_id: str
    already_filed: bool


class RegulatorThread(BaseModel):
    """One regulator's report, tracked to its acknowledgement."""

    regulator: str
    reason: str
    idempotency_key: str
    due_at: AwareDatetime
    state: Literal["pending", "acknowledged", "rejected"] = "pending"
    attempts: int = 0
    escalated: bool = False
    acknowledgement_id: str | None = None
    rejection: str | None = None

"""Retention (issue 16): how long a closed complaint's personal data is kept, and the messages of the
``RetentionWorkflow`` that erases it afterwards (``workflows/retention.py``).

The policy's ``retention`` section says how long after closure (``period``), how often the
Temporal Schedule looks (``check_every``) and how many complaints one page reads
(``page_size``). A run finds complaints closed longer ago than the period and not anonymised
yet, a page at a time after a cursor (closed_at, complaint_id), and anonymises each in one
transaction (``db/retention.py``).
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from pydantic import AwareDatetime, BaseModel, Field, field_validator

from models.base import PolicyModel, TimeLimit, TimeUnit

# A period counts in clock time: business days would move the erasure with holidays.
CLOCK_UNITS = (TimeUnit.SECONDS, TimeUnit.MINUTES, TimeUnit.HOURS, TimeUnit.CALENDAR_DAYS)


class RetentionPolicy(PolicyModel):
    period: TimeLimit = Field(
        default_factory=lambda: TimeLimit(amount=1827, unit=TimeUnit.CALENDAR_DAYS),
        description="How long after its closure a complaint's personal data is kept (5 years: 1827 days).",
    )
    check_every: TimeLimit = Field(
        default_factory=lambda: TimeLimit(amount=1, unit=TimeUnit.CALENDAR_DAYS),
        description="How often the retention schedule looks for complaints past the period.",
    )
    page_size: int = Field(default=100, ge=1, le=1000, description="Complaints read from the database per page.")

    @field_validator("period", "check_every")
    @classmethod
    def _clock_time(cls, value: TimeLimit) -> TimeLimit:
        if value.amount < 1 or value.unit not in CLOCK_UNITS:
            raise ValueError("at least 1, in seconds, minutes, hours or calendar days")
        return value


class RetentionRequest(BaseModel):
    """What starts a retention run (the schedule, or ``complaints retention run``)."""

    requested_by: str = Field(default="schedule", max_length=80)


class RetentionPlan(BaseModel):
    """The policy's retention as the run pins it (read once, in the run's first activity)."""

    policy_version: str
    period: str  # as people read it: "1827 calendar days"
    period_seconds: int = Field(ge=1)
    page_size: int = Field(ge=1)


class RetentionCursor(BaseModel):
    """The last complaint a page returned: the next page starts after it."""

    closed_at: AwareDatetime
    complaint_id: str


class RetentionPage(BaseModel):
    cutoff: AwareDatetime  # closed before this: past the period
    after: RetentionCursor | None = None
    limit: int = Field(ge=1)


class Candidate(BaseModel):
    complaint_id: str
    workflow_id: str
    closed_at: AwareDatetime


class AnonymiseRequest(BaseModel):
    """Anonymise one complaint (idempotent on its id: a second call finds it done)."""

    complaint_id: str
    workflow_id: str
    closed_at: AwareDatetime
    cutoff: AwareDatetime
    policy_version: str
    period: str
    period_seconds: int
    run_id: str = Field(description="The retention workflow that did it, for the audit event.")


class Outcome(StrEnum):
    ANONYMISED = "anonymised"
    ALREADY = "already"  # anonymised before (a retry, or another run)
    SKIPPED = "skipped"  # no longer eligible (reopened) or its workflow still runs


class AnonymiseResult(BaseModel):
    complaint_id: str
    outcome: Outcome
    reason: str = ""
    erased: dict[str, int] = Field(default_factory=dict)  # rows changed per table


class RetentionState(BaseModel):
    """A run's state, carried into the next run when it continues as new."""

    request: RetentionRequest
    plan: RetentionPlan | None = None
    cutoff: AwareDatetime | None = None
    started_at: AwareDatetime | None = None
    cursor: RetentionCursor | None = None
    anonymised: int = 0
    already: int = 0
    skipped: int = 0
    skipped_recent: list[str] = Field(default_factory=list, description="The last few skipped, with the reason.")
    pages: int = 0
    pages_per_run: int = Field(default=10, ge=1, description="Pages a run reads before it continues as new.")
    run: int = 1
    finished_at: datetime | None = None

    @property
    def done(self) -> bool:
        return self.finished_at is not None


class RetentionStatus(BaseModel):
    """What ``complaints retention status`` shows, counted from the database."""

    policy_version: str
    period: str
    cutoff: AwareDatetime
    anonymised: int
    due: int  # closed before the cutoff and not anonymised yet
    last_anonymised_at: AwareDatetime | None = None

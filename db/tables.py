"""SQLModel tables. The schema itself is created by the Alembic migrations in db/migrations."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import JSON, Column, DateTime, Index, Numeric, UniqueConstraint, text
from sqlalchemy.types import TypeDecorator
from sqlmodel import Field, SQLModel

from db.sealing import SealedDetail, SealedJSON, SealedText, sealed_json  # README, 'The projection: encrypted at rest'


def utc_now() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """Aware datetimes in, aware UTC datetimes out, on SQLite (no time zones) and PostgreSQL."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime: every timestamp stored must carry a time zone")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _ts(nullable: bool = True, index: bool = False) -> Any:
    return Field(default=None, sa_column=Column(UTCDateTime(), nullable=nullable, index=index))


class Complaint(SQLModel, table=True):
    """Projection of a complaint's current state, written only by workflow activities."""

    __tablename__ = "complaints"
    __table_args__ = (UniqueConstraint("source_system", "source_reference", name="uq_complaints_source"),)

    complaint_id: str = Field(primary_key=True, max_length=32)
    workflow_id: str = Field(max_length=64)
    source_system: str = Field(max_length=64)
    source_reference: str = Field(max_length=128)
    channel: str = Field(max_length=32, index=True)
    category: str = Field(max_length=32, index=True)
    tier: str | None = Field(default=None, max_length=16, index=True)
    tier_rule: str | None = Field(default=None, max_length=64)
    status: str = Field(max_length=32, index=True)
    customer_id: str = Field(max_length=64, index=True)
    customer_name: str = Field(max_length=200, sa_type=SealedText("complaints.customer_name"))
    contract_number: str | None = Field(default=None, max_length=64, index=True)
    staff_named: str | None = Field(default=None, max_length=64, index=True)
    assignee: str | None = Field(default=None, max_length=64, index=True)
    policy_version: str | None = Field(default=None, max_length=60)
    received_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False, index=True))
    acknowledged_at: datetime | None = _ts()
    next_deadline: datetime | None = _ts(index=True)
    closed_at: datetime | None = _ts(index=True)
    sla_breached: bool = Field(default=False, index=True)
    reopened_count: int = 0
    satisfaction: int | None = None
    root_cause: str | None = Field(default=None, max_length=40, index=True)
    outcome: str | None = Field(default=None, max_length=40)
    # What the customer was sent on accepting a resolution: final_response or summary_resolution.
    resolution_communication: str | None = Field(default=None, max_length=24, index=True)
    team: list[str] | None = Field(default=None, sa_column=Column(JSON, nullable=True))
    # For the analysis (0007): product from the intake; the rest derived from the audit log by
    # db/analysis_facts.py up to facts_seq (behind last_seq until the next refresh).
    product: str | None = Field(default=None, max_length=64, index=True)
    region: str | None = Field(default=None, max_length=8)  # 0013: for surge detection
    resolved_at: datetime | None = _ts()
    remedy_paid: Decimal | None = Field(default=None, sa_column=Column(Numeric(18, 2), nullable=True))
    # 0019: the intake's amounts in dispute, totalled in their currency (the first amount's, if
    # they are in several); None for complaints disputing no amount and rows filed before it.
    amount_in_dispute: Decimal | None = Field(default=None, sa_column=Column(Numeric(20, 2), nullable=True))
    amount_currency: str | None = Field(default=None, max_length=3)
    escalations: int = 0
    extensions: int = 0
    facts_seq: int = 0
    last_seq: int = 0
    # 0018: when retention erased its personal data (db/retention.py); None while it is kept.
    anonymised_at: datetime | None = _ts(index=True)
    # The whole case file, as events carried it before they were lean (empty for newer rows:
    # the workflow's `status` query is the case file).
    snapshot: dict[str, Any] = sealed_json(SealedJSON("complaints.snapshot"))
    updated_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))


class ComplaintEventRow(SQLModel, table=True):
    """Append-only audit log: one row per workflow event, never updated."""

    __tablename__ = "complaint_events"
    __table_args__ = (UniqueConstraint("complaint_id", "seq", name="uq_complaint_events_seq"),)

    id: int | None = Field(default=None, primary_key=True)
    complaint_id: str = Field(max_length=32, index=True)
    seq: int
    kind: str = Field(max_length=48)
    actor: str = Field(max_length=80)  # a staff id, or intake:<source system> (71)
    at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    detail: dict[str, Any] = sealed_json(SealedDetail("complaint_events"))
    recorded_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))


class ComplaintClock(SQLModel, table=True):
    """Each clock of a complaint as its audit log leaves it (one row per complaint and clock name)."""

    __tablename__ = "complaint_clocks"
    __table_args__ = (
        Index("ix_complaint_clocks_name_started", "name", "started_at"),
        Index("ix_complaint_clocks_settled_at", "settled_at"),
        Index(
            "ix_complaint_clocks_breached_at",
            "breached_at",
            postgresql_where=text("breached_at IS NOT NULL"),
            sqlite_where=text("breached_at IS NOT NULL"),
        ),
    )

    complaint_id: str = Field(primary_key=True, max_length=32)
    name: str = Field(primary_key=True, max_length=64)  # regulator_report_<code>: up to 49
    started_at: datetime | None = _ts()
    due_at: datetime | None = _ts()
    settled_at: datetime | None = _ts()  # when its duty was done (met, or done late)
    breached_at: datetime | None = _ts()
    state: str = Field(max_length=16)  # running, paused, met, breached, stopped


class ComplaintClause(SQLModel, table=True):
    """A contract clause a complaint cites: a contract dispute's clause references (``intake``), or
    the clause its root cause blames (``root_cause``, 0020: with the template, if it named one)."""

    __tablename__ = "complaint_clauses"

    complaint_id: str = Field(primary_key=True, max_length=32)
    clause: str = Field(primary_key=True, max_length=200, index=True)
    source: str = Field(default="intake", max_length=16, sa_column_kwargs={"server_default": "intake"})
    template: str | None = Field(default=None, max_length=40)


class AnalysisReport(SQLModel, table=True):
    """A periodic analysis or regulator's return as produced: its files on disk, and a summary."""

    __tablename__ = "analysis_reports"
    __table_args__ = (
        UniqueConstraint("kind", "period_start", "period_end", "version", name="uq_analysis_report_version"),
        UniqueConstraint("run_key", name="uq_analysis_report_run_key"),
    )

    id: int | None = Field(default=None, primary_key=True)
    kind: str = Field(max_length=32)  # analysis, or a ReturnKind
    period_label: str = Field(max_length=32)  # 2026-10, 2026-Q3, 2026-H1, or from..to
    period_start: date
    period_end: date  # inclusive
    version: int  # 1, 2, ... each run for the same kind and period replaces the one before
    run_key: str = Field(max_length=200)  # the workflow run and kind: a retry finds its own version
    policy_version: str = Field(max_length=60)
    directory: str = Field(max_length=500)
    files: dict[str, str] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    summary: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    created_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))


class OutboxMessage(SQLModel, table=True):
    """Every notification, recorded before it leaves; the idempotency key makes sending once."""

    __tablename__ = "outbox"

    id: int | None = Field(default=None, primary_key=True)
    idempotency_key: str = Field(max_length=160, unique=True)
    complaint_id: str = Field(max_length=32, index=True)
    kind: str = Field(max_length=48)
    channel: str = Field(max_length=16)
    recipient: str = Field(max_length=500, sa_type=SealedText("outbox.recipient"))  # the longest: a postal address
    language: str = Field(max_length=8)
    subject: str = Field(max_length=300, sa_type=SealedText("outbox.subject"))
    body: str = Field(sa_type=SealedText("outbox.body"))
    status: str = Field(max_length=16)
    created_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    sent_at: datetime | None = _ts()


class Staff(SQLModel, table=True):
    __tablename__ = "staff"

    staff_id: str = Field(primary_key=True, max_length=64)
    name: str = Field(max_length=200)
    role: str = Field(max_length=32, index=True)
    team: str = Field(max_length=64)
    manager_id: str | None = Field(default=None, max_length=64)
    skills: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    languages: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    service_quality_score: float
    active: bool = True


class StaffServiceEvent(SQLModel, table=True):
    """A staff member's service history: commendations, complaints, training, reviews."""

    __tablename__ = "staff_service_history"
    __table_args__ = (UniqueConstraint("source_key", name="uq_staff_service_source_key"),)

    id: int | None = Field(default=None, primary_key=True)
    staff_id: str = Field(max_length=64, index=True)
    occurred_on: date
    kind: str = Field(max_length=32)
    note: str = Field(max_length=500)
    # What wrote the row (an investigation's accountability decision), so a retry adds nothing.
    source_key: str | None = Field(default=None, max_length=160)


class InvestigationRow(SQLModel, table=True):
    """The current state of each internal investigation (one per major complaint)."""

    __tablename__ = "investigations"

    investigation_id: str = Field(primary_key=True, max_length=64)
    complaint_id: str = Field(max_length=32, index=True)
    stage: str = Field(max_length=32, index=True)
    lead: str | None = Field(default=None, max_length=64, index=True)
    opened_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    due_at: datetime | None = _ts()
    breached: bool = Field(default=False)
    concluded_at: datetime | None = _ts()
    accountability: str | None = Field(default=None, max_length=16)
    suspected_illegal: bool = Field(default=False)
    last_seq: int = 0
    file: dict[str, Any] = sealed_json(SealedJSON("investigations.file"))
    updated_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))


class InvestigationEventRow(SQLModel, table=True):
    """The investigation's append-only audit log; (investigation_id, seq) is unique."""

    __tablename__ = "investigation_events"
    __table_args__ = (UniqueConstraint("investigation_id", "seq", name="uq_investigation_event_seq"),)

    id: int | None = Field(default=None, primary_key=True)
    investigation_id: str = Field(max_length=64, index=True)
    seq: int
    kind: str = Field(max_length=48)
    actor: str = Field(max_length=64)
    at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    detail: dict[str, Any] = sealed_json(SealedDetail("investigation_events"))
    recorded_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))


class TrainingAssignmentRow(SQLModel, table=True):
    """Each training assignment as its workflow leaves it (step 4)."""

    __tablename__ = "training_assignments"

    assignment_id: str = Field(primary_key=True, max_length=120)
    staff_id: str = Field(max_length=64, index=True)
    course: str = Field(max_length=64, index=True)
    source: str = Field(max_length=16)  # joining, renewal, investigation, threshold, manual
    reason: str = Field(max_length=500)
    assigned_by: str = Field(max_length=80)
    status: str = Field(max_length=16, index=True)  # assigned, overdue, completed, cancelled
    assigned_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    due_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    reminded_at: datetime | None = _ts()
    overdue_at: datetime | None = _ts()
    completed_at: datetime | None = _ts()
    completed_by: str | None = Field(default=None, max_length=80)
    workflow_id: str = Field(max_length=160)
    updated_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))


class AwardRow(SQLModel, table=True):
    """One Service Quality Award per quarter: its nominees as ranked, and the winners approved."""

    __tablename__ = "awards"

    quarter: str = Field(primary_key=True, max_length=16)  # 2026-Q4
    workflow_id: str = Field(max_length=160)
    status: str = Field(max_length=16)  # proposed, approved
    nominees: list[dict[str, Any]] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    winners: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    approved_by: str | None = Field(default=None, max_length=80)
    reason: str | None = Field(default=None, max_length=500)
    proposed_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    approved_at: datetime | None = _ts()


class LoanBookSignalRow(SQLModel, table=True):
    """One loan-book signal per source record, as received; never updated (step 5)."""

    __tablename__ = "loan_book_signals"
    __table_args__ = (
        UniqueConstraint("source_system", "source_record_id", name="uq_loan_book_signals_source"),
        Index("ix_loan_book_signals_customer_observed", "customer_id", "observed_at"),
        Index("ix_loan_book_signals_kind", "kind"),  # 0015: a recall reads a product's contract records
    )

    id: int | None = Field(default=None, primary_key=True)
    source_system: str = Field(max_length=64)
    source_record_id: str = Field(max_length=128)
    customer_id: str = Field(max_length=64)
    kind: str = Field(max_length=32)
    observed_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    figures: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    note: str | None = Field(default=None, max_length=500, sa_type=SealedText("loan_book_signals.note"))
    received_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))


class RiskWarningRow(SQLModel, table=True):
    """One early-warning case per row, as its workflow leaves it (step 5)."""

    __tablename__ = "risk_warnings"

    workflow_run_id: str = Field(primary_key=True, max_length=64)  # one case, one run
    workflow_id: str = Field(max_length=160)
    customer_id: str = Field(max_length=64, index=True)
    status: str = Field(max_length=16, index=True)  # open, acknowledged, acting, closed
    points: int = 0
    threshold: int = 0
    fired: list[dict[str, Any]] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    signals: int = 0  # crossings and signals joined to the case
    opened_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    acknowledge_due: datetime | None = _ts()
    act_due: datetime | None = _ts()
    acknowledged_at: datetime | None = _ts()
    acknowledged_by: str | None = Field(default=None, max_length=80)
    acted_at: datetime | None = _ts()
    acted_by: str | None = Field(default=None, max_length=80)
    breached: bool = False
    closed_at: datetime | None = _ts(index=True)
    closed_by: str | None = Field(default=None, max_length=80)
    outcome: str | None = Field(default=None, max_length=24)
    history: list[dict[str, Any]] = sealed_json(SealedJSON("risk_warnings.history"), list)
    updated_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))


class EducationActionRow(SQLModel, table=True):
    """A customer education action (step 5): a meeting, leaflet or page on a product and topic."""

    __tablename__ = "education_actions"
    __table_args__ = (
        Index("ix_education_actions_topic", "product", "topic", "held_on"),
        UniqueConstraint("product", "topic", "kind", "held_on", "title", name="uq_education_actions_action"),
    )

    id: int | None = Field(default=None, primary_key=True)
    product: str = Field(max_length=64)  # a product code of the policy's catalogue, or unspecified
    topic: str = Field(max_length=32)  # a complaint category
    kind: str = Field(max_length=16)  # meeting, leaflet, page
    title: str = Field(max_length=200)
    held_on: date
    reach: int | None = None  # people reached, if known
    recorded_by: str = Field(max_length=64)
    recorded_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    note: str = Field(default="", max_length=500)


class ClauseReviewRow(SQLModel, table=True):
    """One legal review of a contract clause (step 5): the complaints it took, and its outcome."""

    __tablename__ = "clause_reviews"

    review_id: str = Field(primary_key=True, max_length=140)  # <template>-<clause>-<n>
    workflow_id: str = Field(max_length=160)
    template: str = Field(max_length=40, index=True)
    clause: str = Field(max_length=80, index=True)
    references: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    status: str = Field(max_length=16, index=True)  # open, overdue, closed
    owner: str = Field(max_length=64, index=True)
    opened_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    due_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    warned_at: datetime | None = _ts()
    overdue_at: datetime | None = _ts()
    linked: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))  # complaint ids
    outcome: str | None = Field(default=None, max_length=24)  # reword, keep, withdraw_product
    reasons: str | None = Field(default=None, max_length=2000)
    new_template_version: str | None = Field(default=None, max_length=80)
    closed_by: str | None = Field(default=None, max_length=64)
    closed_at: datetime | None = _ts()
    updated_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))


# -- Step 6.2: product recalls (migration 0015) --------------------------------------------------


class RecallRow(SQLModel, table=True):
    """One recall of a defective product, as its workflow leaves it (step 6.2)."""

    __tablename__ = "recalls"

    recall_id: str = Field(primary_key=True, max_length=60)  # <product>-<n>
    workflow_id: str = Field(max_length=80)  # recall-<product>: one open recall per product
    product: str = Field(max_length=64, index=True)
    reason: str = Field(max_length=2000)
    scope: str = Field(max_length=2000)
    remedy: str = Field(max_length=32)
    declared_by: str = Field(max_length=64)
    declared_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    status: str = Field(max_length=16, index=True)  # fanning_out, tracking, closed
    affected: int = 0
    told: int = 0
    opened: int = 0
    remediated: int = 0
    overdue: int = 0
    runs: int = 1  # runs of the workflow so far (it continues as new)
    revision: str | None = Field(default=None, max_length=2000)
    new_version: str | None = Field(default=None, max_length=80)
    revised_by: str | None = Field(default=None, max_length=64)
    revised_at: datetime | None = _ts()
    closed_at: datetime | None = _ts()
    updated_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))


class RecallCustomerRow(SQLModel, table=True):
    """One affected customer of a recall: found once, then told, opened, remediated (or overdue)."""

    __tablename__ = "recall_customers"
    __table_args__ = (Index("ix_recall_customers_recall_remediated", "recall_id", "remediated_at"),)

    recall_id: str = Field(primary_key=True, max_length=60)
    customer_id: str = Field(primary_key=True, max_length=64)
    complaint_ids: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))  # open ones
    contract_numbers: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    workflow_id: str = Field(max_length=160)  # remediation-<recall_id>-<customer_id>
    language: str | None = Field(default=None, max_length=8)
    told_at: datetime | None = _ts()
    opened_at: datetime | None = _ts()
    due_at: datetime | None = _ts()
    overdue_at: datetime | None = _ts()
    remediated_at: datetime | None = _ts()
    remediated_by: str | None = Field(default=None, max_length=64)
    reference: str | None = Field(default=None, max_length=128)
    note: str | None = Field(default=None, max_length=2000, sa_type=SealedText("recall_customers.note"))


# -- Step 6.2: surges and incidents (migration 0014) ----------------------------------------------


class IncidentRow(SQLModel, table=True):
    """One incident (step 6.2): a surge of complaints on one key, run by the emergency plan."""

    __tablename__ = "incidents"

    incident_id: str = Field(primary_key=True, max_length=200)  # incident-<dimension>-<value>-<n>
    workflow_id: str = Field(max_length=200, index=True)  # incident-<dimension>-<value>
    dimension: str = Field(max_length=16, index=True)  # product, category, channel, region
    value: str = Field(max_length=64, index=True)
    status: str = Field(max_length=16, index=True)  # open, closed
    opened_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    window_start: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))  # complaints since link
    lead: str | None = Field(default=None, max_length=64)
    crisis_team: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    figures: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    linked_count: int = 0
    reports: int = 0
    last_report: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON, nullable=True))
    review: str | None = Field(default=None, max_length=4000)
    root_cause: str | None = Field(default=None, max_length=40)
    reviewed_by: str | None = Field(default=None, max_length=64)
    reviewed_at: datetime | None = _ts()
    closed_at: datetime | None = _ts()
    closed_by: str | None = Field(default=None, max_length=64)
    closing_note: str | None = Field(default=None, max_length=2000)
    updated_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))


class IncidentComplaintRow(SQLModel, table=True):
    """A complaint linked to an incident (each once)."""

    __tablename__ = "incident_complaints"

    incident_id: str = Field(primary_key=True, max_length=200)
    complaint_id: str = Field(primary_key=True, max_length=32, index=True)
    linked_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))


# -- Issue 16: signed staff actions, the staff's public keys (migration 0016) ---------------------


class StaffKeyTable(SQLModel, table=True):
    """A staff member's Ed25519 public key (``models.signature.StaffKey``): registered, maybe ended, maybe revoked.

    Never deleted: a revoked or ended key still proves what it signed while it was good
    (``complaints verify`` re-checks old actions against it). ``added_signature`` and
    ``revoked_signature`` are the registrar's and revoker's own signatures over their request
    (``models.signature.Signature`` as JSON); a key seeded from the staff directory file has none.
    """

    __tablename__ = "staff_keys"

    key_id: str = Field(primary_key=True, max_length=16)  # first 16 hex digits of SHA-256(raw public key)
    staff_id: str = Field(max_length=64, index=True)
    public_key: str = Field(max_length=44)  # base64 of the raw 32 bytes
    valid_from: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    valid_until: datetime | None = _ts()
    revoked_at: datetime | None = _ts()
    revoked_by: str | None = Field(default=None, max_length=64)
    revoked_reason: str | None = Field(default=None, max_length=500)
    revoked_signature: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON, nullable=True))
    added_by: str = Field(max_length=64)  # a staff id, or "staff_directory" for a seeded key
    added_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    added_signature: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON, nullable=True))


from db.signed_actions import SignedActionRow  # noqa: E402,F401  (registers signed_actions with the rest)

"""Retention (issue 16), its pure rules: when a closed complaint is past the period, and what of its
records is personal data to erase and what is the audit skeleton and the statistics to keep.

What is kept: every column of the ``complaints`` row but ``customer_name`` (counts, tiers,
categories, channels, products, regions, times, clocks, satisfaction, root cause, remedy paid:
what the periodic analysis and the returns count), and in the audit logs each event's kind, seq,
time and actor, and of its detail the members in ``STRUCTURAL`` (codes, staff ids, numbers,
times: what ``db/analysis_facts.py`` and ``db/scorecards.py`` derive from the log, and what says
who did what when). Every other string of a detail, of an investigation's file and of an older
row's case file (``snapshot``: the intake, the customer, the texts) becomes ``ERASED``; numbers
and true/false stay (they are counts and flags). A clock (``clock``/``clocks`` holding objects) is
kept whole: its name, label, limit and times are the policy's and the complaint's, no one's data.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from models.base import TimeLimit, TimeUnit
from models.retention import RetentionState

ERASED = "[erased: retention]"
KIND = "anonymised"  # the audit event that records it
ACTOR = "system:retention"

SCALE = {TimeUnit.SECONDS: 1, TimeUnit.MINUTES: 60, TimeUnit.HOURS: 3600, TimeUnit.CALENDAR_DAYS: 86400}

# Detail members the analysis reads from the audit log (db/analysis_facts.py apply_event, db/scorecards.py).
ANALYSED = frozenset(
    {
        "tier",
        "from_tier",
        "to_tier",
        "clock",
        "due_at",
        "opens",
        "next_due",
        "regulator",
        "revisit",
        "number",
        "remedy_total",
        "escalated_to",
    }
)
# What an older row's case file gives the analysis (db/analysis_facts.py from_case_file).
CASE_FILE_FACTS = frozenset(
    {"intake", "details", "product", "product_code", "clause_references", "resolved_at", "proposals", "state"}
    | {"fee_refund", "compensation", "amount", "currency", "clocks"}
)
# The audit skeleton: codes, ids, times and figures that say what happened, by whom and when.
SKELETON = frozenset(
    {
        "accountability",
        "acknowledged_at",
        "acknowledgement_id",
        "actual_loss",
        "approver_roles",
        "assignee",
        "at",
        "attempt",
        "attempts",
        "by",
        "caller",
        "category",
        "channel",
        "classification",
        "closed_at",
        "closure",
        "code",
        "communication",
        "complaint_id",
        "complaints",
        "concluded_at",
        "concluded_by",
        "customer_id",
        "decided_by",
        "decision",
        "declared_by",
        "escalation_level",
        "flags",
        "from",
        "handler",
        "implicated",
        "incident",
        "investigation",
        "investigation_id",
        "key",
        "lead",
        "opened_at",
        "outcome",
        "policy_version",
        "previous",
        "proposed_at",
        "proposed_by",
        "received_at",
        "recall",
        "regulators",
        "relation",
        "reopened",
        "reopened_count",
        "replaces",
        "resolution_communication",
        "responsible",
        "root_cause",
        "rule",
        "rule_id",
        "source_system",
        "staff_id",
        "staff_ids",
        "stage",
        "status",
        "taken_over_from",
        "team",
        "to",
        "total_seconds",
        "workflow_id",
    }
)
STRUCTURAL = ANALYSED | CASE_FILE_FACTS | SKELETON
WHOLE = frozenset({"clock", "clocks"})  # objects under these keys are clocks: kept as they are


def period_seconds(limit: TimeLimit) -> int:
    """The retention period in seconds (clock time only: ``RetentionPolicy`` refuses business days)."""
    return limit.amount * SCALE[limit.unit]


def cutoff(now: datetime, seconds: int) -> datetime:
    """Complaints closed before this instant are past the period."""
    return now - timedelta(seconds=seconds)


def past_period(closed_at: datetime | None, status: str, closed_statuses: set[str], before: datetime) -> bool:
    """Closed (a closing status and a closing time) before ``before``."""
    return closed_at is not None and status in closed_statuses and closed_at < before


def redact(value: Any, key: str | None = None) -> Any:
    """``value`` with every string not under a structural key replaced by ``ERASED`` (recursively;
    a list's items are judged by the list's key, an object's members by their own)."""
    if isinstance(value, dict):
        if key in WHOLE:
            return value
        return {k: redact(v, k) for k, v in value.items()}
    if isinstance(value, list):
        return [redact(v, key) for v in value]
    if isinstance(value, str) and key not in STRUCTURAL:
        return ERASED
    return value


def changed(before: Any, after: Any) -> bool:
    return bool(before != after)


def audit_detail(
    policy_version: str, period: str, period_seconds: int, closed_at: datetime, run_id: str
) -> dict[str, Any]:
    """The ``anonymised`` event's detail: under which policy, after which period, by which run."""
    return {
        "policy_version": policy_version,
        "retention": period,
        "retention_seconds": period_seconds,
        "closed_at": closed_at.isoformat(),
        "workflow_id": run_id,
    }


def details(state: RetentionState) -> str:
    """What the Web UI shows while a run works and once it is done."""
    lines = []
    if state.plan is not None and state.cutoff is not None:
        lines.append(
            f"**Retention** under policy {state.plan.policy_version}: personal data of complaints closed "
            f"more than {state.plan.period} ago (before {state.cutoff.isoformat(timespec='seconds')}) is erased"
        )
    lines.append(
        f"**Anonymised:** {state.anonymised}; already done: {state.already}; skipped: {state.skipped} "
        f"(pages read: {state.pages}, run {state.run})"
    )
    if state.skipped_recent:
        lines.append("**Skipped:** " + "; ".join(state.skipped_recent))
    lines.append("**Done**" if state.done else "**Working:** the next page")
    return "\n\n".join(lines)

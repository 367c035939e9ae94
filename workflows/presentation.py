"""What a manager sees in the Web UI, as pure functions of the case file.

Search attributes (no personal data beyond the ids the intake systems already index) and the
"current details" markdown, with every time as ``domain.times.fmt_utc`` writes it (UTC,
labelled). Both workflows use these; the unit tests call them without a server.
"""

from __future__ import annotations

from typing import Any

from temporalio.common import SearchAttributeUpdate

from domain import rules
from domain.times import fmt_utc
from models import search_attributes as sa
from models.clocks import ClockState
from models.complaint import CLOSED_STATUSES, ComplaintSnapshot, Status
from models.investigation import InvestigationFile


def search_attributes(snap: ComplaintSnapshot) -> dict[str, SearchAttributeUpdate[Any]]:
    """The complaint's search attributes by name, in the order they have always been upserted."""
    updates: dict[str, SearchAttributeUpdate[Any]] = {
        sa.STATUS.name: sa.STATUS.value_set(snap.status.value),
        sa.SLA_BREACHED.name: sa.SLA_BREACHED.value_set(snap.sla_breached),
        sa.NEXT_DEADLINE.name: (
            sa.NEXT_DEADLINE.value_set(snap.next_deadline) if snap.next_deadline else sa.NEXT_DEADLINE.value_unset()
        ),
    }
    if snap.classification:
        updates[sa.TIER.name] = sa.TIER.value_set(snap.classification.tier.value)
    if snap.holder:
        updates[sa.ASSIGNEE.name] = sa.ASSIGNEE.value_set(snap.holder)
    if snap.review_flags:  # only then: older histories never upserted it
        updates[sa.UNDER_REVIEW.name] = sa.UNDER_REVIEW.value_set(snap.under_review)
    if snap.incidents:  # only then, likewise
        updates[sa.INCIDENTS.name] = sa.INCIDENTS.value_set([i.incident_id for i in snap.incidents])
    if snap.recalls:
        updates[sa.RECALL_ID.name] = sa.RECALL_ID.value_set([r.recall_id for r in snap.recalls])
    return updates


def details(snap: ComplaintSnapshot, stage: str, *, handling: bool) -> str:
    """The complaint's current details: stage, tier, who holds it, what it waits for, its clocks."""
    lines = [f"**Stage:** {stage}"]
    if snap.classification:
        c = snap.classification
        lines.append(f"**Tier:** {c.tier.value} (rule `{c.rule_id}`: {c.matched}; policy {c.policy_version})")
    held = snap.holder or "unassigned"
    if snap.team:
        held += f" with {', '.join(snap.team)}"
    lines.append(f"**Held by:** {held}")
    if snap.escalated_to:
        lines.append(f"**Escalated to:** {snap.escalated_to} (level {snap.escalation_level})")
    if handling and snap.status not in CLOSED_STATUSES:
        missing = rules.missing_before_customer(snap)
        if missing:
            lines.append(f"**Waiting for:** {', '.join(missing)}")
    inv = snap.investigation
    if inv is not None and inv.workflow_id:
        state = (
            f"concluded, accountability {inv.outcome.accountability}"
            if inv.outcome
            else f"open, led by {inv.lead or 'nobody yet'}"
        )
        lines.append(
            f"**Investigation:** `{inv.workflow_id}` {state}"
            + (f"; recused: {', '.join(inv.implicated)}" if inv.implicated else "")
        )
    for flag in snap.review_flags:
        if flag.reviewed_at is None:
            lines.append(
                f"**Under review:** {flag.staff_id} ({flag.relation}) is implicated in `{flag.investigation_id}`"
            )
    for incident in snap.incidents:
        lines.append(
            f"**Incident:** `{incident.incident_id}` ({incident.key}), led by {incident.lead or 'the crisis team'}: "
            "handle first"
        )
    for recall in snap.recalls:
        lines.append(f"**Recall:** `{recall.recall_id}` of {recall.product}, declared by {recall.declared_by}")
    if snap.follow_up and snap.status == Status.FOLLOW_UP:
        caller = snap.follow_up.caller or rules.NO_INDEPENDENT_CALLER
        lines.append(f"**Follow-up call:** by {caller}, attempt {len(snap.follow_up.calls) + 1}")
    if snap.look_back and snap.status == Status.LOOK_BACK:
        lines.append(f"**Look-back:** {len(snap.look_back.revisits)} of {snap.look_back.planned} revisits done")
    if snap.reopened_count:
        lines.append(f"**Reopened:** {snap.reopened_count} time(s)")
    if snap.closure:
        c2 = snap.closure
        lines.append(f"**Closed:** {c2.outcome}; satisfaction {c2.satisfaction or '—'}; root cause {c2.root_cause}")
    running = sorted((c for c in snap.clocks if c.state == ClockState.RUNNING), key=lambda c: c.due_at)
    if running:
        lines.append(f"**Next deadline:** {running[0].label}, {fmt_utc(running[0].due_at)}")
    if snap.staff_record and snap.staff_record.found:
        s = snap.staff_record
        lines.append(f"**Staff named:** {s.name} ({s.role}), service-quality score {s.service_quality_score}")
    if snap.clocks:
        lines.append(
            "**Clocks:**\n\n"
            + "\n".join(f"- {c.label} ({c.limit}): {c.state.value}, due {fmt_utc(c.due_at)}" for c in snap.clocks)
        )
    return "\n\n".join(lines)


def complaint_summary(snap: ComplaintSnapshot, reason: str) -> tuple[str, str]:
    """The investigation child's static summary and details, as the complaint starts it."""
    return (
        f"Investigation of {snap.complaint_id}: {snap.intake.summary[:120]}",
        f"Major complaint {snap.complaint_id}, customer {snap.intake.customer.name}.\n\nWhy major: {reason}",
    )


def investigation_search_attributes(file: InvestigationFile) -> list[SearchAttributeUpdate[Any]]:
    return [
        sa.STATUS.value_set(file.stage.value),
        sa.SLA_BREACHED.value_set(file.breached),
        sa.NEXT_DEADLINE.value_set(file.next_deadline) if file.next_deadline else sa.NEXT_DEADLINE.value_unset(),
        sa.ASSIGNEE.value_set(file.lead) if file.lead else sa.ASSIGNEE.value_unset(),
    ]


def investigation_details(file: InvestigationFile) -> str:
    lines = [
        f"**Stage:** {file.stage.value.replace('_', ' ')}",
        f"**Complaint:** {file.complaint_id} ({file.reason})",
        f"**Lead:** {file.lead or 'nobody: compliance must assign one'}",
        f"**Recused:** {', '.join(file.implicated) or 'nobody'}",
    ]
    if file.clock:
        lines.append(
            f"**Clock:** {file.clock.label} ({file.clock.limit}): {file.clock.state.value}, "
            f"due {fmt_utc(file.clock.due_at)}"
        )
    lines.append(
        f"**On file:** {len(file.findings)} finding(s), {len(file.evidence)} evidence reference(s), "
        f"responsible: {', '.join(file.people_responsible) or 'none named'}"
    )
    if file.decision:
        lines.append(f"**Accountability:** {file.decision.decision} (by {file.decision.by})")
    delivered = sorted({f.complaint_id for f in file.flagged if f.delivered})
    if delivered:
        lines.append(f"**Flagged for review:** {', '.join(delivered)}")
    if file.concluded_at:
        lines.append(
            f"**Concluded:** {fmt_utc(file.concluded_at)} by {file.concluded_by}"
            + ("; suspected illegal conduct: reported to the regulator" if file.suspected_illegal else "")
        )
    return "\n\n".join(lines)

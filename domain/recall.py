"""Step 6.2: the recall of a defective product, its pure rules: ids, who may do what, progress.

- one recall per product at a time: the workflow id is ``recall-<product>``; each declaration is
  a recall of its own, ``<product>-<n>`` (the n-th of that product);
- one remediation per recall and customer: ``remediation-<recall_id>-<customer_id>``;
- the policy's ``recall.declarer_roles`` declare a recall and record the revision that ends it;
  its ``recall.remediator_roles`` record a customer's remediation done;
- the recall closes when every affected customer's remediation is done and the revision is recorded.
"""

from __future__ import annotations

from models.policy import Policy
from models.recall import (
    CompleteRemediationRequest,
    DeclareRecallRequest,
    RecallProgress,
    RecallState,
    RecordRevisionRequest,
    RemediationState,
    RemediationStatus,
)

NOTICE_KIND = "recall_notice"  # the customer letter (activities/templates/recall_notice.*.j2)
# The declaration's action name as its declarer signs it (issue 16): it starts the workflow, so
# it is no update's name; the workflow checks it under this name when it starts.
DECLARE_ACTION = "declare_recall"


def workflow_id(product: str) -> str:
    return f"recall-{product}"


def recall_id(product: str, number: int) -> str:
    return f"{product}-{number}"


def remediation_id(recall: str, customer_id: str) -> str:
    return f"remediation-{recall}-{customer_id}"


def notice_key(recall: str, customer_id: str) -> str:
    """The customer's recall letter: one per recall and customer, whatever retries or restarts."""
    return f"recall:{recall}:{customer_id}"


def overdue_key(recall: str) -> str:
    """The owner's notice that remediations are overdue: once per recall (the count is in `show`)."""
    return f"recall:{recall}:overdue"


def declare_refusal(policy: Policy, request: DeclareRecallRequest, role: str | None) -> str | None:
    """Why this declaration may not start, or None."""
    rules = policy.recall
    roles = [r.value for r in rules.declarer_roles]
    if role is None:
        return f"no active staff member {request.actor} in the staff directory"
    if role not in roles:
        return f"{request.actor} is {role}; declaring a recall takes {' or '.join(roles)}"
    if policy.reporting.product(request.product) is None:
        known = ", ".join(p.code for p in policy.reporting.products) or "none"
        return f"{request.product!r} is not a product of the catalogue (reporting.products: {known})"
    if not request.reason.strip() or not request.scope.strip():
        return "a recall states its reason and its scope"
    return None


def revision_refusal(state: RecallState, request: RecordRevisionRequest) -> str | None:
    if state.closed_at is not None:
        return f"recall {state.declaration.recall_id} is closed"
    plan = state.plan
    if plan is None:
        return f"recall {state.declaration.recall_id} is still being planned; try again in a moment"
    if request.actor not in plan.revisers:
        return (
            f"{request.actor} may not record the revision ending recall {state.declaration.recall_id}: "
            f"only {', '.join(plan.revisers) or 'the declarer roles'} may"
        )
    if state.revision is not None:
        r = state.revision
        return f"the revision was recorded by {r.recorded_by} ({r.new_version}): {r.revision}"
    if not request.revision.strip() or not request.new_version.strip():
        return "a revision says what changed and the product's or template's new version"
    return None


def complete_refusal(state: RemediationState, request: CompleteRemediationRequest) -> str | None:
    r = state.request
    if state.status == RemediationStatus.REMEDIATED:
        return f"the remediation of {r.customer_id} was recorded done by {state.remediated_by}"
    if request.actor not in r.remediators:
        return (
            f"{request.actor} may not record the remediation of {r.customer_id} in recall {r.recall_id}: "
            "the policy's recall.remediator_roles may"
        )
    if not request.note.strip():
        return "say what was done for the customer (--note)"
    return None


def finished(state: RecallState) -> bool:
    """Every remediation done and the revision recorded."""
    p = state.progress
    return state.revision is not None and p.remediated >= p.affected


def summary(progress: RecallProgress) -> str:
    p = progress
    overdue = f", {p.overdue_open} overdue now" if p.overdue_open else ""
    return (
        f"{p.affected} affected, {p.told} told, {p.opened} remediations open, {p.remediated} remediated, "
        f"{p.overdue} fell overdue{overdue}"
    )

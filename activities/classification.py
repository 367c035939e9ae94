"""Classification (tier by the policy's rules) and the clocks that then apply."""

from __future__ import annotations

from datetime import datetime

from temporalio import activity

from complaints.calendar import add_limit
from complaints.policy import PolicyStore
from models.complaint import Classification, ClassificationResult, ClassifyRequest, Clock
from models.handling import HandlingRules, PlanClockRequest
from models.intake import ComplaintIntake, ContractDisputeDetails, ProductDesignDetails
from models.policy import ClassificationRule, ClockSpec, Policy, Tier

from activities.logging import activity_logger


def _searchable_text(intake: ComplaintIntake) -> str:
    parts = [intake.summary, intake.description]
    if isinstance(intake.details, ContractDisputeDetails):
        parts += list(intake.details.claims) + list(intake.details.clause_references)
    if isinstance(intake.details, ProductDesignDetails):
        parts.append(intake.details.defect)
    return "\n".join(parts).casefold()


def _match(rule: ClassificationRule, intake: ComplaintIntake, policy: Policy) -> str | None:
    """Why the rule fires for this complaint, or None when it does not."""
    when, reasons = rule.when, []
    if when.channels is not None:
        if intake.channel not in when.channels:
            return None
        reasons.append(f"channel {intake.channel.value}")
    if when.categories is not None:
        if intake.category not in when.categories:
            return None
        reasons.append(f"category {intake.category.value}")
    if when.min_regulators is not None:
        if len(intake.regulators) < when.min_regulators:
            return None
        reasons.append(f"lodged with {', '.join(intake.regulators)}")
    if when.staff_misconduct_alleged is not None:
        if intake.staff_misconduct_alleged != when.staff_misconduct_alleged:
            return None
        reasons.append("staff misconduct alleged")
    if when.keywords_any is not None:
        text = _searchable_text(intake)
        hits = [k for k in when.keywords_any if k.casefold() in text]
        if not hits:
            return None
        reasons.append("keywords " + ", ".join(repr(h) for h in hits))
    if when.amount_at_least is not None:
        total = policy.amount_in_policy_currency(intake.amounts)
        if total < when.amount_at_least:
            return None
        reasons.append(f"amount {total} {policy.amount_currency} >= {when.amount_at_least}")
    return "; ".join(reasons) or "default"


def classify(intake: ComplaintIntake, policy: Policy) -> Classification:
    for rule in policy.classification_rules:
        matched = _match(rule, intake, policy)
        if matched is not None:
            return Classification(
                category=intake.category,
                tier=rule.tier,
                rule_id=rule.id,
                rule_description=rule.description,
                matched=matched,
                policy_version=policy.version,
            )
    raise AssertionError("policy validation guarantees a catch-all rule")  # pragma: no cover


def start_clock(name: str, spec: ClockSpec, started_at: datetime, policy: Policy) -> Clock:
    deadline = add_limit(started_at, spec.limit, policy)
    return Clock(
        name=name,
        label=spec.label,
        limit=spec.limit.describe(),
        source=spec.source,
        started_at=started_at,
        due_at=deadline.due_at,
        calendar_estimated=deadline.estimated,
    )


def initial_clocks(tier: Tier, received_at: datetime, policy: Policy) -> list[Clock]:
    pack = policy.regulatory_pack
    return [
        start_clock("acknowledgement", pack.acknowledgement, received_at, policy),
        start_clock(f"{tier.value}_first_response", policy.tier_clocks[tier], received_at, policy),
        start_clock("regulatory_decision", pack.decision, received_at, policy),
    ]


class ClassificationActivities:
    def __init__(self, policies: PolicyStore) -> None:
        self._policies = policies

    @activity.defn
    def classify_complaint(self, request: ClassifyRequest) -> ClassificationResult:
        policy = self._policies.current
        classification = classify(request.intake, policy)
        clocks = initial_clocks(classification.tier, request.intake.received_at, policy)
        activity_logger(request.complaint_id).info(
            "complaint classified",
            tier=classification.tier.value,
            rule=classification.rule_id,
            policy_version=policy.version,
        )
        return ClassificationResult(classification=classification, clocks=clocks, rules=handling_rules(policy))

    @activity.defn
    def plan_clock(self, request: PlanClockRequest) -> Clock:
        """A tier's first-response clock (after an escalation) or an extended decision clock."""
        policy = self._policies.get(request.policy_version)
        if request.tier is not None:
            return start_clock(f"{request.tier.value}_first_response", policy.tier_clocks[request.tier],
                               request.started_at, policy)
        if request.extension_index is None:
            raise ValueError("plan_clock needs a tier or an extension_index")
        spec = policy.regulatory_pack.extensions[request.extension_index]
        clock = start_clock("regulatory_decision", ClockSpec(label=spec.label, limit=spec.limit, source=spec.source),
                            request.started_at, policy)
        activity_logger(request.complaint_id).info("extension planned", label=spec.label, due_at=clock.due_at.isoformat())
        return clock


def handling_rules(policy: Policy) -> HandlingRules:
    pack = policy.regulatory_pack
    return HandlingRules(
        policy_version=policy.version,
        warning_fraction=policy.warning_fraction,
        pause_while_awaiting_customer=pack.pause_while_awaiting_customer,
        extensions=list(pack.extensions),
        approval_matrix=list(policy.approval_matrix),
        currency=policy.amount_currency,
    )

"""Classification (tier by the policy's rules) and the clocks that then apply."""

from __future__ import annotations

from datetime import datetime, timedelta

from temporalio import activity

from complaints.calendar import add_limit
from complaints.policy import PolicyStore
from models.complaint import Classification, ClassificationResult, ClassifyRequest, Clock
from models.handling import HandlingRules, PlanClockRequest, ReplanRequest, ReplanResult
from models.intake import ComplaintIntake, ContractDisputeDetails, ProductDesignDetails
from models.policy import ClassificationRule, ClockSpec, Policy, Tier, TimeLimit

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
    def replan_clocks(self, request: ReplanRequest) -> ReplanResult:
        """Re-apply the policy now in force to a complaint's running and paused clocks."""
        policy = self._policies.current
        clocks = [Clock.model_validate(c) for c in request.clocks]
        replanned = [replan(c, request.tier, policy) if c.state.value in ("running", "paused") else c for c in clocks]
        activity_logger(request.complaint_id).info("policy re-applied", policy_version=policy.version)
        return ReplanResult(rules=handling_rules(policy), clocks=replanned)

    @activity.defn
    def plan_clock(self, request: PlanClockRequest) -> Clock:
        """A clock under the complaint's pinned policy (see PlanClockRequest for the kinds)."""
        policy = self._policies.get(request.policy_version)
        log = activity_logger(request.complaint_id)
        if request.purpose == "regulator_report":
            spec = ClockSpec(label=f"Report to {request.regulator}", limit=policy.regulator_reporting.due,
                             source="regulatory duty to report (domain brief, step 2)")
            return start_clock(f"regulator_report_{request.regulator}", spec, request.started_at, policy)
        if request.purpose == "investigation":
            spec = ClockSpec(label="Internal investigation", limit=policy.investigation.due,
                             source="company procedure step 2 (internal investigation of major complaints)")
            return start_clock("investigation", spec, request.started_at, policy)
        if request.purpose == "decision":
            return start_clock("regulatory_decision", policy.regulatory_pack.decision, request.started_at, policy)
        if request.purpose in ("follow_up", "follow_up_retry"):
            if request.purpose == "follow_up":
                assert request.tier is not None, "a follow-up clock needs the tier"
                limit = policy.follow_up.due[request.tier]
            else:
                limit = policy.follow_up.retry_after
            spec = ClockSpec(label="Follow-up call", limit=limit, source="company procedure step 3 (回访)")
            return start_clock("follow_up", spec, request.started_at, policy)
        if request.purpose == "look_back":
            assert request.revisit is not None and request.revisit >= 1, "a look-back clock needs the revisit number"
            look = policy.look_back
            every = TimeLimit(amount=look.interval.amount * request.revisit, unit=look.interval.unit)
            opens = add_limit(request.started_at, every, policy).due_at
            spec = ClockSpec(label=f"Look-back revisit {request.revisit}", limit=look.window,
                             source="company procedure step 6 (回头看)")
            clock = start_clock(f"look_back_{request.revisit}", spec, opens, policy)
            log.info("look-back revisit planned", revisit=request.revisit, opens=opens.isoformat())
            return clock
        if request.tier is not None:
            return start_clock(f"{request.tier.value}_first_response", policy.tier_clocks[request.tier],
                               request.started_at, policy)
        if request.extension_index is None:
            raise ValueError("plan_clock needs a tier, an extension_index or a purpose")
        spec = policy.regulatory_pack.extensions[request.extension_index]
        clock = start_clock("regulatory_decision", ClockSpec(label=spec.label, limit=spec.limit, source=spec.source),
                            request.started_at, policy)
        log.info("extension planned", label=spec.label, due_at=clock.due_at.isoformat())
        return clock


def replan(clock: Clock, tier: Tier, policy: Policy) -> Clock:
    """The same clock under ``policy``: same start, state and paused time; new limit and due."""
    pack = policy.regulatory_pack
    if clock.name == "acknowledgement":
        spec = pack.acknowledgement
    elif clock.name == f"{tier.value}_first_response":
        spec = policy.tier_clocks[tier]
    elif clock.name == "regulatory_decision" and clock.extensions_used:
        index = min(clock.extensions_used, len(pack.extensions)) - 1
        ext = pack.extensions[index]
        spec = ClockSpec(label=ext.label, limit=ext.limit, source=ext.source)
    elif clock.name == "regulatory_decision":
        spec = pack.decision
    else:
        return clock  # follow-up and look-back clocks keep their schedule
    fresh = start_clock(clock.name, spec, clock.started_at, policy)
    return clock.model_copy(update={
        "label": fresh.label, "limit": fresh.limit, "source": fresh.source,
        "due_at": fresh.due_at + timedelta(seconds=clock.paused_seconds),
        "calendar_estimated": fresh.calendar_estimated, "warned_at": None,
    })


def handling_rules(policy: Policy) -> HandlingRules:
    pack = policy.regulatory_pack
    return HandlingRules(
        policy_version=policy.version,
        warning_fraction=policy.warning_fraction,
        pause_while_awaiting_customer=pack.pause_while_awaiting_customer,
        extensions=list(pack.extensions),
        approval_matrix=list(policy.approval_matrix),
        currency=policy.amount_currency,
        follow_up_different_caller=policy.follow_up.different_caller,
        follow_up_max_attempts=policy.follow_up.max_attempts,
        satisfaction_threshold=policy.follow_up.satisfaction_threshold,
        look_back_revisits=policy.look_back.revisits,
        revisits_per_run=policy.look_back.revisits_per_run,
        root_causes=[c.code for c in policy.root_causes],
        report_retry_window_fraction=policy.regulator_reporting.retry_window_fraction,
        default_regulator=policy.regulator_reporting.default_regulator,
        accountability_deciders={k: list(v) for k, v in policy.investigation.accountability_deciders.items()},
        investigation_evidence_required=policy.investigation.evidence_required,
    )

"""Step 1's activity: classify by the pinned policy; and planning clocks under it (steps 2-6)."""

from __future__ import annotations

from temporalio import activity

from activities.logging import activity_logger
from domain.calendar import add_limit
from domain.classification import (
    classify,
    decision_spec,
    handling_rules,
    initial_clocks,
    replan,
    start_clock,
    summary_resolution_by,
)
from domain.policy import PolicyStore
from models.clocks import Clock, PlanClockRequest, ReplanRequest, ReplanResult
from models.complaint import ClassificationResult, ClassifyRequest
from models.policy import ClockSpec, TimeLimit


class ClassificationActivities:
    def __init__(self, policies: PolicyStore) -> None:
        self._policies = policies

    @activity.defn
    def classify_complaint(self, request: ClassifyRequest) -> ClassificationResult:
        policy = self._policies.current
        intake = request.intake
        classification = classify(intake, policy)
        clocks = initial_clocks(classification.tier, intake.received_at, policy, intake.flags)
        activity_logger(request.complaint_id).info(
            "complaint classified",
            tier=classification.tier.value,
            rule=classification.rule_id,
            policy_version=policy.version,
        )
        return ClassificationResult(
            classification=classification,
            clocks=clocks,
            rules=handling_rules(policy),
            summary_resolution_by=summary_resolution_by(intake.received_at, policy),
        )

    @activity.defn
    def replan_clocks(self, request: ReplanRequest) -> ReplanResult:
        """Re-apply the policy now in force to a complaint's running and paused clocks."""
        policy = self._policies.current
        clocks = [Clock.model_validate(c) for c in request.clocks]
        replanned = [
            replan(c, request.tier, policy, request.flags) if c.state.value in ("running", "paused") else c
            for c in clocks
        ]
        activity_logger(request.complaint_id).info("policy re-applied", policy_version=policy.version)
        return ReplanResult(rules=handling_rules(policy), clocks=replanned)

    @activity.defn
    def plan_clock(self, request: PlanClockRequest) -> Clock:
        """A clock under the complaint's pinned policy (see PlanClockRequest for the kinds)."""
        policy = self._policies.get(request.policy_version)
        log = activity_logger(request.complaint_id)
        if request.purpose == "regulator_report":
            spec = ClockSpec(
                label=f"Report to {request.regulator}",
                limit=policy.regulator_reporting.due,
                source="regulatory duty to report (domain brief, step 2)",
            )
            return start_clock(f"regulator_report_{request.regulator}", spec, request.started_at, policy)
        if request.purpose == "investigation":
            spec = ClockSpec(
                label="Internal investigation",
                limit=policy.investigation.due,
                source="company procedure step 2 (internal investigation of major complaints)",
            )
            return start_clock("investigation", spec, request.started_at, policy)
        if request.purpose == "decision":
            spec = decision_spec(policy, request.flags)
            return start_clock("regulatory_decision", spec, request.started_at, policy)
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
            spec = ClockSpec(
                label=f"Look-back revisit {request.revisit}",
                limit=look.window,
                source="company procedure step 6 (回头看)",
            )
            clock = start_clock(f"look_back_{request.revisit}", spec, opens, policy)
            log.info("look-back revisit planned", revisit=request.revisit, opens=opens.isoformat())
            return clock
        if request.tier is not None:
            return start_clock(
                f"{request.tier.value}_first_response", policy.tier_clocks[request.tier], request.started_at, policy
            )
        if request.extension_index is None:
            raise ValueError("plan_clock needs a tier, an extension_index or a purpose")
        extension = policy.regulatory_pack.extensions[request.extension_index]
        clock = start_clock(
            "regulatory_decision",
            ClockSpec(label=extension.label, limit=extension.limit, source=extension.source),
            request.started_at,
            policy,
        )
        log.info("extension planned", label=extension.label, due_at=clock.due_at.isoformat())
        return clock

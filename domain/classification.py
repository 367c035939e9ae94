"""Classification (tier by the policy's rules) and the clocks that then apply: pure functions.

The classification activity and clock planning call these; nothing here does I/O.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta

from domain.calendar import add_limit
from models.clocks import Clock
from models.complaint import Classification, ResolutionCommunication
from models.intake import ComplaintFlag, ComplaintIntake, ContractDisputeDetails, ProductDesignDetails
from models.policy import (
    ClassificationRule,
    ClockSpec,
    HandlingRules,
    Policy,
    Tier,
)


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


def decision_spec(policy: Policy, flags: Iterable[ComplaintFlag] = ()) -> ClockSpec:
    """The pack's decision limit, or its limit for complaints flagged as one of its ``flagged_decisions``."""
    pack, flagged = policy.regulatory_pack, set(flags)
    spec = next((f for f in pack.flagged_decisions if flagged.intersection(f.flags)), None)
    if spec is None:
        return pack.decision
    return ClockSpec(label=spec.label, limit=spec.limit, source=spec.source)


def initial_clocks(
    tier: Tier, received_at: datetime, policy: Policy, flags: Iterable[ComplaintFlag] = ()
) -> list[Clock]:
    pack = policy.regulatory_pack
    return [
        start_clock("acknowledgement", pack.acknowledgement, received_at, policy),
        start_clock(f"{tier.value}_first_response", policy.tier_clocks[tier], received_at, policy),
        start_clock("regulatory_decision", decision_spec(policy, flags), received_at, policy),
    ]


def summary_resolution_by(received_at: datetime, policy: Policy) -> datetime | None:
    """Until when a resolution gets a summary resolution communication (packs that have one)."""
    spec = policy.regulatory_pack.summary_resolution
    return add_limit(received_at, spec.limit, policy).due_at if spec else None


def resolution_communication(summary_resolution_by: datetime | None, resolved_at: datetime) -> ResolutionCommunication:
    """A summary resolution when accepted within the pack's window (if it has one), else the final response."""
    if summary_resolution_by is not None and resolved_at <= summary_resolution_by:
        return ResolutionCommunication.SUMMARY_RESOLUTION
    return ResolutionCommunication.FINAL_RESPONSE


def replan(clock: Clock, tier: Tier, policy: Policy, flags: Iterable[ComplaintFlag] = ()) -> Clock:
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
        spec = decision_spec(policy, flags)
    else:
        return clock  # follow-up and look-back clocks keep their schedule
    fresh = start_clock(clock.name, spec, clock.started_at, policy)
    return clock.model_copy(
        update={
            "label": fresh.label,
            "limit": fresh.limit,
            "source": fresh.source,
            "due_at": fresh.due_at + timedelta(seconds=clock.paused_seconds),
            "calendar_estimated": fresh.calendar_estimated,
            "warned_at": None,
        }
    )


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
        signing_mode=policy.signing.mode,
        signing_window_seconds=policy.signing.window_seconds,
    )

"""Each kind of classification condition, the clocks a tier starts, replanning and the handling rules.

Pure, under the shipped policy files (no server). ``test_classification.py`` has the case study
and the keyword examples; this file goes condition by condition. Where a behaviour cannot be
seen with the shipped rules (a rule with two conditions, a business-day decision limit, handling
settings equal to the defaults), the test derives a policy from the standard one.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from complaints.config import PROJECT_ROOT
from domain.classification import classify, handling_rules, initial_clocks, replan, start_clock
from domain.policy import load_policy
from models.clocks import Clock, ClockState
from models.complaint import Classification
from models.intake import Category, ComplaintIntake
from models.policy import ClassificationRule, ClockSpec, Policy, RuleCondition, Tier, TimeLimit, TimeUnit
from tests.factories import CATEGORY_DETAILS, intake_payload

STANDARD = load_policy(PROJECT_ROOT / "policies" / "standard.yaml")
COMPRESSED = load_policy(PROJECT_ROOT / "policies" / "compressed.yaml")
MONDAY = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)  # Monday 10:00 in Shanghai
IN_2027 = datetime(2027, 3, 1, 2, 0, tzinfo=UTC)  # beyond the official calendar: weekdays estimated


def intake(category: str = "other", **changes: Any) -> ComplaintIntake:
    return ComplaintIntake.model_validate(intake_payload(category, **changes))


def details(category: str, **changes: Any) -> dict[str, Any]:
    return {**CATEGORY_DETAILS[category], **changes}


def classified(category: str = "other", policy: Policy = STANDARD, **changes: Any) -> Classification:
    return classify(intake(category, **changes), policy)


def with_rule_first(policy: Policy, **when: Any) -> Policy:
    """``policy`` with one more rule, ``extra`` (major), tried before all the others."""
    rule = ClassificationRule(id="extra", description="Extra rule", tier=Tier.MAJOR, when=RuleCondition(**when))
    return policy.model_copy(update={"classification_rules": [rule, *policy.classification_rules]})


def with_section(policy: Policy, **sections: dict[str, Any]) -> Policy:
    """``policy`` with some fields of its sections (follow_up, look_back, ...) changed."""
    return policy.model_copy(
        update={name: getattr(policy, name).model_copy(update=changes) for name, changes in sections.items()}
    )


# -- classify: one condition kind at a time ---------------------------------------------------------------


def test_channel_condition_says_which_channel() -> None:
    c = classified(channel="regulator_referral", regulators=["NFRA"])
    assert (c.rule_id, c.tier, c.matched) == ("regulator-referral", Tier.MAJOR, "channel regulator_referral")


@pytest.mark.parametrize("category", ["contract_dispute", "product_design"])
def test_category_condition_says_which_category(category: str) -> None:
    c = classified(category)
    assert (c.rule_id, c.tier, c.matched) == ("contract-terms", Tier.COMPLEX, f"category {category}")
    assert c.category == Category(category)


def test_two_regulators_are_enough_and_are_named() -> None:
    c = classified(regulators=["NFRA", "PBOC"])
    assert (c.rule_id, c.matched) == ("several-regulators", "lodged with NFRA, PBOC")


def test_one_regulator_is_not_enough() -> None:
    assert classified(regulators=["NFRA"]).rule_id == "default-simple"


def test_alleged_staff_misconduct_is_major() -> None:
    c = classified("service_attitude", staff_misconduct_alleged=True)
    assert (c.rule_id, c.tier, c.matched) == ("staff-misconduct", Tier.MAJOR, "staff misconduct alleged")


def test_no_misconduct_alleged_does_not_match_the_misconduct_rule() -> None:
    assert classified("service_attitude", staff_misconduct_alleged=False).rule_id == "default-simple"


def test_keywords_match_whatever_the_case_and_are_all_named_in_policy_order() -> None:
    c = classified(summary="FORGED papers", description="This is Fraud")
    assert (c.rule_id, c.matched) == ("suspected-illegality", "keywords 'fraud', 'forged'")


def test_keywords_in_the_summary_count() -> None:
    assert classified(summary="They threaten us").rule_id == "suspected-illegality"


@pytest.mark.parametrize("where", ["summary", "description"])
def test_a_contract_dispute_is_searched_in_its_summary_and_description_too(where: str) -> None:
    assert classified("contract_dispute", **{where: "A kickback was paid"}).rule_id == "suspected-illegality"


def test_a_contract_disputes_claims_are_searched() -> None:
    c = classified("contract_dispute", details=details("contract_dispute", claims=["The fee is ILLEGAL"]))
    assert (c.rule_id, c.matched) == ("suspected-illegality", "keywords 'illegal'")


def test_a_contract_disputes_clause_references_are_searched() -> None:
    c = classified("contract_dispute", details=details("contract_dispute", clause_references=["条款 7.3 伪造"]))
    assert (c.rule_id, c.matched) == ("suspected-illegality", "keywords '伪造'")


def test_a_product_design_defect_is_searched() -> None:
    c = classified("product_design", details=details("product_design", defect="Schedule was forged"))
    assert (c.rule_id, c.matched) == ("suspected-illegality", "keywords 'forged'")


def test_details_of_other_categories_are_not_searched() -> None:
    # A service-attitude complaint's location is free text, but not searched for keywords.
    c = classified("service_attitude", details=details("service_attitude", location="Fraud office"))
    assert c.rule_id == "default-simple"


def test_a_keyword_is_not_found_across_two_fields() -> None:
    policy = with_rule_first(STANDARD, keywords_any=["tax"])
    assert classified(policy=policy, summary="Quota", description="xylophone").rule_id == "default-simple"
    assert classified(policy=policy, summary="Tax").rule_id == "extra"


@pytest.mark.parametrize(("amount", "rule"), [("1000000.00", "large-amount"), ("999999.99", "default-simple")])
def test_the_amount_threshold_is_inclusive(amount: str, rule: str) -> None:
    fees = details("fees_and_interest", amount_disputed={"amount": amount})
    assert classified("fees_and_interest", details=fees).rule_id == rule


def test_the_amount_condition_says_the_total_in_the_policy_currency() -> None:
    amounts = [{"amount": "700000"}, {"amount": "300000"}, {"amount": "5", "currency": "USD"}]
    c = classified("contract_dispute", details=details("contract_dispute", amounts_in_dispute=amounts))
    assert (c.rule_id, c.tier, c.matched) == ("large-amount", Tier.COMPLEX, "amount 1000000 CNY >= 1000000")


def test_the_first_matching_rule_wins_from_the_most_serious() -> None:
    amounts = [{"amount": "2000000"}]
    c = classified(
        "contract_dispute", description="fraud", details=details("contract_dispute", amounts_in_dispute=amounts)
    )
    assert (c.rule_id, c.tier) == ("suspected-illegality", Tier.MAJOR)


def test_the_catch_all_rule_matches_by_default() -> None:
    c = classified(description="The branch was closed")
    assert (c.rule_id, c.tier, c.rule_description, c.matched) == (
        "default-simple",
        Tier.SIMPLE,
        "Facts clear and easy to fix",
        "default",
    )


def test_classification_records_the_policy_version() -> None:
    assert classified(policy=COMPRESSED).policy_version == "2026.11-compressed"


def test_a_rule_with_several_conditions_needs_all_and_names_each() -> None:
    policy = with_rule_first(STANDARD, channels=["email"], categories=["privacy"])
    assert classified("privacy", policy=policy, channel="email").matched == "channel email; category privacy"
    assert classified("privacy", policy=policy, channel="phone").rule_id == "default-simple"
    assert classified("other", policy=policy, channel="email").rule_id == "default-simple"


# -- the clocks a tier starts -------------------------------------------------------------------------------


def test_start_clock_takes_the_specs_label_limit_and_source() -> None:
    spec = STANDARD.tier_clocks[Tier.SIMPLE]
    c = start_clock("simple_first_response", spec, MONDAY, STANDARD)
    assert c == Clock(
        name="simple_first_response",
        label="Solution (simple)",
        limit="24 hours",
        source=spec.source,
        started_at=MONDAY,
        due_at=MONDAY + timedelta(hours=24),
        state=ClockState.RUNNING,
    )


def test_a_clock_beyond_the_official_calendar_is_marked_estimated() -> None:
    ack = start_clock("acknowledgement", STANDARD.regulatory_pack.acknowledgement, IN_2027, STANDARD)
    assert ack.calendar_estimated is True
    assert ack.due_at.isoformat() == "2027-03-02T18:00:00+08:00"


def test_a_complex_complaints_first_response_counts_business_days() -> None:
    clocks = {c.name: c for c in initial_clocks(Tier.COMPLEX, MONDAY, STANDARD)}
    first = clocks["complex_first_response"]
    assert (first.label, first.limit) == ("First feedback (complex)", "5 business days")
    assert first.due_at.isoformat() == "2026-11-30T18:00:00+08:00"


def test_a_major_complaints_first_clock_is_the_investigation() -> None:
    names = [c.name for c in initial_clocks(Tier.MAJOR, MONDAY, COMPRESSED)]
    assert names == ["acknowledgement", "major_first_response", "regulatory_decision"]
    assert initial_clocks(Tier.MAJOR, MONDAY, COMPRESSED)[1].due_at == MONDAY + timedelta(seconds=10)


def test_a_decision_limit_in_business_days_follows_the_calendar() -> None:
    decision = ClockSpec(label="Decision", limit=TimeLimit(amount=2, unit=TimeUnit.BUSINESS_DAYS), source="pack")
    pack = STANDARD.regulatory_pack.model_copy(update={"decision": decision})
    policy = STANDARD.model_copy(update={"regulatory_pack": pack})
    clocks = {c.name: c for c in initial_clocks(Tier.SIMPLE, MONDAY, policy)}
    assert clocks["regulatory_decision"].due_at.isoformat() == "2026-11-25T18:00:00+08:00"


# -- replanning a clock under another policy ----------------------------------------------------------------


def planned(which: str, policy: Policy = STANDARD, tier: Tier = Tier.COMPLEX, **fields: Any) -> Clock:
    """Clock ``which`` of those ``tier`` starts at MONDAY under ``policy``, with ``fields`` changed."""
    clocks = {c.name: c for c in initial_clocks(tier, MONDAY, policy)}
    return clocks[which].model_copy(update=fields)


def test_replan_moves_the_acknowledgement_to_the_new_policys_limit() -> None:
    old = planned("acknowledgement", COMPRESSED, warned_at=MONDAY)
    new = replan(old, Tier.COMPLEX, STANDARD)
    assert new == old.model_copy(
        update={
            "limit": "1 business day",
            "source": STANDARD.regulatory_pack.acknowledgement.source,
            "due_at": datetime.fromisoformat("2026-11-24T18:00:00+08:00"),
            "warned_at": None,
        }
    )


def test_replan_moves_the_first_response_of_the_tier() -> None:
    new = replan(planned("complex_first_response", COMPRESSED), Tier.COMPLEX, STANDARD)
    assert (new.label, new.limit) == ("First feedback (complex)", "5 business days")
    assert new.due_at.isoformat() == "2026-11-30T18:00:00+08:00"


def test_replan_leaves_another_tiers_first_response_alone() -> None:
    old = planned("simple_first_response", COMPRESSED, tier=Tier.SIMPLE)
    assert replan(old, Tier.COMPLEX, STANDARD) == old


def test_replan_moves_the_decision_to_the_new_policys_limit() -> None:
    new = replan(planned("regulatory_decision", COMPRESSED), Tier.COMPLEX, STANDARD)
    assert (new.label, new.limit, new.due_at) == (
        "Decision (regulatory)",
        "15 calendar days",
        MONDAY + timedelta(days=15),
    )


@pytest.mark.parametrize(
    ("used", "label", "days"),
    [
        (1, "Decision extended to 30 days", 30),
        (2, "Decision extended to 60 days", 60),
        (3, "Decision extended to 60 days", 60),  # beyond the pack's extensions: the last one
    ],
)
def test_replan_of_an_extended_decision_uses_the_extension_in_force(used: int, label: str, days: int) -> None:
    old = planned("regulatory_decision", COMPRESSED, extensions_used=used, extended="old label")
    new = replan(old, Tier.COMPLEX, STANDARD)
    extension = STANDARD.regulatory_pack.extensions[min(used, 2) - 1]
    assert (new.label, new.limit, new.source) == (label, f"{days} calendar days", extension.source)
    assert new.due_at == MONDAY + timedelta(days=days)
    assert (new.extensions_used, new.extended) == (used, "old label")


def test_replan_adds_the_time_already_paused() -> None:
    old = planned("regulatory_decision", COMPRESSED, paused_seconds=7200.0)
    new = replan(old, Tier.COMPLEX, STANDARD)
    assert new.due_at == MONDAY + timedelta(days=15, hours=2)
    assert new.paused_seconds == 7200.0


def test_replan_keeps_the_state_and_start() -> None:
    old = planned("regulatory_decision", COMPRESSED, state=ClockState.BREACHED, breached_at=MONDAY, met_by="x")
    new = replan(old, Tier.COMPLEX, STANDARD)
    assert (new.name, new.started_at, new.state, new.breached_at, new.met_by) == (
        "regulatory_decision",
        MONDAY,
        ClockState.BREACHED,
        MONDAY,
        "x",
    )


def test_replan_recomputes_whether_the_deadline_is_estimated() -> None:
    estimated = initial_clocks(Tier.SIMPLE, IN_2027, STANDARD)[0]
    assert estimated.calendar_estimated is True
    assert replan(estimated, Tier.SIMPLE, COMPRESSED).calendar_estimated is False


@pytest.mark.parametrize("name", ["follow_up", "look_back_1", "regulator_report_NFRA"])
def test_replan_leaves_other_clocks_on_their_schedule(name: str) -> None:
    old = planned("regulatory_decision", COMPRESSED, name=name, warned_at=MONDAY)
    assert replan(old, Tier.COMPLEX, STANDARD) == old


# -- what the workflow applies itself ------------------------------------------------------------------------


def test_handling_rules_of_the_standard_policy() -> None:
    rules = handling_rules(STANDARD)
    assert (rules.policy_version, rules.warning_fraction, rules.pause_while_awaiting_customer, rules.currency) == (
        "2026.11-standard",
        0.8,
        True,
        "CNY",
    )
    assert [e.label for e in rules.extensions] == ["Decision extended to 30 days", "Decision extended to 60 days"]
    assert [(level.up_to, level.approver_roles) for level in rules.approval_matrix] == [
        (Decimal(50000), ["manager", "senior_manager"]),
        (None, ["senior_manager"]),
    ]
    assert rules.root_causes[:2] == ["contract_wording", "pricing_error"] and len(rules.root_causes) == 9
    assert rules.accountability_deciders == {
        "none": ["compliance"],
        "training": ["compliance", "manager", "senior_manager"],
        "warning": ["senior_manager"],
        "disciplinary": ["senior_manager"],
    }
    assert rules.revisits_per_run == 12


def test_handling_rules_carry_the_policys_follow_up_look_back_and_reporting_settings() -> None:
    policy = with_section(
        STANDARD,
        follow_up={"different_caller": False, "max_attempts": 5, "satisfaction_threshold": 4},
        look_back={"revisits": 6, "revisits_per_run": 2},
        regulator_reporting={"retry_window_fraction": 0.25, "default_regulator": "PBOC"},
        investigation={"evidence_required": False},
    )
    rules = handling_rules(policy)
    assert (rules.follow_up_different_caller, rules.follow_up_max_attempts, rules.satisfaction_threshold) == (
        False,
        5,
        4,
    )
    assert (rules.look_back_revisits, rules.revisits_per_run) == (6, 2)
    assert (rules.report_retry_window_fraction, rules.default_regulator) == (0.25, "PBOC")
    assert rules.investigation_evidence_required is False


def test_handling_rules_of_the_compressed_policy_keep_its_version_and_pace() -> None:
    rules = handling_rules(COMPRESSED)
    assert (rules.policy_version, rules.revisits_per_run) == ("2026.11-compressed", 5)

"""Every switch and limit of the policy has a test that shows it enforced, and the README lists it.

``SWITCHES`` maps each field of ``models.policy.Policy`` (sections such as ``follow_up`` and
``regulatory_pack`` by their own fields) to the tests that show the workflow, an activity or
intake apply it. A field added to the policy without a test here fails
``test_every_policy_switch_has_an_enforcing_test``; a test renamed away fails
``test_the_tests_named_exist``.
"""

from __future__ import annotations

import ast
import re
import types
import typing
from functools import cache
from pathlib import Path

from pydantic import BaseModel

from complaints.config import PROJECT_ROOT
from models.policy import ClockSpec, Policy, PolicyModel, SummaryResolutionSpec, TimeLimit

W = "tests/workflows"

# Switch -> tests that show it enforced (``file::test``), the first the most direct.
SWITCHES: dict[str, list[str]] = {
    "version": [f"{W}/test_handling.py::test_a_policy_change_moves_open_deadlines_only_when_a_manager_reapplies_it"],
    "timezone": [
        "tests/domain/test_calendar.py::test_business_days_are_counted_in_the_policy_time_zone",
        "tests/domain/test_calendar.py::test_a_firm_names_its_own_state_and_time_zone",
    ],
    "business_calendar": [
        "tests/domain/test_policy.py::test_a_policy_on_another_countrys_calendar_than_its_pack_is_refused"
    ],
    "calendar_subdivision": ["tests/domain/test_calendar.py::test_a_firm_names_its_own_state_and_time_zone"],
    "business_day_close": [
        "tests/domain/test_pack_limits.py::test_fca_summary_resolution_runs_to_close_of_business_on_the_third_business_day"
    ],
    "regulatory_pack.calendar.country": [
        "tests/domain/test_calendar.py::test_each_pack_names_its_calendar_and_time_zone",
        f"{W}/test_pack_limits.py::test_fca_summary_resolution_within_three_business_days",
    ],
    "regulatory_pack.calendar.subdivision": [
        "tests/domain/test_calendar.py::test_australian_public_holidays_are_not_business_days"
    ],
    "regulatory_pack.calendar.timezone": [
        "tests/domain/test_calendar.py::test_a_sydney_complaint_is_not_counted_on_chinas_calendar"
    ],
    "regulatory_pack.calendar.close_of_business": [
        "tests/domain/test_pack_limits.py::test_fca_summary_resolution_runs_to_close_of_business_on_the_third_business_day"
    ],
    "regulatory_pack.acknowledgement": [
        f"{W}/test_policy_switches.py::test_the_acknowledgement_and_decision_limits_are_the_packs",
        f"{W}/test_complaint_workflow.py::test_a_complaint_filed_late_breaches_the_clocks_it_settles_after_their_deadline",
    ],
    "regulatory_pack.decision": [
        f"{W}/test_policy_switches.py::test_the_acknowledgement_and_decision_limits_are_the_packs",
        f"{W}/test_handling.py::test_a_policy_change_moves_open_deadlines_only_when_a_manager_reapplies_it",
    ],
    "regulatory_pack.flagged_decisions": [
        f"{W}/test_pack_limits.py::test_asic_decides_hardship_and_default_notice_complaints_in_21_days"
    ],
    "regulatory_pack.summary_resolution": [
        f"{W}/test_pack_limits.py::test_fca_summary_resolution_within_three_business_days"
    ],
    "regulatory_pack.extensions": [
        f"{W}/test_handling.py::test_extensions_need_the_right_approver_and_tell_the_customer",
        f"{W}/test_policy_switches.py::test_a_pack_that_neither_pauses_nor_extends_keeps_the_clocks_running",
    ],
    "regulatory_pack.pause_while_awaiting_customer": [
        f"{W}/test_handling.py::test_waiting_on_the_customer_pauses_the_clocks",
        f"{W}/test_policy_switches.py::test_a_pack_that_neither_pauses_nor_extends_keeps_the_clocks_running",
    ],
    "tier_clocks": [
        f"{W}/test_policy_switches.py::test_the_tier_clock_and_its_warning_come_when_the_policy_says",
        f"{W}/test_handling.py::test_missed_deadline_warns_then_escalates_to_the_handlers_manager",
    ],
    "amount_currency": [
        f"{W}/test_policy_switches.py::test_classification_and_approval_follow_the_policys_rules_and_currency",
        "tests/domain/test_classification.py::test_amount_threshold_counts_only_the_policy_currency",
        f"{W}/test_policy_switches.py::test_a_remedy_in_another_currency_does_not_slip_under_the_approval_matrix",
    ],
    "classification_rules": [
        f"{W}/test_policy_switches.py::test_classification_and_approval_follow_the_policys_rules_and_currency",
        f"{W}/test_complaint_workflow.py::test_filed_complaint_is_classified_acknowledged_and_projected",
    ],
    "warning_fraction": [
        f"{W}/test_policy_switches.py::test_the_tier_clock_and_its_warning_come_when_the_policy_says",
        "tests/domain/test_rules.py::test_the_warning_comes_at_the_policys_fraction_of_the_time",
    ],
    "approval_matrix": [
        f"{W}/test_policy_switches.py::test_classification_and_approval_follow_the_policys_rules_and_currency",
        f"{W}/test_handling.py::test_complex_complaint_needs_legal_and_manager_before_the_customer_hears",
    ],
    "follow_up.due": [
        f"{W}/test_policy_switches.py::test_the_follow_up_call_runs_on_the_policys_window_attempts_and_threshold",
        f"{W}/test_after_decision.py::test_an_unrecorded_follow_up_is_breached_and_escalated",
    ],
    "follow_up.different_caller": [
        f"{W}/test_after_decision.py::test_the_follow_up_call_is_independent_of_the_handling",
        "tests/domain/test_rules.py::test_without_a_different_caller_the_handler_may_call_as_before",
    ],
    "follow_up.retry_after": [
        f"{W}/test_policy_switches.py::test_the_follow_up_call_runs_on_the_policys_window_attempts_and_threshold"
    ],
    "follow_up.max_attempts": [
        f"{W}/test_policy_switches.py::test_the_follow_up_call_runs_on_the_policys_window_attempts_and_threshold",
        f"{W}/test_after_decision.py::test_an_unreachable_customer_gets_retries_then_a_letter",
    ],
    "follow_up.satisfaction_threshold": [
        f"{W}/test_policy_switches.py::test_the_follow_up_call_runs_on_the_policys_window_attempts_and_threshold",
        f"{W}/test_after_decision.py::test_a_dissatisfied_customer_reopens_it_on_new_clocks",
    ],
    "look_back.interval": [f"{W}/test_policy_switches.py::test_look_back_revisits_follow_the_policys_schedule"],
    "look_back.revisits": [
        f"{W}/test_policy_switches.py::test_look_back_revisits_follow_the_policys_schedule",
        f"{W}/test_after_decision.py::test_case_study_three_monthly_revisits",
    ],
    "look_back.window": [f"{W}/test_policy_switches.py::test_look_back_revisits_follow_the_policys_schedule"],
    "look_back.revisits_per_run": [
        f"{W}/test_policy_switches.py::test_look_back_revisits_follow_the_policys_schedule",
        f"{W}/test_after_decision.py::test_a_long_look_back_continues_as_new_and_loses_no_signal",
    ],
    "regulator_reporting.due": [
        f"{W}/test_policy_switches.py::test_the_investigation_and_its_report_follow_the_policy",
        f"{W}/test_regulator_reports.py::test_a_long_outage_alerts_compliance_and_loses_nothing",
    ],
    "regulator_reporting.retry_window_fraction": [
        f"{W}/test_policy_switches.py::test_a_failing_report_alerts_compliance_after_the_policys_share_of_the_time"
    ],
    "regulator_reporting.default_regulator": [
        f"{W}/test_policy_switches.py::test_the_investigation_and_its_report_follow_the_policy"
    ],
    "investigation.due": [
        f"{W}/test_policy_switches.py::test_the_investigation_and_its_report_follow_the_policy",
        f"{W}/test_investigation.py::test_the_investigation_clock_warns_the_lead_then_escalates_a_breach",
    ],
    "investigation.accountability_deciders": [
        f"{W}/test_policy_switches.py::test_the_investigation_and_its_report_follow_the_policy",
        f"{W}/test_investigation.py::test_each_investigation_action_needs_the_right_role_and_refusals_leave_no_trace",
    ],
    "investigation.evidence_required": [
        f"{W}/test_policy_switches.py::test_the_investigation_and_its_report_follow_the_policy",
        f"{W}/test_investigation.py::test_each_investigation_action_needs_the_right_role_and_refusals_leave_no_trace",
    ],
    "root_causes": [
        f"{W}/test_policy_switches.py::test_the_follow_up_call_runs_on_the_policys_window_attempts_and_threshold",
        f"{W}/test_after_decision.py::test_a_satisfied_customer_closes_the_complaint",
    ],
    "regulatory_pack.returns": [f"{W}/test_reporting.py::test_the_schedule_runs_the_analysis_of_the_month_before"],
    "reporting.run_day": [f"{W}/test_reporting.py::test_the_schedule_runs_the_analysis_of_the_month_before"],
    "reporting.run_hour": [f"{W}/test_reporting.py::test_the_schedule_runs_the_analysis_of_the_month_before"],
    "reporting.repeat_window_days": [
        "tests/db/test_analysis_queries.py::test_the_repeat_window_and_the_clauses_shown_are_the_policys"
    ],
    "reporting.top_clauses": [
        "tests/db/test_analysis_queries.py::test_the_repeat_window_and_the_clauses_shown_are_the_policys"
    ],
    "reporting.products": [
        f"{W}/test_reporting.py::test_the_returns_come_from_the_same_data_and_a_row_failing_its_schema_writes_nothing",
        "tests/complaints/test_intake.py::test_filed_intakes_are_stored_and_acknowledged_or_refused_without_a_trace",
    ],
    "reporting.risk_points": [
        "tests/db/test_analysis_queries.py::test_thresholds_crossed_are_risk_points_with_their_owner",
        "tests/domain/test_analysis.py::test_too_few_cases_is_no_risk_point_and_each_measure_has_its_figure",
    ],
    "intake.earliest_received_on": ["tests/models/test_intake.py::test_received_before_the_policy_floor_is_refused"],
    "intake.clock_skew_seconds": [
        "tests/models/test_intake.py::test_received_in_the_future_beyond_the_clock_skew_is_refused"
    ],
    "clause_review.window_days": [
        "tests/domain/test_clauses.py::test_the_window_is_the_policys",
        "tests/db/test_clause_queries.py::test_the_window_and_the_root_causes_are_the_policys",
    ],
    "clause_review.threshold": [
        f"{W}/test_clause_review.py::test_three_disputes_citing_a_clause_open_one_review_a_fourth_links_and_legal_closes_it",
        "tests/domain/test_clauses.py::test_the_threshold_opens_and_an_open_review_takes_new_complaints_whatever_the_count",
    ],
    "clause_review.root_causes": [
        "tests/domain/test_clauses.py::test_a_complaint_closed_in_the_window_with_a_counted_root_cause_counts_from_its_closure",
        "tests/db/test_clause_queries.py::test_the_window_and_the_root_causes_are_the_policys",
    ],
    "clause_review.templates": [
        "tests/domain/test_clauses.py::test_the_template_comes_from_the_policys_prefixes_else_the_leading_letters",
        f"{W}/test_clause_review.py::test_three_disputes_citing_a_clause_open_one_review_a_fourth_links_and_legal_closes_it",
    ],
    "clause_review.owner_role": [
        "tests/db/test_clause_queries.py::test_the_owner_the_closers_and_the_due_date_are_the_policys",
        f"{W}/test_clause_review.py::test_three_disputes_citing_a_clause_open_one_review_a_fourth_links_and_legal_closes_it",
    ],
    "clause_review.closer_roles": [
        f"{W}/test_clause_review.py::test_three_disputes_citing_a_clause_open_one_review_a_fourth_links_and_legal_closes_it",
        "tests/db/test_clause_queries.py::test_the_owner_the_closers_and_the_due_date_are_the_policys",
        "tests/domain/test_clauses.py::test_a_close_is_refused_with_the_reason",
    ],
    "clause_review.due": [
        f"{W}/test_clause_review.py::test_three_disputes_citing_a_clause_open_one_review_a_fourth_links_and_legal_closes_it",
        "tests/db/test_clause_queries.py::test_the_owner_the_closers_and_the_due_date_are_the_policys",
    ],
    "clause_review.warning_fraction": [
        "tests/db/test_clause_queries.py::test_the_owner_the_closers_and_the_due_date_are_the_policys",
        f"{W}/test_clause_review.py::test_three_disputes_citing_a_clause_open_one_review_a_fourth_links_and_legal_closes_it",
    ],
    "clause_review.watch_every_minutes": [
        "tests/domain/test_clauses.py::test_the_watch_runs_on_a_schedule_every_policys_minutes"
    ],
    "risk.threshold": [
        "tests/domain/test_risk.py::test_the_threshold_decides_whether_the_score_crosses",
        f"{W}/test_risk.py::test_a_customer_under_the_threshold_has_no_case",
    ],
    "risk.days_past_due": ["tests/domain/test_risk.py::test_days_past_due_scores_the_highest_band_reached"],
    "risk.restructuring.points": [
        "tests/domain/test_risk.py::test_each_loan_book_rule_scores_its_points_within_its_window"
    ],
    "risk.restructuring.within_days": [
        "tests/domain/test_risk.py::test_each_loan_book_rule_scores_its_points_within_its_window"
    ],
    "risk.restructuring.count": [
        "tests/domain/test_risk.py::test_a_rule_fires_only_with_its_count_of_events_within_its_window"
    ],
    "risk.covenant_breach.points": [
        "tests/domain/test_risk.py::test_each_loan_book_rule_scores_its_points_within_its_window"
    ],
    "risk.covenant_breach.within_days": [
        "tests/domain/test_risk.py::test_a_rule_fires_only_with_its_count_of_events_within_its_window"
    ],
    "risk.covenant_breach.count": [
        "tests/domain/test_risk.py::test_each_loan_book_rule_scores_its_points_within_its_window"
    ],
    "risk.rating_down.points": [
        "tests/domain/test_risk.py::test_a_rating_counts_only_when_it_fell_enough_notches_within_its_window"
    ],
    "risk.rating_down.notches": [
        "tests/domain/test_risk.py::test_a_rating_counts_only_when_it_fell_enough_notches_within_its_window"
    ],
    "risk.rating_down.within_days": [
        "tests/domain/test_risk.py::test_a_rating_counts_only_when_it_fell_enough_notches_within_its_window"
    ],
    "risk.drawdowns_refused.points": [
        "tests/domain/test_risk.py::test_each_loan_book_rule_scores_its_points_within_its_window"
    ],
    "risk.drawdowns_refused.within_days": [
        "tests/domain/test_risk.py::test_each_loan_book_rule_scores_its_points_within_its_window"
    ],
    "risk.drawdowns_refused.count": [
        "tests/domain/test_risk.py::test_each_loan_book_rule_scores_its_points_within_its_window"
    ],
    "risk.repeat_complaints.points": [
        "tests/domain/test_risk.py::test_each_complaint_rule_scores_its_points_within_its_window"
    ],
    "risk.repeat_complaints.within_days": [
        "tests/domain/test_risk.py::test_each_complaint_rule_scores_its_points_within_its_window"
    ],
    "risk.repeat_complaints.count": [
        "tests/domain/test_risk.py::test_a_rule_fires_only_with_its_count_of_events_within_its_window"
    ],
    "risk.repayment_collection_complaint.points": [
        "tests/domain/test_risk.py::test_each_complaint_rule_scores_its_points_within_its_window"
    ],
    "risk.repayment_collection_complaint.within_days": [
        "tests/domain/test_risk.py::test_each_complaint_rule_scores_its_points_within_its_window"
    ],
    "risk.repayment_collection_complaint.count": [
        "tests/domain/test_risk.py::test_each_complaint_rule_scores_its_points_within_its_window"
    ],
    "risk.amount_in_dispute.points": [
        "tests/domain/test_risk.py::test_the_amounts_in_dispute_count_together_in_the_rules_currency_and_are_listed",
        f"{W}/test_risk.py::test_complaints_alone_open_a_warning_from_the_worker_once_and_the_web_ui_lists_it",
    ],
    "risk.amount_in_dispute.tier_rules": [
        "tests/domain/test_risk.py::test_amounts_and_regulators_are_read_from_what_the_projection_holds"
    ],
    "risk.amount_in_dispute.within_days": [
        "tests/domain/test_risk.py::test_amounts_and_regulators_are_read_from_what_the_projection_holds"
    ],
    "risk.refiled_after_withdrawal.points": [
        "tests/domain/test_risk.py::test_each_complaint_rule_scores_its_points_within_its_window"
    ],
    "risk.refiled_after_withdrawal.within_days": [
        "tests/domain/test_risk.py::test_each_complaint_rule_scores_its_points_within_its_window"
    ],
    "risk.refiled_after_withdrawal.count": [
        "tests/domain/test_risk.py::test_a_rule_fires_only_with_its_count_of_events_within_its_window"
    ],
    "risk.regulator_involved.points": [
        "tests/domain/test_risk.py::test_amounts_and_regulators_are_read_from_what_the_projection_holds",
        f"{W}/test_risk.py::test_a_filed_complaint_rescores_its_customer_and_can_open_the_case",
    ],
    "risk.regulator_involved.tier_rules": [
        "tests/domain/test_risk.py::test_amounts_and_regulators_are_read_from_what_the_projection_holds"
    ],
    "risk.regulator_involved.within_days": [
        "tests/domain/test_risk.py::test_amounts_and_regulators_are_read_from_what_the_projection_holds"
    ],
    "risk.acknowledge": [
        f"{W}/test_risk.py::test_an_unacknowledged_warning_breaches_and_the_managers_are_told",
        "tests/domain/test_risk.py::test_the_shipped_policies_set_the_case_clocks_and_who_works_it",
    ],
    "risk.act": [
        f"{W}/test_risk.py::test_an_unacknowledged_warning_breaches_and_the_managers_are_told",
        "tests/domain/test_risk.py::test_the_shipped_policies_set_the_case_clocks_and_who_works_it",
    ],
    "risk.roles": [
        f"{W}/test_risk.py::test_a_crossing_opens_one_warning_a_second_signal_joins_it_and_it_closes_with_an_outcome",
        f"{W}/test_risk.py::test_an_unacknowledged_warning_breaches_and_the_managers_are_told",
    ],
    "education.root_causes": [
        "tests/db/test_education_queries.py::test_topics_are_counted_by_product_and_category_in_the_period_and_the_periods_before",
        "tests/domain/test_education.py::test_the_policy_names_the_root_causes_the_recorders_and_the_months_compared",
    ],
    "education.recorder_roles": [
        "tests/db/test_education_queries.py::test_an_action_is_recorded_once_by_a_staff_member_whose_role_may",
        "tests/complaints/test_education_cli.py::test_a_refused_action_names_the_field_and_writes_nothing",
    ],
    "education.comparison_months": [
        "tests/db/test_education_queries.py::test_each_action_compares_the_months_before_it_with_the_whole_months_after",
        "tests/domain/test_education.py::test_the_policy_names_the_root_causes_the_recorders_and_the_months_compared",
    ],
    "performance.scorecard": [
        "tests/db/test_scorecards.py::test_the_score_is_the_policys_formula_with_every_line_shown",
        "tests/domain/test_performance.py::test_the_score_is_a_hundred_times_earned_over_the_weights_of_the_terms_with_a_value",
    ],
    "performance.award.min_cases": [
        "tests/domain/test_performance.py::test_each_reason_a_handler_is_not_eligible_is_given_in_words",
        "tests/db/test_scorecards.py::test_the_awards_inputs_and_its_ranking",
    ],
    "performance.award.exclude_decisions": [
        "tests/domain/test_performance.py::test_the_policy_decides_which_decisions_and_breaches_exclude",
        "tests/db/test_scorecards.py::test_the_awards_inputs_and_its_ranking",
    ],
    "performance.award.exclude_own_breach": [
        "tests/domain/test_performance.py::test_the_policy_decides_which_decisions_and_breaches_exclude",
        "tests/db/test_scorecards.py::test_the_awards_inputs_and_its_ranking",
    ],
    "performance.award.own_breach_tolerance": [
        "tests/domain/test_performance.py::test_a_share_of_breached_clocks_within_the_tolerance_leaves_a_handler_eligible"
    ],
    "performance.award.winners": [
        "tests/domain/test_award_rules.py::test_a_decision_is_refused_with_the_reason",
        f"{W}/test_award.py::test_a_quarters_award_is_ranked_approved_by_a_senior_manager_and_recorded_once",
    ],
    "performance.award.approver_roles": [
        f"{W}/test_award.py::test_a_quarters_award_is_ranked_approved_by_a_senior_manager_and_recorded_once",
        "tests/domain/test_award_rules.py::test_a_decision_is_refused_with_the_reason",
    ],
    "performance.award.run_day": [f"{W}/test_award.py::test_the_award_runs_each_quarter_on_its_schedule"],
    "performance.award.run_hour": [f"{W}/test_award.py::test_the_award_runs_each_quarter_on_its_schedule"],
    "performance.training.rules": [
        "tests/domain/test_performance.py::test_a_training_rule_fires_when_its_figure_crosses_with_enough_cases_behind_it"
    ],
    "performance.training.catalogue": [
        "tests/domain/test_training.py::test_the_policy_names_its_catalogue_file",
        f"{W}/test_training.py::test_a_renewing_course_continues_as_a_fresh_assignment_after_completion",
        f"{W}/test_training.py::test_joining_training_is_started_once_however_often_it_is_ensured",
    ],
    "performance.training.reminder_fraction": [
        "tests/domain/test_training.py::test_the_reminder_comes_at_the_policys_fraction_of_the_way",
        f"{W}/test_training.py::test_an_investigations_training_decision_reminds_goes_overdue_escalates_and_completes_once",
    ],
    "performance.training.investigation_course": [
        f"{W}/test_training.py::test_an_investigations_training_decision_reminds_goes_overdue_escalates_and_completes_once",
        "tests/domain/test_training.py::test_the_investigation_course_is_the_policys",
    ],
    "performance.training.routing_skips_overdue": [
        f"{W}/test_training.py::test_routing_skips_a_handler_overdue_on_mandatory_training_for_complex_complaints_only",
        "tests/domain/test_training.py::test_routing_skips_only_complex_and_major_and_only_by_the_switch",
    ],
    "surge.dimensions": [
        f"{W}/test_incident.py::test_a_burst_opens_one_incident_per_key_and_links_the_complaints_after_it",
        "tests/db/test_surge_queries.py::test_complaints_are_counted_per_key_and_window",
    ],
    "surge.window": [
        "tests/domain/test_surge.py::test_the_windows_are_the_latest_and_the_baseline_before_it",
        f"{W}/test_incident.py::test_a_burst_opens_one_incident_per_key_and_links_the_complaints_after_it",
    ],
    "surge.baseline_windows": [
        "tests/domain/test_surge.py::test_the_windows_are_the_latest_and_the_baseline_before_it",
        "tests/db/test_surge_queries.py::test_complaints_are_counted_per_key_and_window",
    ],
    "surge.factor": [
        "tests/domain/test_surge.py::test_a_surge_is_factor_times_the_median_and_at_least_the_minimum",
    ],
    "surge.min_complaints": [
        "tests/domain/test_surge.py::test_a_surge_is_factor_times_the_median_and_at_least_the_minimum",
        f"{W}/test_incident.py::test_a_burst_opens_one_incident_per_key_and_links_the_complaints_after_it",
    ],
    "surge.check_every": [
        f"{W}/test_incident.py::test_the_surge_watch_runs_on_its_schedule",
    ],
    "incident.crisis_team": [
        f"{W}/test_incident.py::test_a_burst_opens_one_incident_per_key_and_links_the_complaints_after_it",
        "tests/domain/test_surge.py::test_who_may_name_the_lead",
    ],
    "incident.lead_roles": [
        f"{W}/test_incident.py::test_a_burst_opens_one_incident_per_key_and_links_the_complaints_after_it",
        "tests/domain/test_surge.py::test_who_may_name_the_lead",
    ],
    "incident.closer_roles": [
        "tests/domain/test_surge.py::test_the_review_needs_a_root_cause_of_the_policy_and_closing_needs_the_review",
        f"{W}/test_incident.py::test_a_burst_opens_one_incident_per_key_and_links_the_complaints_after_it",
    ],
    "incident.situation_report_every": [
        f"{W}/test_incident.py::test_a_burst_opens_one_incident_per_key_and_links_the_complaints_after_it",
        "tests/domain/test_surge.py::test_an_interval_reads_as_staff_say_it",
    ],
    "incident.internal_clock_factor": [
        f"{W}/test_incident.py::test_a_burst_opens_one_incident_per_key_and_links_the_complaints_after_it",
        f"{W}/test_linked.py::test_an_incident_prioritises_a_complaint_once_and_replies_once_per_customer",
        "tests/domain/test_clocks.py::test_an_incident_halves_the_remaining_time_of_running_internal_clocks_only",
    ],
    "recall.declarer_roles": [
        "tests/domain/test_recall.py::test_only_a_senior_manager_declares_a_recall_of_a_catalogue_product",
        f"{W}/test_recall.py::test_a_recall_tells_each_customer_once_links_their_complaints_and_closes_on_the_revision",
    ],
    "recall.remediation_due": [
        f"{W}/test_recall.py::test_a_recall_tells_each_customer_once_links_their_complaints_and_closes_on_the_revision",
    ],
    "recall.window": [
        f"{W}/test_recall.py::test_a_recall_of_2000_customers_survives_two_worker_kills",
    ],
    "recall.per_run": [
        f"{W}/test_recall.py::test_a_recall_of_2000_customers_survives_two_worker_kills",
    ],
    "recall.page_size": [
        f"{W}/test_recall.py::test_a_recall_of_2000_customers_survives_two_worker_kills",
    ],
    "recall.remediator_roles": [
        "tests/domain/test_recall.py::test_a_remediation_is_done_once_by_a_remediator_saying_what_was_done",
        f"{W}/test_recall.py::test_a_recall_tells_each_customer_once_links_their_complaints_and_closes_on_the_revision",
    ],
    "recall.progress_every": [
        "tests/domain/test_recall.py::test_the_progress_count_is_a_period_in_seconds_minutes_or_hours",
        f"{W}/test_recall.py::test_a_recall_tells_each_customer_once_links_their_complaints_and_closes_on_the_revision",
    ],
    "retention.period": [
        f"{W}/test_retention.py::test_a_run_anonymises_an_old_closed_complaint_once_and_leaves_its_statistics",
        "tests/domain/test_retention.py::test_the_period_is_the_policys_in_clock_time_and_business_days_are_refused",
        f"{W}/test_retention.py::test_temporals_namespace_retention_is_set_to_the_policys_period",
    ],
    "retention.check_every": [
        f"{W}/test_retention.py::test_the_retention_runs_on_its_schedule",
        "tests/domain/test_retention.py::test_the_schedule_looks_every_check_every_and_reads_pages_of_page_size",
    ],
    "signing.mode": [
        f"{W}/test_signed_actions.py::test_a_forged_as_is_refused_and_the_real_actor_is_verified_from_the_audit_log",
        f"{W}/test_signed_actions.py::test_record_accepts_an_unsigned_action_and_marks_it_and_off_checks_nothing",
    ],
    "signing.window_seconds": [f"{W}/test_signed_actions.py::test_a_replayed_or_stale_signed_request_is_refused"],
    "risk.amount_in_dispute.at_least": [
        "tests/domain/test_risk.py::test_the_amounts_in_dispute_count_together_in_the_rules_currency_and_are_listed"
    ],
    "risk.amount_in_dispute.currency": [
        "tests/domain/test_risk.py::test_the_amounts_in_dispute_count_together_in_the_rules_currency_and_are_listed"
    ],
    "retention.page_size": [
        f"{W}/test_retention.py::test_the_pages_are_the_policys_and_a_run_continues_as_new",
        "tests/domain/test_retention.py::test_the_schedule_looks_every_check_every_and_reads_pages_of_page_size",
    ],
}

# Text for people, enforced by nothing: shown where the policy is shown.
DESCRIPTIVE = {"description", "regulatory_pack.id", "regulatory_pack.name", "regulatory_pack.notes"}

# Parts of a switch, not switches of their own (a clock's label, limit and source go together).
WHOLE = (ClockSpec, TimeLimit, SummaryResolutionSpec)


def _model_of(annotation: object) -> type[BaseModel] | None:
    if isinstance(annotation, type) and issubclass(annotation, PolicyModel):
        return annotation
    if isinstance(annotation, types.UnionType) or typing.get_origin(annotation) is typing.Union:
        models = [m for m in (_model_of(a) for a in typing.get_args(annotation)) if m is not None]
        return models[0] if len(models) == 1 else None
    return None


def switches(model: type[BaseModel] = Policy, prefix: str = "") -> set[str]:
    """The policy's fields, a section's (a nested model, not a whole clock) by their own."""
    found: set[str] = set()
    for name, field in model.model_fields.items():
        nested = _model_of(field.annotation)
        if nested is not None and not issubclass(nested, WHOLE):
            found |= switches(nested, f"{prefix}{name}.")
        else:
            found.add(f"{prefix}{name}")
    return found


@cache
def _tests_in(path: str) -> frozenset[str]:
    tree = ast.parse((PROJECT_ROOT / path).read_text(encoding="utf-8"))
    return frozenset(
        node.name
        for node in tree.body
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.name.startswith("test_")
    )


def test_every_policy_switch_has_an_enforcing_test() -> None:
    fields = switches()
    assert fields - DESCRIPTIVE - set(SWITCHES) == set(), "a policy switch without a test that shows it enforced"
    assert set(SWITCHES) - fields == set(), "a switch listed here that the policy no longer has"
    assert all(SWITCHES.values())


def test_the_sections_are_walked_into() -> None:
    # The walk must reach into sections, else a new field of one would go unnoticed.
    assert {"follow_up.max_attempts", "regulatory_pack.calendar.timezone", "intake.clock_skew_seconds"} <= switches()
    assert "regulatory_pack.acknowledgement" in switches() and "regulatory_pack.acknowledgement.limit" not in switches()


def test_the_tests_named_exist() -> None:
    named = [ref.split("::") for refs in SWITCHES.values() for ref in refs]
    missing = [f"{path}::{name}" for path, name in named if not _exists(path) or name not in _tests_in(path)]
    assert missing == []


def _exists(path: str) -> bool:
    return Path(PROJECT_ROOT / path).is_file()


def test_the_readme_lists_every_switch() -> None:
    readme = (PROJECT_ROOT / "README.md").read_text(encoding="utf-8")
    title = "**Policy switches and the tests that enforce them.**"
    assert title in readme, "README: no paragraph 'Policy switches and the tests that enforce them'"
    table = readme.split(title, 1)[1].split("\n\n|", 1)[1].split("\n\n", 1)[0]
    rows = {m.group(1): m.group(2) for m in re.finditer(r"^\| `([a-z_.]+)`[^|]*\|[^|]*\|(.*)\|$", table, re.M)}
    assert set(rows) == set(SWITCHES), f"README: missing {set(SWITCHES) - set(rows)}, extra {set(rows) - set(SWITCHES)}"
    for switch, tests in SWITCHES.items():
        assert all(f"`{test}`" in rows[switch] for test in tests), f"README: the tests of {switch}"

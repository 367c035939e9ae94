"""Retention's pure rules (issue 16): the period, what is past it, and what of a record is erased."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from pydantic import ValidationError

from domain import retention as rules
from domain.personal_data import SEALED_DETAIL_MEMBERS
from domain.policy import load_policy
from models.complaint import CLOSED_STATUSES
from models.policy import TimeLimit, TimeUnit
from models.retention import RetentionPolicy, RetentionState
from tests.conftest import COMPRESSED_POLICY
from tests.workflows.test_policy_switches import variant

NOW = datetime(2031, 11, 30, 6, 0, tzinfo=UTC)
CLOSED = {s.value for s in CLOSED_STATUSES}


def test_the_period_is_the_policys_in_clock_time_and_business_days_are_refused() -> None:
    standard = load_policy(COMPRESSED_POLICY.with_name("standard.yaml")).retention
    assert rules.period_seconds(standard.period) == 1827 * 86400  # five years after closure
    assert rules.period_seconds(load_policy(COMPRESSED_POLICY).retention.period) == 600
    policy = variant("retention-days", retention={"period": {"amount": 30, "unit": "calendar_days"}})
    assert rules.cutoff(NOW, rules.period_seconds(policy.retention.period)) == NOW - timedelta(days=30)
    with pytest.raises(ValidationError, match="seconds, minutes, hours or calendar days"):
        RetentionPolicy(period=TimeLimit(amount=5, unit=TimeUnit.BUSINESS_DAYS))
    with pytest.raises(ValidationError, match="at least 1"):
        RetentionPolicy(check_every=TimeLimit(amount=0, unit=TimeUnit.SECONDS))


def test_the_schedule_looks_every_check_every_and_reads_pages_of_page_size() -> None:
    policy = variant("retention-cadence", retention={"check_every": {"amount": 2, "unit": "hours"}, "page_size": 7})
    assert rules.period_seconds(policy.retention.check_every) == 7200
    assert policy.retention.page_size == 7
    with pytest.raises(ValidationError, match="page_size"):
        variant("retention-page", retention={"page_size": 0})


def test_only_a_closed_complaint_closed_before_the_cutoff_is_past_the_period() -> None:
    cutoff = NOW - timedelta(days=1827)
    old = cutoff - timedelta(seconds=1)
    assert rules.past_period(old, "closed", CLOSED, cutoff)
    assert rules.past_period(old, "withdrawn", CLOSED, cutoff)
    assert rules.past_period(old, "resolved", CLOSED, cutoff)  # closed at acceptance, before follow-up existed
    assert not rules.past_period(cutoff, "closed", CLOSED, cutoff)  # exactly at the cutoff: not yet
    assert not rules.past_period(old, "in_handling", CLOSED, cutoff)  # reopened: open again
    assert not rules.past_period(None, "closed", CLOSED, cutoff)


def test_free_text_and_contact_details_are_erased_and_the_skeleton_kept() -> None:
    detail = {
        "clock": "simple_first_response",
        "due_at": "2026-11-30T06:00:00+00:00",
        "escalated_to": "S-MGR-001",
        "escalation_level": 1,
        "number": 2,
        "remedy_total": "500.00",
        "reason": "Customer Chen Hua called twice about the fee",
        "recipient": "chen.hua@logistics.example",
        "comments": "Refund arrived, thanks — Chen",
        "staff_ids": ["S-HND-001", "S-HND-002"],
        "requested": ["bank statement of Chen Hua Logistics"],
        "clocks": [{"clock": "acknowledgement", "from": "a", "to": "b"}],
        "paused": True,
        "signed": {"key_id": "ab12", "payload": {"note": "x"}},
    }
    redacted = rules.redact(detail)
    assert redacted == {
        **detail,
        "reason": rules.ERASED,
        "recipient": rules.ERASED,
        "comments": rules.ERASED,
        "requested": [rules.ERASED],
        "signed": {"key_id": rules.ERASED, "payload": {"note": rules.ERASED}},
    }
    assert rules.redact(redacted) == redacted  # twice changes nothing


def test_an_older_rows_case_file_keeps_what_the_analysis_reads_and_loses_the_customer() -> None:
    clock = {"name": "acknowledgement", "label": "Acknowledgement", "state": "met", "due_at": "2026-01-01T00:00:00Z"}
    case_file = {
        "status": "closed",
        "intake": {
            "customer": {"customer_id": "C-1", "name": "Chen Hua", "email": "chen@x.example", "phone": "+86 1"},
            "summary": "Charged twice",
            "description": "The fee appears twice on the statement of Chen Hua Logistics.",
            "product": "overdraft",
            "details": {"category": "contract_dispute", "clause_references": ["7.3"], "claims": ["Refund me"]},
            "evidence": [{"uri": "https://dms.example/chen-hua.pdf", "sha256": "a" * 64}],
        },
        "proposals": [
            {
                "number": 1,
                "state": "accepted",
                "fee_refund": {"amount": "500.00", "currency": "CNY"},
                "explanation": "x",
            }
        ],
        "resolved_at": "2026-01-02T00:00:00Z",
        "clocks": [clock],
        "root_cause": {"code": "pricing_error", "text": "Chen's fee table", "by": "S-HND-001"},
    }
    skeleton = rules.redact(case_file)
    customer = skeleton["intake"]["customer"]
    assert customer == {"customer_id": "C-1", "name": rules.ERASED, "email": rules.ERASED, "phone": rules.ERASED}
    assert skeleton["intake"]["summary"] == skeleton["intake"]["description"] == rules.ERASED
    assert skeleton["intake"]["evidence"] == [{"uri": rules.ERASED, "sha256": rules.ERASED}]
    assert skeleton["intake"]["details"] == {
        "category": "contract_dispute",
        "clause_references": ["7.3"],
        "claims": [rules.ERASED],
    }
    assert skeleton["intake"]["product"] == "overdraft"
    assert skeleton["proposals"][0] == {**case_file["proposals"][0], "explanation": rules.ERASED}
    assert skeleton["clocks"] == [clock] and skeleton["resolved_at"] == case_file["resolved_at"]
    assert skeleton["root_cause"] == {"code": "pricing_error", "text": rules.ERASED, "by": "S-HND-001"}


def test_what_the_projection_seals_as_personal_is_never_kept_as_structure() -> None:
    # domain/personal_data.py names the free-text members sealed at rest; retention erases them all.
    assert rules.STRUCTURAL & SEALED_DETAIL_MEMBERS == set()


def test_the_audit_event_says_under_which_policy_and_period() -> None:
    detail = rules.audit_detail("2026.11-standard", "1827 calendar days", 1827 * 86400, NOW, "retention-x")
    assert detail == {
        "policy_version": "2026.11-standard",
        "retention": "1827 calendar days",
        "retention_seconds": 157852800,
        "closed_at": NOW.isoformat(),
        "workflow_id": "retention-x",
    }
    shown = rules.details(RetentionState.model_validate({"request": {}, "anonymised": 3, "skipped": 1}))
    assert "**Anonymised:** 3" in shown and "skipped: 1" in shown

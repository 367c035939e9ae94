"""The recall of a defective product: the pure rules and models (step 6.2)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from pydantic import ValidationError

from complaints.config import PROJECT_ROOT
from complaints.loan_book import validate_rows
from domain import recall as rules
from domain.policy import load_policy
from models.loan_book import ContractHeld, ContractStatus
from models.recall import (
    CompleteRemediationRequest,
    DeclareRecallRequest,
    RecallDeclaration,
    RecallPlan,
    RecallPolicy,
    RecallProgress,
    RecallRevision,
    RecallState,
    RecordRevisionRequest,
    RemediationRequest,
    RemediationState,
    RemediationStatus,
    RemedyKind,
)

NOW = datetime(2026, 11, 30, 8, 0, tzinfo=UTC)
POLICY = load_policy(PROJECT_ROOT / "policies" / "standard.yaml")


def declare(**changes: Any) -> DeclareRecallRequest:
    base: dict[str, Any] = {
        "product": "equipment_finance",
        "actor": "S-SM-001",
        "reason": "The fee formula overcharges",
        "scope": "Every contract on EQF-2025",
        "remedy": RemedyKind.REFUND,
    }
    return DeclareRecallRequest.model_validate(base | changes)


def state(**changes: Any) -> RecallState:
    declaration = RecallDeclaration(
        recall_id="equipment_finance-1",
        product="equipment_finance",
        product_label="Equipment finance",
        reason="r",
        scope="s",
        remedy=RemedyKind.REFUND,
        declared_by="S-SM-001",
        declared_at=NOW,
    )
    plan = RecallPlan(
        affected=3,
        owner="S-SM-001",
        remediators=["S-FIN-001"],
        remediator_roles=["finance"],
        revisers=["S-SM-001"],
        window=100,
        per_run=1000,
        page_size=200,
        progress_every_seconds=900,
        remediation_due="30 calendar days",
        policy_version="v",
    )
    return RecallState(declaration=declaration, plan=plan).model_copy(update=changes)


def revision(actor: str = "S-SM-001", **changes: Any) -> RecordRevisionRequest:
    base: dict[str, Any] = {"recall_id": "equipment_finance-1", "actor": actor, "revision": "Fixed", "new_version": "2"}
    return RecordRevisionRequest.model_validate(base | changes)


def test_ids_name_the_product_the_recall_and_the_customer() -> None:
    assert rules.workflow_id("equipment_finance") == "recall-equipment_finance"
    assert rules.recall_id("equipment_finance", 2) == "equipment_finance-2"
    assert rules.remediation_id("equipment_finance-2", "C-1") == "remediation-equipment_finance-2-C-1"
    assert rules.notice_key("equipment_finance-2", "C-1") == "recall:equipment_finance-2:C-1"
    assert rules.overdue_key("equipment_finance-2") == "recall:equipment_finance-2:overdue"


def test_only_a_senior_manager_declares_a_recall_of_a_catalogue_product() -> None:
    assert rules.declare_refusal(POLICY, declare(), "senior_manager") is None
    assert rules.declare_refusal(POLICY, declare(actor="S-MGR-001"), "manager") == (
        "S-MGR-001 is manager; declaring a recall takes senior_manager"
    )
    assert "no active staff member" in (rules.declare_refusal(POLICY, declare(actor="S-X"), None) or "")
    refused = rules.declare_refusal(POLICY, declare(product="yachts"), "senior_manager") or ""
    assert refused.startswith("'yachts' is not a product of the catalogue (reporting.products: working_capital")
    assert rules.declare_refusal(POLICY, declare(reason="  "), "senior_manager") == (
        "a recall states its reason and its scope"
    )
    with pytest.raises(ValidationError):
        declare(remedy="apology")


def test_the_revision_is_a_declarers_once_and_only_while_open() -> None:
    assert rules.revision_refusal(state(), revision()) is None
    assert "S-MGR-001 may not record the revision" in (rules.revision_refusal(state(), revision("S-MGR-001")) or "")
    assert "still being planned" in (rules.revision_refusal(state(plan=None), revision()) or "")
    done = RecallRevision(revision="Fixed", new_version="2", recorded_by="S-SM-001", recorded_at=NOW)
    assert (
        rules.revision_refusal(state(revision=done), revision()) == "the revision was recorded by S-SM-001 (2): Fixed"
    )
    assert rules.revision_refusal(state(closed_at=NOW), revision()) == "recall equipment_finance-1 is closed"
    assert "says what changed" in (rules.revision_refusal(state(), revision(revision=" ")) or "")


def test_a_remediation_is_done_once_by_a_remediator_saying_what_was_done() -> None:
    request = RemediationRequest(
        recall_id="equipment_finance-1",
        recall_workflow_id="recall-equipment_finance",
        product="equipment_finance",
        customer_id="C-1",
        remedy=RemedyKind.REFUND,
        owner="S-SM-001",
        remediators=["S-FIN-001"],
    )
    open_ = RemediationState(request=request)

    def complete(actor: str, note: str = "refund paid") -> CompleteRemediationRequest:
        return CompleteRemediationRequest(recall_id="equipment_finance-1", customer_id="C-1", actor=actor, note=note)

    assert rules.complete_refusal(open_, complete("S-FIN-001")) is None
    assert "S-HND-001 may not record the remediation of C-1" in (
        rules.complete_refusal(open_, complete("S-HND-001")) or ""
    )
    assert rules.complete_refusal(open_, complete("S-FIN-001", " ")) == "say what was done for the customer (--note)"
    done = open_.model_copy(update={"status": RemediationStatus.REMEDIATED, "remediated_by": "S-FIN-001"})
    assert (
        rules.complete_refusal(done, complete("S-FIN-001")) == "the remediation of C-1 was recorded done by S-FIN-001"
    )


def test_a_recall_finishes_with_every_remediation_done_and_the_revision() -> None:
    done = RecallRevision(revision="Fixed", new_version="2", recorded_by="S-SM-001", recorded_at=NOW)
    all_done = RecallProgress(affected=3, told=3, opened=3, remediated=3)
    assert not rules.finished(state(progress=all_done))
    assert not rules.finished(state(revision=done, progress=all_done.model_copy(update={"remediated": 2})))
    assert rules.finished(state(revision=done, progress=all_done))
    assert rules.finished(state(revision=done, progress=RecallProgress()))  # nobody affected: the revision ends it
    assert rules.summary(RecallProgress(affected=3, told=3, opened=3, remediated=1, overdue=2, overdue_open=1)) == (
        "3 affected, 3 told, 3 remediations open, 1 remediated, 2 fell overdue, 1 overdue now"
    )


def test_the_progress_count_is_a_period_in_seconds_minutes_or_hours() -> None:
    assert RecallPolicy().progress_seconds() == 900
    assert RecallPolicy.model_validate({"progress_every": {"amount": 2, "unit": "hours"}}).progress_seconds() == 7200
    for bad in ({"amount": 0, "unit": "seconds"}, {"amount": 1, "unit": "business_days"}):
        with pytest.raises(ValidationError, match="progress_every"):
            RecallPolicy.model_validate({"progress_every": bad})


def test_a_contract_record_names_its_product_and_is_validated_like_any_signal() -> None:
    row = {
        "source_system": "CORE-LOANS",
        "source_record_id": "CTR-1",
        "customer_id": "C-1",
        "observed_at": "2026-11-28T06:00:00+08:00",
        "kind": "contract",
        "contract_number": "EQ-1",
        "product": "equipment_finance",
    }
    [signal], errors = validate_rows([row], now=NOW)
    assert errors == [] and isinstance(signal, ContractHeld) and signal.status == ContractStatus.ACTIVE
    _, errors = validate_rows([{k: v for k, v in row.items() if k != "product"}], now=NOW)
    assert errors == ["row 1: product: Field required"]
    _, errors = validate_rows([row | {"status": "sold"}], now=NOW)
    assert errors and errors[0].startswith("row 1: status:")

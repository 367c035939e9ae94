"""Who may decide the Service Quality Award, and whom (the award workflow's validator; no server)."""

from __future__ import annotations

import pytest

from domain.performance import award_refusal
from models.award import AwardDecision, AwardProposal
from models.performance import Nominee
from models.roles import Role


def nominee(staff_id: str, rank: int | None) -> Nominee:
    return Nominee(
        staff_id=staff_id, name=staff_id, team="customer-service", score=80.0 if rank else None, rank=rank,
        eligible=rank is not None, reasons=[] if rank else ["fewer than 10 cases (2)"], cases=12,
        satisfaction_average=4.5, clocks_met_rate=98.0,
    )  # fmt: skip


PROPOSAL = AwardProposal(
    quarter="2026-Q4",
    workflow_id="award-2026-Q4",
    nominees=[nominee("S-HND-001", 1), nominee("S-HND-003", 2), nominee("S-HND-004", 3), nominee("S-HND-002", None)],
    proposed=["S-HND-001", "S-HND-003"],
    winners_allowed=2,
    approver_roles=[Role.SENIOR_MANAGER],
    approvers=["S-SM-001", "S-HND-003"],  # S-HND-003 holds a senior role too, for the self-award case
)


def decision(actor: str = "S-SM-001", winners: list[str] | None = None) -> AwardDecision:
    return AwardDecision(actor=actor, winners=winners or [], reason="Quarter review")


@pytest.mark.parametrize(
    ("actor", "winners", "why"),
    [
        ("S-MGR-001", [], "S-MGR-001 may not approve the award: it takes senior_manager"),
        ("S-HND-003", [], "S-HND-003 may not approve an award for themselves"),
        ("S-SM-001", ["S-HND-002"], "not eligible nominees: S-HND-002"),
        ("S-SM-001", ["S-HND-001", "S-HND-001"], "a winner is named twice"),
        ("S-SM-001", ["S-HND-001", "S-HND-003", "S-HND-004"], "at most 2 winners"),
    ],
)
def test_a_decision_is_refused_with_the_reason(actor: str, winners: list[str], why: str) -> None:
    assert award_refusal(PROPOSAL, False, decision(actor, winners)) == why


def test_the_proposed_list_or_a_changed_one_is_accepted_once() -> None:
    assert award_refusal(PROPOSAL, False, decision()) is None
    assert award_refusal(PROPOSAL, False, decision(winners=["S-HND-004"])) is None
    assert award_refusal(PROPOSAL, True, decision()) == "the award for 2026-Q4 is already decided"
    nobody = PROPOSAL.model_copy(update={"proposed": []})
    assert award_refusal(nobody, False, decision()) == "no eligible nominee to award; name the winners"

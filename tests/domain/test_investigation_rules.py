"""Who may do what in an internal investigation (domain/investigation.py): pure checks, no server.

Every test builds an ``InvestigationFile`` and a small roster by hand and asserts the sentence a
user would see when the investigation workflow's validators refuse.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from domain import investigation as inv
from domain.rules import Refused
from models.intake import EvidenceRef
from models.investigation import (
    DEFAULT_ACCOUNTABILITY_DECIDERS,
    AccountabilityDecision,
    AccountabilityRequest,
    AssignInvestigatorRequest,
    EvidenceItem,
    EvidenceRequest,
    FlagOpenComplaintsRequest,
    InvestigationFile,
    InvestigationFinding,
    InvestigationStage,
    ResponsibleNamed,
    ResponsibleRequest,
)
from models.policy import Accountability, Role
from models.staff import RosterEntry

T0 = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)
SHA_A = "a" * 64
SHA_B = "b" * 64


def entry(staff_id: str, role: Role) -> RosterEntry:
    return RosterEntry(staff_id=staff_id, name=staff_id, role=role, team="t")


ROSTER = {
    e.staff_id: e
    for e in (
        entry("CMP-1", Role.COMPLIANCE),
        entry("CMP-2", Role.COMPLIANCE),
        entry("CMP-3", Role.COMPLIANCE),
        entry("MGR-1", Role.MANAGER),
        entry("SM-1", Role.SENIOR_MANAGER),
        entry("H-1", Role.HANDLER),
        entry("H-2", Role.HANDLER),
    )
}


def evidence(sha: str = SHA_A, uri: str = "dms://doc/1") -> EvidenceRef:
    return EvidenceRef(uri=uri, sha256=sha)


def finding() -> InvestigationFinding:
    return InvestigationFinding(by="CMP-1", at=T0, summary="the fee was charged twice")


def decision(value: Accountability = Accountability.TRAINING) -> AccountabilityDecision:
    return AccountabilityDecision(by="SM-1", at=T0, decision=value, reason="r")


def file(
    *,
    implicated: tuple[str, ...] = (),
    responsible: tuple[str, ...] = (),
    evidence_items: tuple[EvidenceRef, ...] = (),
    findings: int = 0,
    decided: bool = False,
    **fields: Any,
) -> InvestigationFile:
    return InvestigationFile(
        investigation_id="INV-1",
        complaint_id="CMP-1",
        scope="s",
        reason="major",
        opened_at=T0,
        implicated=list(implicated),
        responsible=[ResponsibleNamed(by="CMP-1", at=T0, staff_ids=list(responsible), reason="r")]
        if responsible
        else [],
        evidence=[EvidenceItem(by="CMP-1", at=T0, evidence=e) for e in evidence_items],
        findings=[finding() for _ in range(findings)],
        accountability=[decision()] if decided else [],
        **fields,
    )


def refused(match: str) -> Any:
    return pytest.raises(Refused, match=f"^{match}$")


# -- require_participant -----------------------------------------------------------------


def test_an_active_compliance_officer_takes_part_and_gets_their_entry() -> None:
    assert inv.require_participant(file(), ROSTER, "CMP-1", (Role.COMPLIANCE,), "record a finding") is ROSTER["CMP-1"]
    assert (
        inv.require_participant(file(), ROSTER, "SM-1", [Role.COMPLIANCE, Role.SENIOR_MANAGER], "decide", ready=True)
        is ROSTER["SM-1"]
    )


def test_a_starting_investigation_asks_to_try_again() -> None:
    with refused("investigation INV-1 is starting; try again shortly"):
        inv.require_participant(file(), ROSTER, "CMP-1", (Role.COMPLIANCE,), "record a finding", ready=False)


def test_a_concluded_investigation_takes_no_more_actions() -> None:
    with refused("investigation INV-1 has concluded"):
        inv.require_participant(
            file(stage=InvestigationStage.CONCLUDED), ROSTER, "CMP-1", (Role.COMPLIANCE,), "record a finding"
        )


def test_someone_not_on_the_roster_is_refused() -> None:
    with refused("X-9 is not an active member of the staff directory"):
        inv.require_participant(file(), ROSTER, "X-9", (Role.COMPLIANCE,), "record a finding")


def test_an_implicated_officer_is_recused_even_with_the_right_role() -> None:
    with refused(r"CMP-2 is implicated in investigation INV-1 and takes no part in it \(recusal\)"):
        inv.require_participant(file(implicated=("CMP-2",)), ROSTER, "CMP-2", (Role.COMPLIANCE,), "record a finding")
    # someone else implicated does not recuse this officer
    inv.require_participant(file(implicated=("H-1",)), ROSTER, "CMP-1", (Role.COMPLIANCE,), "record a finding")


def test_the_wrong_role_is_told_which_roles_may_act() -> None:
    with refused("H-1 is handler; to record a finding takes compliance"):
        inv.require_participant(file(), ROSTER, "H-1", (Role.COMPLIANCE,), "record a finding")


# -- check_assign --------------------------------------------------------------------------


def test_a_compliance_officer_may_be_assigned_or_reassigned_as_lead() -> None:
    inv.check_assign(file(), ROSTER, AssignInvestigatorRequest(actor="CMP-1", lead="CMP-2"))
    inv.check_assign(file(lead="CMP-1"), ROSTER, AssignInvestigatorRequest(actor="CMP-1", lead="CMP-2"))


def test_the_lead_must_be_on_the_roster() -> None:
    with refused("X-9 is not an active member of the staff directory"):
        inv.check_assign(file(), ROSTER, AssignInvestigatorRequest(actor="CMP-1", lead="X-9"))


def test_only_compliance_may_lead() -> None:
    with refused("MGR-1 is manager; to lead an investigation takes compliance"):
        inv.check_assign(file(), ROSTER, AssignInvestigatorRequest(actor="CMP-1", lead="MGR-1"))


def test_an_implicated_officer_cannot_lead() -> None:
    with refused(r"CMP-2 is implicated in this investigation and cannot lead it \(recusal\)"):
        inv.check_assign(file(implicated=("CMP-2",)), ROSTER, AssignInvestigatorRequest(actor="CMP-1", lead="CMP-2"))


def test_the_current_lead_is_not_assigned_again() -> None:
    with refused("CMP-2 already leads the investigation"):
        inv.check_assign(file(lead="CMP-2"), ROSTER, AssignInvestigatorRequest(actor="CMP-1", lead="CMP-2"))


# -- check_evidence ------------------------------------------------------------------------


def test_new_evidence_is_accepted() -> None:
    inv.check_evidence(file(), EvidenceRequest(actor="CMP-1", evidence=evidence(SHA_A)))
    inv.check_evidence(
        file(evidence_items=(evidence(SHA_B, "dms://doc/2"),)),
        EvidenceRequest(actor="CMP-1", evidence=evidence(SHA_A)),
    )


def test_the_same_document_twice_is_refused_by_its_hash() -> None:
    on_file = file(evidence_items=(evidence(SHA_B, "dms://doc/2"), evidence(SHA_A, "dms://doc/1")))
    with refused("evidence.sha256: that document is already on file as dms://doc/1"):
        inv.check_evidence(on_file, EvidenceRequest(actor="CMP-1", evidence=evidence(SHA_A, "dms://other")))


# -- check_responsible ---------------------------------------------------------------------


def test_people_on_the_roster_may_be_named_responsible() -> None:
    request = ResponsibleRequest(actor="CMP-1", staff_ids=["H-1", "MGR-1"], reason="r")
    inv.check_responsible(file(), ROSTER, request)
    inv.check_responsible(file(responsible=("H-2",)), ROSTER, request)


def test_the_people_named_must_be_on_the_roster() -> None:
    with refused("X-9 is not an active member of the staff directory"):
        inv.check_responsible(file(), ROSTER, ResponsibleRequest(actor="CMP-1", staff_ids=["H-1", "X-9"], reason="r"))


def test_someone_already_named_is_not_named_again() -> None:
    with refused("staff_ids: H-2 is already named responsible"):
        inv.check_responsible(
            file(responsible=("H-1", "H-2")),
            ROSTER,
            ResponsibleRequest(actor="CMP-1", staff_ids=["MGR-1", "H-2"], reason="r"),
        )


def test_an_officer_cannot_name_themselves() -> None:
    with refused("staff_ids: you cannot name yourself; another compliance officer must"):
        inv.check_responsible(file(), ROSTER, ResponsibleRequest(actor="CMP-1", staff_ids=["H-1", "CMP-1"], reason="r"))


# -- deciders ------------------------------------------------------------------------------


def test_deciders_come_from_the_pinned_table() -> None:
    table = DEFAULT_ACCOUNTABILITY_DECIDERS
    assert inv.deciders(table, Accountability.NONE) == (Role.COMPLIANCE,)
    assert inv.deciders(table, Accountability.TRAINING) == (Role.COMPLIANCE, Role.MANAGER, Role.SENIOR_MANAGER)
    assert inv.deciders(table, Accountability.DISCIPLINARY) == (Role.SENIOR_MANAGER,)


def test_a_decision_the_table_does_not_name_has_no_deciders() -> None:
    assert inv.deciders({Accountability.NONE: [Role.COMPLIANCE]}, Accountability.WARNING) == ()


# -- check_accountability ------------------------------------------------------------------


def test_accountability_needs_a_finding_first() -> None:
    with refused("record at least one finding before deciding accountability"):
        inv.check_accountability(
            file(responsible=("H-1",)), AccountabilityRequest(actor="SM-1", decision=Accountability.NONE, reason="r")
        )


def test_a_sanction_needs_the_people_responsible_named_first() -> None:
    with refused("decision: 'warning' needs the people responsible named first"):
        inv.check_accountability(
            file(findings=1), AccountabilityRequest(actor="SM-1", decision=Accountability.WARNING, reason="r")
        )


def test_no_sanction_needs_nobody_named_and_a_sanction_passes_once_named() -> None:
    inv.check_accountability(
        file(findings=1), AccountabilityRequest(actor="CMP-1", decision=Accountability.NONE, reason="r")
    )
    inv.check_accountability(
        file(findings=1, responsible=("H-1",)),
        AccountabilityRequest(actor="SM-1", decision=Accountability.DISCIPLINARY, reason="r"),
    )


# -- check_conclude ------------------------------------------------------------------------


def test_concluding_lists_everything_missing() -> None:
    with refused("cannot conclude without a finding, an evidence reference, an accountability decision"):
        inv.check_conclude(file(), evidence_required=True)


@pytest.mark.parametrize(
    ("fields", "required", "missing"),
    [
        ({"evidence_items": (evidence(),), "decided": True}, True, "a finding"),
        ({"findings": 1, "decided": True}, True, "an evidence reference"),
        ({"findings": 1, "evidence_items": (evidence(),)}, True, "an accountability decision"),
        ({}, False, "a finding, an accountability decision"),
    ],
)
def test_concluding_names_exactly_what_is_missing(fields: dict[str, Any], required: bool, missing: str) -> None:
    with refused(f"cannot conclude without {missing}"):
        inv.check_conclude(file(**fields), evidence_required=required)


def test_a_complete_file_concludes_and_evidence_is_optional_when_the_policy_says_so() -> None:
    inv.check_conclude(file(findings=1, evidence_items=(evidence(),), decided=True), evidence_required=True)
    inv.check_conclude(file(findings=1, decided=True), evidence_required=False)


# -- flagging open complaints --------------------------------------------------------------


def test_compliance_and_managers_may_flag() -> None:
    assert inv.FLAGGERS == (Role.COMPLIANCE, Role.MANAGER, Role.SENIOR_MANAGER)


def test_flagging_everyone_needs_someone_implicated() -> None:
    with refused("nobody is implicated yet: name the people responsible first"):
        inv.check_flag(file(), FlagOpenComplaintsRequest(actor="CMP-1"))


def test_flagging_everyone_or_named_implicated_staff_passes() -> None:
    on_file = file(implicated=("H-1", "H-2"))
    inv.check_flag(on_file, FlagOpenComplaintsRequest(actor="CMP-1"))
    inv.check_flag(on_file, FlagOpenComplaintsRequest(actor="CMP-1", staff_ids=["H-2", "H-1"]))


def test_only_implicated_staff_may_be_flagged() -> None:
    with refused("staff_ids: MGR-1 is not implicated in this investigation"):
        inv.check_flag(file(implicated=("H-1",)), FlagOpenComplaintsRequest(actor="CMP-1", staff_ids=["H-1", "MGR-1"]))
    with refused("staff_ids: H-1 is not implicated in this investigation"):
        inv.check_flag(file(), FlagOpenComplaintsRequest(actor="CMP-1", staff_ids=["H-1"]))

"""Who may do what in an internal investigation, and when: pure checks over its file.

The investigation workflow's validators call these and raise ``Refused`` with a sentence;
nothing here does I/O.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from domain import rules
from domain.rules import MANAGERS, Refused
from models.investigation import (
    AccountabilityRequest,
    AssignInvestigatorRequest,
    EvidenceRequest,
    FlagOpenComplaintsRequest,
    InvestigationFile,
    InvestigationStage,
    ResponsibleRequest,
)
from models.policy import Accountability, Role
from models.staff import RosterEntry

Roster = Mapping[str, RosterEntry]


def require_participant(
    file: InvestigationFile, roster: Roster, actor: str, roles: Iterable[Role], action: str, *, ready: bool = True
) -> RosterEntry:
    """An open investigation, an active staff member it does not implicate, in one of ``roles``."""
    if not ready:
        raise Refused(f"investigation {file.investigation_id} is starting; try again shortly")
    if file.stage != InvestigationStage.OPEN:
        raise Refused(f"investigation {file.investigation_id} has concluded")
    entry = rules.actor_entry(roster, actor)
    if actor in file.implicated:
        raise Refused(
            f"{actor} is implicated in investigation {file.investigation_id} and takes no part in it (recusal)"
        )
    rules.require_role(entry, roles, action)
    return entry


def check_assign(file: InvestigationFile, roster: Roster, request: AssignInvestigatorRequest) -> None:
    lead = rules.actor_entry(roster, request.lead)
    rules.require_role(lead, (Role.COMPLIANCE,), "lead an investigation")
    if request.lead in file.implicated:
        raise Refused(f"{request.lead} is implicated in this investigation and cannot lead it (recusal)")
    if request.lead == file.lead:
        raise Refused(f"{request.lead} already leads the investigation")


def check_evidence(file: InvestigationFile, request: EvidenceRequest) -> None:
    for item in file.evidence:
        if item.evidence.sha256 == request.evidence.sha256:
            raise Refused(f"evidence.sha256: that document is already on file as {item.evidence.uri}")


def check_responsible(file: InvestigationFile, roster: Roster, request: ResponsibleRequest) -> None:
    named = set(file.people_responsible)
    for staff_id in request.staff_ids:
        rules.actor_entry(roster, staff_id)
        if staff_id in named:
            raise Refused(f"staff_ids: {staff_id} is already named responsible")
        if staff_id == request.actor:
            raise Refused("staff_ids: you cannot name yourself; another compliance officer must")


def deciders(table: Mapping[str, list[Role]], decision: Accountability) -> tuple[Role, ...]:
    """The roles the pinned policy lets decide ``decision``."""
    return tuple(table.get(decision, []))


def check_accountability(file: InvestigationFile, request: AccountabilityRequest) -> None:
    if not file.findings:
        raise Refused("record at least one finding before deciding accountability")
    if request.decision != Accountability.NONE and not file.people_responsible:
        raise Refused(f"decision: '{request.decision}' needs the people responsible named first")


def check_conclude(file: InvestigationFile, *, evidence_required: bool) -> None:
    missing = []
    if not file.findings:
        missing.append("a finding")
    if evidence_required and not file.evidence:
        missing.append("an evidence reference")
    if file.decision is None:
        missing.append("an accountability decision")
    if missing:
        raise Refused(f"cannot conclude without {', '.join(missing)}")


FLAGGERS = (Role.COMPLIANCE, *MANAGERS)


def check_flag(file: InvestigationFile, request: FlagOpenComplaintsRequest) -> None:
    if not request.staff_ids and not file.implicated:
        raise Refused("nobody is implicated yet: name the people responsible first")
    for staff_id in request.staff_ids:
        if staff_id not in file.implicated:
            raise Refused(f"staff_ids: {staff_id} is not implicated in this investigation")

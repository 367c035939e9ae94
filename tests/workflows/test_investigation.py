"""The internal investigation of a major complaint: a child workflow owned by compliance."""

from __future__ import annotations

import hashlib
from decimal import Decimal

import pytest
from pydantic import ValidationError
from sqlmodel import Session, select
from temporalio.api.enums.v1 import EventType
from temporalio.client import WorkflowExecutionStatus

from complaints.actions import ComplaintActions, InvestigationActions
from complaints.intake import ActionRefused
from db.tables import InvestigationEventRow, InvestigationRow, StaffServiceEvent
from models import search_attributes as sa
from models.actions import (
    ApprovalDecision,
    AssignRequest,
    CustomerAnswer,
    EscalateSignal,
    LegalEvaluationRequest,
    ManagerEvaluationRequest,
    OpenInvestigationRequest,
    ProposalRequest,
)
from models.clocks import ClockState
from models.complaint import Status
from models.intake import EvidenceRef, Money
from models.investigation import (
    AccountabilityRequest,
    AssignInvestigatorRequest,
    CompleteReviewRequest,
    ConcludeInvestigationRequest,
    EvidenceRequest,
    FlagOpenComplaintsRequest,
    InvestigationFindingRequest,
    InvestigationStage,
    ResponsibleRequest,
)
from models.policy import Tier
from tests.conftest import Service
from tests.helpers import (
    conclude_investigation,
    eventually,
    file_assigned,
    investigation_file,
    outbox,
    projected,
    save_history,
    state_of,
)

COMPLIANCE, COMPLIANCE_2, SENIOR, MANAGER, LEGAL = "S-CMP-001", "S-CMP-002", "S-SM-001", "S-MGR-001", "S-LEG-001"


@pytest.fixture
def investigations(service: Service) -> InvestigationActions:
    return InvestigationActions(service.client)


def evidence(name: str) -> EvidenceRef:
    return EvidenceRef(uri=f"dms://evidence/{name}", sha256=hashlib.sha256(name.encode()).hexdigest())


async def accepted_updates(service: Service, workflow_id: str) -> int:
    history = await service.client.get_workflow_handle(workflow_id).fetch_history()
    return sum(e.event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED for e in history.events)


async def test_a_major_complaint_starts_its_investigation_at_once_as_a_child_owned_by_compliance(
    service: Service, actions: ComplaintActions, investigations: InvestigationActions
) -> None:
    cid, _ = await file_assigned(service, "privacy", staff_misconduct_alleged=True)
    file = await investigation_file(service.client, cid)

    assert file.stage == InvestigationStage.OPEN and file.lead == COMPLIANCE
    assert file.clock.name == "investigation" and file.clock.state == ClockState.RUNNING
    described = await investigations.handle(cid).describe()
    assert described.parent_id == f"complaint-{cid}"
    assert described.typed_search_attributes.get(sa.ASSIGNEE) == COMPLIANCE
    assert described.typed_search_attributes.get(sa.STATUS) == "investigating"
    complaint = (await state_of(service, cid)).snapshot
    assert complaint.investigation.workflow_id == f"investigation-{cid}"
    opened = next(c for c in complaint.clocks if c.name == "major_first_response")
    assert opened.state == ClockState.MET and opened.met_by == "investigation opened"

    async def opening_notices() -> set[str] | None:  # sent just after the clock is planned
        sent = {m.recipient for m in outbox(service.engine, cid, "investigation_opened")}
        return sent if {COMPLIANCE, COMPLIANCE_2, SENIOR} <= sent else None

    await eventually(opening_notices, what="compliance and the senior manager to be told")
    with pytest.raises(ActionRefused, match="runs as its own workflow"):
        await actions.open_investigation(cid, OpenInvestigationRequest(actor=COMPLIANCE, scope="again"))


async def test_each_investigation_action_needs_the_right_role_and_refusals_leave_no_trace(
    service: Service, investigations: InvestigationActions
) -> None:
    cid, handler = await file_assigned(service, "privacy", staff_misconduct_alleged=True)
    await investigation_file(service.client, cid)
    wid = f"investigation-{cid}"
    before = await accepted_updates(service, wid)

    with pytest.raises(ActionRefused, match="to record investigation findings takes compliance"):
        await investigations.record_finding(cid, InvestigationFindingRequest(actor=handler, summary="x"))
    with pytest.raises(ActionRefused, match="record at least one finding"):
        await investigations.decide_accountability(
            cid, AccountabilityRequest(actor=COMPLIANCE, decision="none", reason="x")
        )
    with pytest.raises(
        ActionRefused, match="cannot conclude without a finding, an evidence reference, an accountability"
    ):
        await investigations.conclude(cid, ConcludeInvestigationRequest(actor=COMPLIANCE, summary="x"))
    with pytest.raises(ActionRefused, match="S-HND-003 is handler; to lead an investigation takes compliance"):
        await investigations.assign_investigator(cid, AssignInvestigatorRequest(actor=SENIOR, lead="S-HND-003"))
    with pytest.raises(ValidationError, match=r"evidence\.sha256"):
        EvidenceRequest(actor=COMPLIANCE, evidence={"uri": "dms://x", "sha256": "not-a-hash"})
    assert await accepted_updates(service, wid) == before, "a refused action is not in the history"

    await investigations.record_finding(cid, InvestigationFindingRequest(actor=COMPLIANCE, summary="Forwarded file"))
    await investigations.add_evidence(cid, EvidenceRequest(actor=COMPLIANCE, evidence=evidence(f"{cid}-mail")))
    with pytest.raises(ActionRefused, match=r"evidence\.sha256: that document is already on file"):
        await investigations.add_evidence(cid, EvidenceRequest(actor=COMPLIANCE_2, evidence=evidence(f"{cid}-mail")))
    with pytest.raises(ActionRefused, match="'warning' needs the people responsible named first"):
        await investigations.decide_accountability(
            cid, AccountabilityRequest(actor=SENIOR, decision="warning", reason="x")
        )
    await investigations.name_responsible(
        cid, ResponsibleRequest(actor=COMPLIANCE, staff_ids=["S-RM-007"], reason="Sent the file")
    )
    with pytest.raises(ActionRefused, match="S-CMP-001 is compliance; to decide 'warning' takes senior_manager"):
        await investigations.decide_accountability(
            cid, AccountabilityRequest(actor=COMPLIANCE, decision="warning", reason="x")
        )
    result = await investigations.decide_accountability(
        cid, AccountabilityRequest(actor=SENIOR, decision="warning", reason="First offence")
    )
    assert result.message == "accountability: warning"
    file = (await investigations.status(cid)).file
    assert [f.summary for f in file.findings] == ["Forwarded file"]
    assert file.people_responsible == ["S-RM-007"] and file.decision.decision == "warning"
    await conclude_investigation_quietly(investigations, cid)


async def conclude_investigation_quietly(investigations: InvestigationActions, cid: str) -> None:
    await investigations.conclude(cid, ConcludeInvestigationRequest(actor=COMPLIANCE, summary="Done"))


async def test_the_outcome_flows_back_and_only_then_can_the_complaint_be_resolved(
    request: pytest.FixtureRequest, service: Service, actions: ComplaintActions, investigations: InvestigationActions
) -> None:
    cid, handler = await file_assigned(service, "privacy", staff_misconduct_alleged=True)
    await actions.record_legal_evaluation(cid, LegalEvaluationRequest(actor=LEGAL, opinion="Breach of PIPL likely"))
    await actions.record_manager_evaluation(cid, ManagerEvaluationRequest(actor=SENIOR, opinion="Apologise"))
    with pytest.raises(ActionRefused, match="before the internal investigation outcome"):
        await actions.propose_resolution(cid, ProposalRequest(actor=handler, explanation="Sorry"))

    concluded = await conclude_investigation(
        service.client, cid, accountability="disciplinary", responsible=["S-RM-007"]
    )
    assert concluded.stage == "investigation_concluded"
    result = await investigations.handle(cid).result()
    assert result.outcome.accountability == "disciplinary" and result.outcome.responsible == ["S-RM-007"]

    async def outcome_on_file() -> object:
        inv = (await state_of(service, cid)).snapshot.investigation
        return inv if inv.outcome else None

    inv = await eventually(outcome_on_file, what="the outcome on the complaint")
    assert inv.outcome.accountability == "disciplinary" and "S-RM-007" in inv.implicated
    await projected(service.engine, cid, "investigation_concluded")
    await actions.propose_resolution(
        cid,
        ProposalRequest(
            actor=handler,
            explanation="We apologise; the staff member has been disciplined.",
            compensation=Money(amount=Decimal("5000")),
        ),
    )
    await actions.decide_resolution(cid, ApprovalDecision(actor=MANAGER, approve=True))
    await actions.record_customer_answer(cid, CustomerAnswer(actor=handler, accepted=True))
    assert (await state_of(service, cid)).snapshot.status == Status.FOLLOW_UP

    with Session(service.engine) as session:
        row = session.get(InvestigationRow, f"investigation-{cid}")
        kinds = session.exec(
            select(InvestigationEventRow.kind)
            .where(InvestigationEventRow.investigation_id == f"investigation-{cid}")
            .order_by(InvestigationEventRow.seq)
        ).all()
        history = session.exec(
            select(StaffServiceEvent).where(
                StaffServiceEvent.source_key == f"investigation-{cid}:S-RM-007:accountability"
            )
        ).all()
    assert row.stage == "investigation_concluded" and row.accountability == "disciplinary"
    assert kinds[0] == "investigation_opened" and kinds[-1] in ("investigation_concluded", "complaints_flagged")
    assert [(h.staff_id, h.kind) for h in history] == [("S-RM-007", "disciplinary")], "one service-history entry"
    if service.backend == "sqlite":
        await save_history(request, investigations.handle(cid), "investigation_concluded_disciplinary")


async def test_implicated_staff_are_recused_and_their_other_open_complaints_flagged_for_review(
    request: pytest.FixtureRequest, service: Service, actions: ComplaintActions, investigations: InvestigationActions
) -> None:
    cid, handler = await file_assigned(service, "privacy", staff_misconduct_alleged=True)
    other_cid, _ = await file_assigned(service, "fees_and_interest")
    await actions.assign(other_cid, AssignRequest(actor=MANAGER, handler_id=handler, reason="Workload"))
    await investigation_file(service.client, cid)

    # A compliance officer named responsible leaves the investigation; the lead passes on.
    named = await investigations.name_responsible(
        cid, ResponsibleRequest(actor=COMPLIANCE_2, staff_ids=[COMPLIANCE], reason="Approved the data export")
    )
    assert "the lead passes to S-CMP-002" in named.message
    with pytest.raises(ActionRefused, match=r"S-CMP-001 is implicated .* takes no part in it"):
        await investigations.record_finding(cid, InvestigationFindingRequest(actor=COMPLIANCE, summary="x"))

    # The complaint's own handler, named responsible, stops handling it.
    await investigations.name_responsible(
        cid, ResponsibleRequest(actor=COMPLIANCE_2, staff_ids=[handler], reason="Sent the file")
    )

    async def reassigned() -> object:
        snap = (await state_of(service, cid)).snapshot
        return snap if snap.assignee and snap.assignee != handler else None

    snap = await eventually(reassigned, what="the complaint to pass to another handler")
    assert handler in snap.investigation.implicated and snap.investigation.lead == COMPLIANCE_2
    with pytest.raises(ActionRefused, match=f"{handler} is named in complaint {cid} and must recuse"):
        await actions.propose_resolution(cid, ProposalRequest(actor=handler, explanation="x"))

    # Their other open complaints: flagged, once, for their manager to review.
    flagged = await investigations.flag_open_complaints(
        cid, FlagOpenComplaintsRequest(actor=COMPLIANCE_2, staff_ids=[handler], reason="Check their other cases")
    )
    assert other_cid in {f.complaint_id for f in flagged.flagged if f.delivered}
    again = await investigations.flag_open_complaints(
        cid, FlagOpenComplaintsRequest(actor=COMPLIANCE_2, staff_ids=[handler])
    )
    assert other_cid not in {f.complaint_id for f in again.flagged}

    async def flagged_on_the_other() -> object:
        snap = (await state_of(service, other_cid)).snapshot
        return snap if snap.review_flags else None

    other = await eventually(flagged_on_the_other, what="the review flag on the other complaint")
    assert [(f.staff_id, f.relation) for f in other.review_flags] == [(handler, "handler")]
    assert other.under_review

    async def under_review_in_visibility() -> bool:
        described = await service.intake.handle(other_cid).describe()
        return described.typed_search_attributes.get(sa.UNDER_REVIEW) is True

    assert await eventually(under_review_in_visibility, what="ComplaintUnderReview=true")
    await projected(service.engine, other_cid, "flagged_for_review")  # recorded after the manager is told
    assert len(outbox(service.engine, other_cid, "review_flag")) == 1
    with pytest.raises(ActionRefused, match="to complete a review takes manager, senior_manager"):
        await actions.complete_review(other_cid, CompleteReviewRequest(actor=handler, staff_id=handler, note="x"))
    await actions.complete_review(
        other_cid, CompleteReviewRequest(actor=MANAGER, staff_id=handler, note="Calls reviewed; nothing wrong")
    )
    assert not (await state_of(service, other_cid)).snapshot.under_review
    with pytest.raises(ActionRefused, match="staff_ids: S-HND-999 is not implicated"):
        await investigations.flag_open_complaints(
            cid, FlagOpenComplaintsRequest(actor=COMPLIANCE_2, staff_ids=["S-HND-999"])
        )
    await conclude_investigation(service.client, cid, lead=COMPLIANCE_2)
    await eventually(lambda: _outcome(service, cid), what="the outcome on the complaint")
    if service.backend == "sqlite":
        await save_history(request, investigations.handle(cid), "investigation_recusal_flagged")
        await save_history(request, service.intake.handle(cid), "major_handler_recused_by_investigation")
        await save_history(request, service.intake.handle(other_cid), "flagged_for_review_completed")


async def test_the_investigation_clock_warns_the_lead_then_escalates_a_breach(
    service: Service, investigations: InvestigationActions
) -> None:
    # Compressed policy: 15 s to conclude; warning at 80%.
    cid, _ = await file_assigned(service, "privacy", staff_misconduct_alleged=True)

    async def breached() -> object:
        file = (await investigations.status(cid)).file
        return file if file.breached else None

    file = await eventually(breached, timeout=40, what="the investigation clock to breach")
    assert file.clock.warned_at is not None and file.clock.warned_at < file.clock.breached_at
    assert {m.recipient for m in outbox(service.engine, cid, "investigation_warning")} >= {COMPLIANCE}

    async def breach_notices() -> set[str] | None:  # sent just after the clock is marked breached
        sent = {m.recipient for m in outbox(service.engine, cid, "investigation_breached")}
        return sent if {COMPLIANCE, SENIOR} <= sent else None

    await eventually(breach_notices, what="the breach notices to the lead and the senior manager")
    described = await investigations.handle(cid).describe()
    assert described.typed_search_attributes.get(sa.SLA_BREACHED) is True

    async def breach_on_the_complaint() -> object:
        state = await state_of(service, cid)
        return state if state.sla_breached else None

    state = await eventually(breach_on_the_complaint, what="the complaint to show its investigation's breach")
    assert state.snapshot.investigation.breached
    await projected(service.engine, cid, "investigation_breached")
    await conclude_investigation(service.client, cid)
    result = await investigations.handle(cid).result()
    assert result.breached


async def test_escalation_to_major_starts_the_investigation(service: Service, actions: ComplaintActions) -> None:
    cid, _ = await file_assigned(service, "fees_and_interest")
    await actions.escalate(cid, EscalateSignal(actor=MANAGER, reason="Staff altered the schedule", to_tier=Tier.MAJOR))
    file = await investigation_file(service.client, cid)
    assert "escalated by S-MGR-001" in file.reason
    await conclude_investigation(service.client, cid)


async def test_a_withdrawn_complaint_still_waits_for_its_investigation_and_any_report(
    service: Service, investigations: InvestigationActions
) -> None:
    cid, _ = await file_assigned(service, "privacy", staff_misconduct_alleged=True)
    await investigation_file(service.client, cid)
    withdrawn = await service.intake.withdraw(cid, "Settled privately", "call-centre")
    assert withdrawn.status == Status.WITHDRAWN
    described = await service.intake.handle(cid).describe()
    assert described.status == WorkflowExecutionStatus.RUNNING, "the complaint waits for the investigation"

    await conclude_investigation(service.client, cid, suspected_illegal=True)
    final = await service.intake.handle(cid).result()
    assert final.status == Status.WITHDRAWN
    assert final.investigation.outcome.suspected_illegal
    [thread] = final.regulator_reports
    assert (thread.regulator, thread.reason, thread.state) == ("NFRA", "suspected_illegal_conduct", "acknowledged")


async def test_an_investigation_ended_by_an_operator_is_started_again(
    service: Service, investigations: InvestigationActions
) -> None:
    cid, _ = await file_assigned(service, "privacy", staff_misconduct_alleged=True)
    first = await investigation_file(service.client, cid)
    await investigations.handle(cid).terminate(reason="on-call: wrong button")
    await projected(service.engine, cid, "investigation_interrupted")

    async def restarted() -> object:
        file = await investigation_file(service.client, cid)
        return file if file.opened_at > first.opened_at else None

    await eventually(restarted, what="a new run of the investigation")
    notified = {m.recipient for m in outbox(service.engine, cid, "investigation_interrupted")}
    assert {COMPLIANCE, SENIOR} <= notified
    await conclude_investigation(service.client, cid)
    await eventually(lambda: _outcome(service, cid), what="the outcome on the complaint")


async def _outcome(service: Service, cid: str) -> object:
    return (await state_of(service, cid)).snapshot.investigation.outcome

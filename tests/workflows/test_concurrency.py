"""Two staff acting on one complaint at the same moment get what they would get one after the other.

Each test fires a pair of actions at once (two updates through ``asyncio.gather``, or two
signals back to back) against the real dev server, then checks what a user observes: the
answers, the complaint's state, the audit log and the outbox. Either order of the pair is a
valid serial outcome, so every assertion accepts both: the second action sees the first's
effect, or is refused with a reason.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections import Counter
from collections.abc import Awaitable
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest
from sqlmodel import Session, select

from complaints.actions import ComplaintActions, InvestigationActions
from complaints.intake import ActionRefused
from db.tables import ComplaintEventRow, InvestigationEventRow, StaffServiceEvent
from models.actions import (
    AdjustLookBackRequest,
    ApprovalDecision,
    AssignRequest,
    CustomerAnswer,
    EscalateSignal,
    ExtensionRequest,
    FeedbackRequest,
    FollowUpCallRequest,
    InformationReceived,
    InformationRequest,
    LegalEvaluationRequest,
    LookBackRequest,
    ManagerEvaluationRequest,
    MarkLookBackRequest,
    ProposalRequest,
    ReapplyPolicyRequest,
    RootCauseRequest,
)
from models.clocks import Clock, ClockState
from models.complaint import ComplaintSnapshot, Status
from models.intake import EvidenceRef, Money
from models.investigation import (
    AccountabilityRequest,
    AssignInvestigatorRequest,
    ConcludeInvestigationRequest,
    EvidenceRequest,
    InvestigationFindingRequest,
    ResponsibleRequest,
)
from models.policy import Accountability
from tests.conftest import Service
from tests.helpers import (
    event_kinds,
    eventually,
    file_assigned,
    investigation_file,
    outbox,
    outcome_on_complaint,
    projected,
    state_of,
    status_once,
)

MANAGER, MANAGER_2, SENIOR = "S-MGR-001", "S-MGR-002", "S-SM-001"
LEGAL, COMPLIANCE, COMPLIANCE_2 = "S-LEG-001", "S-CMP-001", "S-CMP-002"
HANDLERS = ("S-HND-001", "S-HND-002", "S-HND-003")


# -- helpers ------------------------------------------------------------------------------


async def at_once(*actions: Awaitable[Any]) -> tuple[list[Any], list[ActionRefused]]:
    """Fire the actions together: (answers of those accepted, refusals). Anything else fails the test."""
    results = await asyncio.gather(*actions, return_exceptions=True)
    unexpected = [r for r in results if isinstance(r, BaseException) and not isinstance(r, ActionRefused)]
    if unexpected:
        raise unexpected[0]
    return (
        [r for r in results if not isinstance(r, BaseException)],
        [r for r in results if isinstance(r, ActionRefused)],
    )


def events(service: Service, complaint_id: str, kind: str) -> list[ComplaintEventRow]:
    with Session(service.engine) as session:
        return list(
            session.exec(
                select(ComplaintEventRow)
                .where(ComplaintEventRow.complaint_id == complaint_id, ComplaintEventRow.kind == kind)
                .order_by(ComplaintEventRow.seq)
            ).all()
        )


def investigation_events(service: Service, complaint_id: str, kind: str) -> list[InvestigationEventRow]:
    with Session(service.engine) as session:
        return list(
            session.exec(
                select(InvestigationEventRow)
                .where(
                    InvestigationEventRow.investigation_id == f"investigation-{complaint_id}",
                    InvestigationEventRow.kind == kind,
                )
                .order_by(InvestigationEventRow.seq)
            ).all()
        )


def clocks_named(snap: ComplaintSnapshot, name: str) -> list[Clock]:
    return [c for c in snap.clocks if c.name == name]


def live(snap: ComplaintSnapshot) -> list[str]:
    """Names of the clocks still counting (running or paused), sorted."""
    return sorted(c.name for c in snap.clocks if c.state in (ClockState.RUNNING, ClockState.PAUSED))


def decision_clock(snap: ComplaintSnapshot) -> Clock:
    [clock] = [c for c in clocks_named(snap, "regulatory_decision") if c.state != ClockState.STOPPED]
    return clock


async def awaiting_answer(service: Service, actions: ComplaintActions) -> tuple[str, str]:
    """A simple complaint whose approved proposal waits for the customer's answer."""
    cid, handler = await file_assigned(service, "fees_and_interest")
    await actions.propose_resolution(
        cid, ProposalRequest(actor=handler, explanation="Refund of the fee.", fee_refund=Money(amount=Decimal(500)))
    )
    await actions.decide_resolution(cid, ApprovalDecision(actor=MANAGER, approve=True))
    return cid, handler


async def in_follow_up(service: Service, actions: ComplaintActions) -> tuple[str, str, str]:
    """An accepted resolution waiting for its follow-up call: (complaint id, handler, caller)."""
    cid, handler = await awaiting_answer(service, actions)
    await actions.record_customer_answer(cid, CustomerAnswer(actor=handler, accepted=True))
    state = await status_once(service.intake.handle(cid), {Status.FOLLOW_UP})
    assert state.snapshot.follow_up is not None and state.snapshot.follow_up.caller
    return cid, handler, state.snapshot.follow_up.caller


async def in_look_back(service: Service, actions: ComplaintActions) -> tuple[str, str]:
    """A simple complaint marked for look-back, its root cause on file, followed up."""
    cid, handler, caller = await in_follow_up(service, actions)
    await actions.mark_for_look_back(cid, MarkLookBackRequest(actor=MANAGER, reason="Key account"))
    await actions.record_root_cause(cid, RootCauseRequest(actor=handler, code="pricing_error", text="Old fee table"))
    after = await actions.record_follow_up_call(
        cid, FollowUpCallRequest(actor=caller, reached=True, satisfaction=5, remedy_delivered=True)
    )
    assert after.status == "look_back"
    return cid, handler


async def major_complaint(service: Service) -> tuple[str, str]:
    """A major complaint whose investigation has a lead and a clock."""
    cid, handler = await file_assigned(service, "privacy", staff_misconduct_alleged=True)
    await investigation_file(service.client, cid)
    return cid, handler


def evidence(cid: str) -> EvidenceRef:
    return EvidenceRef(uri=f"dms://investigations/{cid}/call-log.pdf", sha256=hashlib.sha256(cid.encode()).hexdigest())


# -- step 2: handling ------------------------------------------------------------------------


async def test_two_extensions_at_once_use_the_rule_packs_extensions_in_turn(
    service: Service, actions: ComplaintActions
) -> None:
    cid, _ = await file_assigned(service, "fees_and_interest")

    accepted, refused = await at_once(
        actions.extend_deadline(cid, ExtensionRequest(actor=MANAGER, reason="Waiting for the branch file")),
        actions.extend_deadline(cid, ExtensionRequest(actor=SENIOR, reason="Waiting for the valuation")),
    )

    labels = sorted(r.message.split(":")[0] for r in accepted)
    assert labels in (
        ["Decision extended to 30 days"],
        ["Decision extended to 30 days", "Decision extended to 60 days"],
    ), labels
    for refusal in refused:  # the manager second: the 60-day extension is the senior manager's
        assert "Decision extended to 60 days' takes senior_manager" in str(refusal)
    clock = decision_clock((await state_of(service, cid)).snapshot)
    assert clock.extensions_used == len(accepted)
    assert clock.extended == labels[-1]
    assert (clock.due_at - clock.started_at).total_seconds() - clock.paused_seconds == pytest.approx(
        (180, 360)[len(accepted) - 1]
    )
    extended = events(service, cid, "deadline_extended")
    assert [e.detail["extension"] for e in extended] == labels
    letters = outbox(service.engine, cid, "extension")
    assert len(letters) == len(accepted)
    assert "30 days" in letters[0].body and (len(letters) == 1 or "60 days" in letters[1].body)


async def test_reapplying_the_policy_during_an_extension_keeps_the_extension(
    service: Service, actions: ComplaintActions
) -> None:
    cid, _ = await file_assigned(service, "fees_and_interest")

    accepted, refused = await at_once(
        actions.extend_deadline(cid, ExtensionRequest(actor=MANAGER, reason="Waiting for the branch file")),
        actions.reapply_policy(cid, ReapplyPolicyRequest(actor=SENIOR, reason="Quarterly review")),
    )

    assert len(accepted) == 2 and not refused, refused
    snap = (await state_of(service, cid)).snapshot
    clock = decision_clock(snap)
    assert (clock.extensions_used, clock.extended) == (1, "Decision extended to 30 days"), "the extension survives"
    assert (clock.due_at - clock.started_at).total_seconds() == 180
    assert live(snap) == ["regulatory_decision", "simple_first_response"]


async def test_two_escalations_of_a_complex_complaint_at_once_make_it_major_once(
    service: Service, actions: ComplaintActions
) -> None:
    cid, _ = await file_assigned(service, "contract_dispute")

    await actions.escalate(cid, EscalateSignal(actor=MANAGER, reason="Customer alleges forged documents"))
    await actions.escalate(cid, EscalateSignal(actor=SENIOR, reason="Regulator called about it"))

    async def both_handled() -> list[str] | None:
        kinds = event_kinds(service.engine, cid)
        return kinds if kinds.count("escalated") + kinds.count("escalation_refused") >= 2 else None

    kinds = await eventually(both_handled, what="both escalations to be recorded")
    assert (kinds.count("escalated"), kinds.count("escalation_refused")) == (1, 1), kinds
    [refusal] = events(service, cid, "escalation_refused")
    assert "already major" in refusal.detail["reason"]
    snap = (await state_of(service, cid)).snapshot
    assert snap.tier is not None and snap.tier.value == "major"
    assert [(e.from_tier.value, e.to_tier.value) for e in snap.escalations] == [("complex", "major")]
    assert len(clocks_named(snap, "major_first_response")) == 1
    assert len(clocks_named(snap, "complex_first_response")) == 1


async def test_two_escalations_of_a_simple_complaint_at_once_raise_it_one_tier_each(
    service: Service, actions: ComplaintActions
) -> None:
    cid, handler = await file_assigned(service, "other")

    await actions.escalate(cid, EscalateSignal(actor=handler, reason="Customer now disputes the contract terms"))
    await actions.escalate(cid, EscalateSignal(actor=MANAGER, reason="Customer threatens to go to the regulator"))

    async def both_handled() -> list[str] | None:
        kinds = event_kinds(service.engine, cid)
        return kinds if kinds.count("escalated") + kinds.count("escalation_refused") >= 2 else None

    await eventually(both_handled, what="both escalations to be recorded")
    snap = (await state_of(service, cid)).snapshot
    chain = [(e.from_tier.value, e.to_tier.value) for e in snap.escalations]
    assert chain == [("simple", "complex"), ("complex", "major")], "one record per tier change, each from the last"
    assert [(e.detail["from_tier"], e.detail["to_tier"]) for e in events(service, cid, "escalated")] == chain
    for tier in ("simple", "complex", "major"):
        assert len(clocks_named(snap, f"{tier}_first_response")) == 1, f"one {tier} clock"


async def test_two_assignments_at_once_leave_a_consistent_chain_of_reassignments(
    service: Service, actions: ComplaintActions
) -> None:
    cid, first = await file_assigned(service, "fees_and_interest")
    one, two = [h for h in HANDLERS if h != first]

    accepted, refused = await at_once(
        actions.assign(cid, AssignRequest(actor=MANAGER, handler_id=one, reason="workload")),
        actions.assign(cid, AssignRequest(actor=MANAGER_2, handler_id=two, reason="language")),
    )

    assert not refused and sorted(r.message for r in accepted) == [f"assigned to {one}", f"assigned to {two}"]
    reassigned = [e.detail for e in events(service, cid, "reassigned")]
    assert len(events(service, cid, "assigned")) == 1 and len(reassigned) == 2, "one event per accepted assignment"
    assert reassigned[0]["previous"] == first
    assert reassigned[1]["previous"] == reassigned[0]["handler"], "the second saw the first"
    assert {r["handler"] for r in reassigned} == {one, two}
    assert (await state_of(service, cid)).snapshot.assignee == reassigned[1]["handler"], "the last applied holds it"
    told = Counter(m.recipient for m in outbox(service.engine, cid, "assigned"))
    assert told == Counter({first: 1, one: 1, two: 1}), "each new handler is told once"


async def test_two_policy_reapplications_at_once_chain_and_keep_one_set_of_clocks(
    service: Service, actions: ComplaintActions
) -> None:
    cid, _ = await file_assigned(service, "fees_and_interest")
    before = (await state_of(service, cid)).snapshot
    assert before.classification is not None

    accepted, refused = await at_once(
        actions.reapply_policy(cid, ReapplyPolicyRequest(actor=MANAGER, reason="Quarterly review")),
        actions.reapply_policy(cid, ReapplyPolicyRequest(actor=SENIOR, reason="Regulator's circular")),
    )

    assert len(accepted) == 2 and not refused, refused
    reapplied = [e.detail for e in events(service, cid, "policy_reapplied")]
    assert len(reapplied) == 2
    assert reapplied[0]["from"] == before.classification.policy_version
    assert reapplied[1]["from"] == reapplied[0]["to"], "the second re-applies on top of the first"
    snap = (await state_of(service, cid)).snapshot
    assert snap.classification is not None and snap.classification.policy_version == reapplied[1]["to"]
    assert [c.name for c in snap.clocks] == [c.name for c in before.clocks], "no clock added or lost"
    clock = decision_clock(snap)
    assert clock.due_at == decision_clock(before).due_at and clock.extensions_used == 0


async def test_two_feedbacks_at_once_both_reach_the_customer(service: Service, actions: ComplaintActions) -> None:
    cid, handler = await file_assigned(service, "contract_dispute")
    await actions.record_legal_evaluation(cid, LegalEvaluationRequest(actor=LEGAL, opinion="Clause 7.3 is ambiguous"))
    await actions.record_manager_evaluation(cid, ManagerEvaluationRequest(actor=MANAGER, opinion="Agree with legal"))

    accepted, refused = await at_once(
        actions.send_feedback(cid, FeedbackRequest(actor=handler, message="Legal has reviewed clause 7.3.")),
        actions.send_feedback(cid, FeedbackRequest(actor=handler, message="We have asked the branch for the file.")),
    )

    assert len(accepted) == 2 and not refused, refused
    assert len(events(service, cid, "feedback_sent")) == 2
    bodies = [m.body for m in outbox(service.engine, cid, "feedback")]
    assert len(bodies) == 2, "both messages went out"
    assert any("clause 7.3" in b for b in bodies) and any("branch for the file" in b for b in bodies)


async def test_two_information_requests_and_two_receipts_at_once(service: Service, actions: ComplaintActions) -> None:
    cid, handler = await file_assigned(service, "fees_and_interest")

    asked, refused = await at_once(
        actions.request_customer_information(cid, InformationRequest(actor=handler, requested="Bank statement")),
        actions.request_customer_information(cid, InformationRequest(actor=handler, requested="Loan contract")),
    )
    assert len(asked) == 1 and len(refused) == 1
    assert "while the complaint is awaiting_customer_info" in str(refused[0])
    paused = (await state_of(service, cid)).snapshot
    assert paused.status == Status.AWAITING_CUSTOMER_INFO and len(paused.information_requests) == 1
    assert len(outbox(service.engine, cid, "information_request")) == 1
    await asyncio.sleep(1)

    received, refused = await at_once(
        actions.record_customer_information(cid, InformationReceived(actor=handler, note="Statement received")),
        actions.record_customer_information(cid, InformationReceived(actor=handler, note="Statement received too")),
    )
    assert len(received) == 1 and len(refused) == 1
    assert "while the complaint is in_handling" in str(refused[0])
    snap = (await state_of(service, cid)).snapshot
    assert snap.status == Status.IN_HANDLING and snap.information_requests[0].received_at is not None
    clock = decision_clock(snap)
    assert clock.state == ClockState.RUNNING and clock.paused_seconds >= 1
    assert (clock.due_at - clock.started_at).total_seconds() == pytest.approx(90 + clock.paused_seconds), "moved once"
    assert len(events(service, cid, "information_received")) == 1


async def test_two_proposals_at_once_are_never_both_number_one(service: Service, actions: ComplaintActions) -> None:
    cid, handler = await file_assigned(service, "fees_and_interest")

    accepted, refused = await at_once(
        actions.propose_resolution(
            cid, ProposalRequest(actor=handler, explanation="Refund of the fee.", fee_refund=Money(amount=Decimal(500)))
        ),
        actions.propose_resolution(
            cid,
            ProposalRequest(actor=handler, explanation="Refund and a waiver.", fee_refund=Money(amount=Decimal(900))),
        ),
    )

    assert len(accepted) == 1 and len(refused) == 1
    assert "while the complaint is awaiting_approval" in str(refused[0])
    snap = (await state_of(service, cid)).snapshot
    assert [p.number for p in snap.proposals] == [1] and snap.status == Status.AWAITING_APPROVAL
    assert len(events(service, cid, "resolution_proposed")) == 1
    assert len(outbox(service.engine, cid, "approval_needed")) == 1


async def test_two_approvers_at_once_one_decision_wins(service: Service, actions: ComplaintActions) -> None:
    cid, handler = await file_assigned(service, "fees_and_interest")
    await actions.propose_resolution(
        cid, ProposalRequest(actor=handler, explanation="Refund of the fee.", fee_refund=Money(amount=Decimal(500)))
    )

    accepted, refused = await at_once(
        actions.decide_resolution(cid, ApprovalDecision(actor=MANAGER, approve=True)),
        actions.decide_resolution(cid, ApprovalDecision(actor=SENIOR, approve=True)),
    )

    assert len(accepted) == 1 and len(refused) == 1
    assert "while the complaint is awaiting_customer_answer" in str(refused[0])
    snap = (await state_of(service, cid)).snapshot
    assert snap.status == Status.AWAITING_CUSTOMER_ANSWER and [p.state for p in snap.proposals] == ["sent"]
    assert len(events(service, cid, "resolution_approved")) == 1
    assert len(outbox(service.engine, cid, "resolution_proposal")) == 1, "the customer hears once"


async def test_two_customer_answers_at_once_resolve_it_once(service: Service, actions: ComplaintActions) -> None:
    cid, handler = await awaiting_answer(service, actions)

    accepted, refused = await at_once(
        actions.record_customer_answer(cid, CustomerAnswer(actor=handler, accepted=True, comments="by phone")),
        actions.record_customer_answer(cid, CustomerAnswer(actor=handler, accepted=True, comments="by e-mail")),
    )

    assert len(accepted) == 1 and len(refused) == 1
    assert "record the customer's answer while the complaint is follow_up" in str(refused[0])
    snap = (await state_of(service, cid)).snapshot
    assert snap.status == Status.FOLLOW_UP and [p.state for p in snap.proposals] == ["accepted"]
    assert len(clocks_named(snap, "follow_up")) == 1 and live(snap) == ["follow_up"]
    kinds = event_kinds(service.engine, cid)
    assert (kinds.count("resolved"), kinds.count("follow_up_scheduled")) == (1, 1), kinds
    assert len(outbox(service.engine, cid, "final_response")) == 1


async def test_two_dissatisfied_follow_up_calls_at_once_reopen_it_once(
    service: Service, actions: ComplaintActions
) -> None:
    cid, _, caller = await in_follow_up(service, actions)

    accepted, refused = await at_once(
        actions.record_follow_up_call(
            cid,
            FollowUpCallRequest(
                actor=caller, reached=True, satisfaction=2, remedy_delivered=True, comments="Still charged"
            ),
        ),
        actions.record_follow_up_call(
            cid,
            FollowUpCallRequest(actor=MANAGER, reached=True, satisfaction=1, remedy_delivered=False, comments="Angry"),
        ),
    )

    assert len(accepted) == 1 and len(refused) == 1
    assert "record a follow-up call while the complaint is in_handling" in str(refused[0])
    snap = (await state_of(service, cid)).snapshot
    assert snap.status == Status.IN_HANDLING and snap.reopened_count == 1
    assert snap.follow_up is not None and len(snap.follow_up.calls) == 1
    assert live(snap) == ["regulatory_decision", "simple_first_response"], "one new set of clocks"
    assert event_kinds(service.engine, cid).count("reopened") == 1


async def test_two_satisfied_follow_up_calls_at_once_start_one_look_back(
    service: Service, actions: ComplaintActions
) -> None:
    cid, handler, caller = await in_follow_up(service, actions)
    await actions.mark_for_look_back(cid, MarkLookBackRequest(actor=MANAGER, reason="Key account"))
    await actions.record_root_cause(cid, RootCauseRequest(actor=handler, code="pricing_error", text="Old fee table"))

    accepted, refused = await at_once(
        actions.record_follow_up_call(
            cid, FollowUpCallRequest(actor=caller, reached=True, satisfaction=5, remedy_delivered=True)
        ),
        actions.record_follow_up_call(
            cid, FollowUpCallRequest(actor=MANAGER, reached=True, satisfaction=4, remedy_delivered=True)
        ),
    )

    assert len(accepted) == 1 and len(refused) == 1
    assert "record a follow-up call while the complaint is look_back" in str(refused[0])
    snap = (await state_of(service, cid)).snapshot
    assert snap.status == Status.LOOK_BACK and snap.follow_up is not None and len(snap.follow_up.calls) == 1
    assert len(clocks_named(snap, "look_back_1")) == 1 and live(snap) == ["look_back_1"]
    kinds = event_kinds(service.engine, cid)
    assert (kinds.count("follow_up_done"), kinds.count("look_back_scheduled")) == (1, 1), kinds


async def test_two_root_causes_at_once_close_it_once(service: Service, actions: ComplaintActions) -> None:
    cid, handler, caller = await in_follow_up(service, actions)
    waiting = await actions.record_follow_up_call(
        cid, FollowUpCallRequest(actor=caller, reached=True, satisfaction=5, remedy_delivered=True)
    )
    assert waiting.status == "awaiting_root_cause"

    accepted, refused = await at_once(
        actions.record_root_cause(cid, RootCauseRequest(actor=handler, code="pricing_error", text="Old fee table")),
        actions.record_root_cause(cid, RootCauseRequest(actor=MANAGER, code="process_delay", text="Late batch")),
    )

    assert len(accepted) == 1 and len(refused) == 1
    assert "closed" in str(refused[0])
    final = await service.intake.handle(cid).result()
    assert final.status == Status.CLOSED and final.closure is not None
    assert final.closure.root_cause == accepted[0].message.split()[2], "the root cause that closed it"
    kinds = event_kinds(service.engine, cid)
    assert (kinds.count("root_cause_recorded"), kinds.count("closed")) == (1, 1), kinds


async def test_two_look_back_revisits_at_once_record_the_revisit_once(
    service: Service, actions: ComplaintActions
) -> None:
    cid, handler = await in_look_back(service, actions)
    opens = clocks_named((await state_of(service, cid)).snapshot, "look_back_1")[0].started_at
    await asyncio.sleep(max(0.0, (opens - datetime.now(UTC)).total_seconds()) + 0.3)

    accepted, refused = await at_once(
        actions.record_look_back(
            cid, LookBackRequest(actor=handler, situation="Refund arrived", commitments_kept=True)
        ),
        actions.record_look_back(
            cid, LookBackRequest(actor=MANAGER, situation="Customer happy", commitments_kept=True)
        ),
    )

    # Serially the second finds revisit 1 done: refused, or (if revisit 2 is open by then) revisit 2.
    numbers = sorted(int(r.message.split()[1]) for r in accepted)
    assert numbers == list(range(1, len(numbers) + 1)), [r.message for r in accepted]
    for refusal in refused:
        assert "no look-back revisit is open" in str(refusal) or "opens" in str(refusal)
    snap = (await state_of(service, cid)).snapshot
    assert snap.look_back is not None and [r.number for r in snap.look_back.revisits] == numbers
    assert len(events(service, cid, "look_back_recorded")) == len(numbers)
    for number in range(1, len(numbers) + 2):
        assert len(clocks_named(snap, f"look_back_{number}")) <= 1


async def test_two_managers_ending_the_look_back_at_once_end_and_close_it_once(
    service: Service, actions: ComplaintActions
) -> None:
    cid, _ = await in_look_back(service, actions)

    accepted, refused = await at_once(
        actions.adjust_look_back(cid, AdjustLookBackRequest(actor=MANAGER, reason="Customer moved", end=True)),
        actions.adjust_look_back(cid, AdjustLookBackRequest(actor=SENIOR, reason="Nothing left to check", end=True)),
    )

    assert len(accepted) == 1 and len(refused) == 1 and accepted[0].message == "look-back ended"
    assert "closed" in str(refused[0])
    final = await service.intake.handle(cid).result()
    assert final.status == Status.CLOSED
    kinds = event_kinds(service.engine, cid)
    assert (kinds.count("look_back_ended"), kinds.count("closed")) == (1, 1), kinds


# -- the investigation (its own workflow) ------------------------------------------------------


async def test_two_investigator_assignments_at_once_assign_once(service: Service) -> None:
    investigations = InvestigationActions(service.client)
    cid, _ = await major_complaint(service)

    accepted, refused = await at_once(
        investigations.assign_investigator(
            cid, AssignInvestigatorRequest(actor=SENIOR, lead=COMPLIANCE_2, reason="Workload")
        ),
        investigations.assign_investigator(
            cid, AssignInvestigatorRequest(actor=COMPLIANCE, lead=COMPLIANCE_2, reason="Holiday")
        ),
    )

    assert len(accepted) == 1 and len(refused) == 1
    assert f"{COMPLIANCE_2} already leads the investigation" in str(refused[0])
    assert (await investigations.status(cid)).file.lead == COMPLIANCE_2
    [assigned] = investigation_events(service, cid, "investigator_assigned")
    assert (assigned.detail["previous"], assigned.detail["lead"]) == (COMPLIANCE, COMPLIANCE_2)
    assert [m.recipient for m in outbox(service.engine, cid, "investigation_lead")] == [COMPLIANCE_2]


async def test_two_accountability_decisions_at_once_replace_one_another_in_turn(service: Service) -> None:
    investigations = InvestigationActions(service.client)
    cid, _ = await major_complaint(service)
    await investigations.record_finding(cid, InvestigationFindingRequest(actor=COMPLIANCE, summary="Forwarded file"))
    await investigations.name_responsible(
        cid, ResponsibleRequest(actor=COMPLIANCE, staff_ids=["S-RM-007"], reason="Sent the file")
    )

    accepted, refused = await at_once(
        investigations.decide_accountability(
            cid, AccountabilityRequest(actor=COMPLIANCE, decision=Accountability.NONE, reason="No fault")
        ),
        investigations.decide_accountability(
            cid,
            AccountabilityRequest(actor=COMPLIANCE_2, decision=Accountability.TRAINING, reason="Data-handling course"),
        ),
    )

    assert not refused and len(accepted) == 2
    decided = [e.detail for e in investigation_events(service, cid, "accountability_decided")]
    assert len(decided) == 2
    assert decided[0]["replaces"] is None and decided[1]["replaces"] == decided[0]["decision"], (
        "the second saw the first"
    )
    messages = sorted(r.message for r in accepted)
    assert messages == sorted(
        [
            f"accountability: {decided[0]['decision']}",
            f"accountability: {decided[1]['decision']} (was {decided[0]['decision']})",
        ]
    )
    file = (await investigations.status(cid)).file
    assert [d.decision for d in file.accountability] == [d["decision"] for d in decided]


async def test_two_conclusions_at_once_conclude_once(service: Service) -> None:
    investigations = InvestigationActions(service.client)
    cid, _ = await major_complaint(service)
    await investigations.record_finding(cid, InvestigationFindingRequest(actor=COMPLIANCE, summary="Forwarded file"))
    await investigations.add_evidence(cid, EvidenceRequest(actor=COMPLIANCE, evidence=evidence(cid)))
    await investigations.name_responsible(
        cid, ResponsibleRequest(actor=COMPLIANCE, staff_ids=["S-RM-007"], reason="Sent the file")
    )
    await investigations.decide_accountability(
        cid, AccountabilityRequest(actor=COMPLIANCE, decision=Accountability.TRAINING, reason="Data-handling course")
    )

    accepted, refused = await at_once(
        investigations.conclude(cid, ConcludeInvestigationRequest(actor=COMPLIANCE, summary="Established")),
        investigations.conclude(cid, ConcludeInvestigationRequest(actor=COMPLIANCE_2, summary="Also established")),
    )

    assert len(accepted) == 1 and len(refused) == 1 and accepted[0].stage == "investigation_concluded"
    assert "concluded" in str(refused[0])
    await outcome_on_complaint(service, cid)
    await projected(service.engine, cid, "investigation_concluded")  # recorded just after the outcome lands
    assert len(investigation_events(service, cid, "investigation_concluded")) == 1
    assert len(events(service, cid, "investigation_concluded")) == 1
    with Session(service.engine) as session:
        history = session.exec(
            select(StaffServiceEvent).where(
                StaffServiceEvent.source_key == f"investigation-{cid}:S-RM-007:accountability"
            )
        ).all()
    assert [(h.staff_id, h.kind) for h in history] == [("S-RM-007", "training")], "one service-history entry"

"""Step 2, towards a resolution: findings, legal and manager evaluations, the loss, feedback to
the customer, a proposed resolution, its approval by the role the amount needs, the customer's
answer. Acceptance hands the complaint to the follow-up call (step 3)."""

from __future__ import annotations

from typing import Any

from temporalio import workflow

from domain import rules
from domain.classification import resolution_communication
from domain.rules import HANDLING, MANAGERS, Refused
from models.actions import (
    ActionResult,
    ApprovalDecision,
    CustomerAnswer,
    FeedbackRequest,
    FindingsRequest,
    LegalEvaluationRequest,
    LossCalculationRequest,
    ManagerEvaluationRequest,
    ProposalRequest,
)
from models.case_file import Evaluation, Finding, LossCalculation, Proposal
from models.complaint import Status
from models.intake import Money
from models.policy import Role
from workflows import legacy, step3_follow_up
from workflows.case import Case
from workflows.handlers import recheck

# Which clocks an event meets.
MET_BY_FEEDBACK = {"complex_first_response"}
MET_BY_RESOLUTION = {"simple_first_response", "complex_first_response", "regulatory_decision"}


def _money(value: Money | None) -> dict[str, str] | None:
    return {"amount": str(value.amount), "currency": value.currency} if value else None


def remedy_context(proposal: Proposal) -> dict[str, Any]:
    return {
        "explanation": proposal.explanation,
        "fee_refund": _money(proposal.fee_refund),
        "compensation": _money(proposal.compensation),
        "contract_revision": proposal.contract_revision,
    }


def validate_findings(case: Case, request: FindingsRequest) -> None:
    entry = case.actor(request)
    rules.require_status(case.snap, HANDLING, "record findings")
    rules.require_holder(case.snap, entry, "record findings")


async def record_findings(case: Case, request: FindingsRequest) -> ActionResult:
    async with case.exclusive():
        recheck(lambda r: validate_findings(case, r), request)
        case.snap.findings.append(
            Finding(
                recorded_by=request.actor,
                recorded_at=workflow.now(),
                summary=request.summary,
                occurred_at=request.occurred_at,
                place=request.place,
                amounts=list(request.amounts),
                evidence=list(request.evidence),
            )
        )
        await case.record(
            "findings_recorded",
            actor=request.actor,
            detail={"summary": request.summary, "evidence": len(request.evidence)},
        )
        return case.result("findings recorded")


def validate_legal(case: Case, request: LegalEvaluationRequest) -> None:
    entry = case.actor(request)
    rules.require_status(case.snap, HANDLING, "record a legal evaluation")
    rules.require_role(entry, (Role.LEGAL,), "record a legal evaluation")
    rules.require_not_implicated(case.snap, request.actor)


async def record_legal_evaluation(case: Case, request: LegalEvaluationRequest) -> ActionResult:
    async with case.exclusive():
        recheck(lambda r: validate_legal(case, r), request)
        case.snap.legal_evaluation = Evaluation(
            by=request.actor,
            at=workflow.now(),
            opinion=request.opinion,
            recommends_contract_revision=request.recommends_contract_revision,
            clause_revision=request.clause_revision,
        )
        await case.record(
            "legal_evaluation",
            actor=request.actor,
            detail={"recommends_contract_revision": request.recommends_contract_revision},
        )
        return case.result("legal evaluation recorded")


def validate_manager_evaluation(case: Case, request: ManagerEvaluationRequest) -> None:
    entry = case.actor(request)
    rules.require_status(case.snap, HANDLING, "record a manager evaluation")
    rules.require_role(entry, MANAGERS, "record a manager evaluation")
    rules.require_not_implicated(case.snap, request.actor)


async def record_manager_evaluation(case: Case, request: ManagerEvaluationRequest) -> ActionResult:
    async with case.exclusive():
        recheck(lambda r: validate_manager_evaluation(case, r), request)
        case.snap.manager_evaluation = Evaluation(by=request.actor, at=workflow.now(), opinion=request.opinion)
        await case.record("manager_evaluation", actor=request.actor)
        return case.result("manager evaluation recorded")


def validate_loss(case: Case, request: LossCalculationRequest) -> None:
    entry = case.actor(request)
    rules.require_status(case.snap, HANDLING, "record a loss calculation")
    rules.require_role(entry, (Role.FINANCE,), "record a loss calculation")


async def record_loss_calculation(case: Case, request: LossCalculationRequest) -> ActionResult:
    async with case.exclusive():
        recheck(lambda r: validate_loss(case, r), request)
        loss = Money(amount=request.actual_loss, currency=request.currency) if request.actual_loss > 0 else None
        case.snap.loss_calculation = LossCalculation(
            by=request.actor, at=workflow.now(), actual_loss=loss, method=request.method
        )
        await case.record(
            "loss_calculated",
            actor=request.actor,
            detail={"actual_loss": str(request.actual_loss), "currency": request.currency},
        )
        return case.result(f"actual loss {request.actual_loss} {request.currency} recorded")


def validate_feedback(case: Case, request: FeedbackRequest) -> None:
    entry = case.actor(request)
    rules.require_status(case.snap, HANDLING, "send feedback")
    rules.require_holder(case.snap, entry, "send feedback")
    rules.require_ready_for_customer(case.snap, "send feedback")


async def send_feedback(case: Case, request: FeedbackRequest) -> ActionResult:
    async with case.exclusive():
        recheck(lambda r: validate_feedback(case, r), request)
        seq = case.reserve_seq()
        await case.notify_customer(f"feedback:{seq}", "feedback", {"message": request.message})
        case.board.settle_named(MET_BY_FEEDBACK, workflow.now(), "feedback")
        case.publish()
        await case.record("feedback_sent", actor=request.actor, seq=seq, detail={"message": request.message})
        return case.result("feedback sent to the customer")


def validate_proposal(case: Case, request: ProposalRequest) -> None:
    entry = case.actor(request)
    rules.require_status(case.snap, (Status.IN_HANDLING,), "propose a resolution")
    rules.require_holder(case.snap, entry, "propose a resolution")
    rules.require_ready_for_customer(case.snap, "propose a resolution")
    remedies = {"fee_refund": request.fee_refund, "compensation": request.compensation}
    rules.require_policy_currency(remedies, case.rules.currency)


def approvers(case: Case, roles: list[Role]) -> list[str]:
    manager = rules.escalation_target(case.snap, case.roster, 1)
    if manager and case.roster.get(manager) and case.roster[manager].role in roles:
        return [manager]
    return sorted(e.staff_id for e in case.roster.values() if e.role in roles)


async def propose_resolution(case: Case, request: ProposalRequest) -> ActionResult:
    async with case.exclusive():
        recheck(lambda r: validate_proposal(case, r), request)
        snap, currency = case.snap, case.rules.currency
        proposal = Proposal(
            number=len(snap.proposals) + 1,
            proposed_by=request.actor,
            proposed_at=workflow.now(),
            explanation=request.explanation,
            fee_refund=request.fee_refund,
            compensation=request.compensation,
            contract_revision=request.contract_revision,
        )
        snap.proposals.append(proposal)
        snap.status = Status.AWAITING_APPROVAL
        total = proposal.remedy_total(currency)
        roles = rules.approver_roles(case.rules, total)
        names = ", ".join(r.value for r in roles)
        case.publish()
        await case.notify_staff(
            f"approval_needed:{proposal.number}",
            approvers(case, roles),
            f"Approve resolution {proposal.number} of {snap.complaint_id}",
            f"{request.explanation}\nRemedies total {total} {currency}; approver: {names}",
        )
        await case.record(
            "resolution_proposed",
            actor=request.actor,
            detail={"number": proposal.number, "remedy_total": str(total), "approver_roles": [r.value for r in roles]},
        )
        return case.result(f"resolution {proposal.number} proposed; needs approval by {names}")


def validate_decision(case: Case, request: ApprovalDecision) -> None:
    snap, entry = case.snap, case.actor(request)
    rules.require_status(snap, (Status.AWAITING_APPROVAL,), "approve or reject a resolution")
    proposal = snap.current_proposal
    assert proposal is not None
    if request.actor == proposal.proposed_by:
        raise Refused("a resolution cannot be approved by the person who proposed it")
    rules.require_not_implicated(snap, request.actor)
    total = proposal.remedy_total(case.rules.currency)
    rules.require_role(
        entry, rules.approver_roles(case.rules, total), f"decide on remedies of {total} {case.rules.currency}"
    )


async def decide_resolution(case: Case, request: ApprovalDecision) -> ActionResult:
    async with case.exclusive():
        recheck(lambda r: validate_decision(case, r), request)
        snap = case.snap
        proposal = snap.current_proposal
        assert proposal is not None
        proposal.decided_by, proposal.decision_reason = request.actor, request.reason
        if not request.approve:
            proposal.state = "rejected_internally"
            snap.status = Status.IN_HANDLING
            case.publish()
            await case.notify_staff(
                f"proposal_rejected:{proposal.number}",
                [proposal.proposed_by],
                f"Resolution {proposal.number} of {snap.complaint_id} rejected",
                request.reason,
            )
            await case.record(
                "resolution_rejected_internally",
                actor=request.actor,
                detail={"number": proposal.number, "reason": request.reason},
            )
            return case.result(f"resolution {proposal.number} rejected; back to handling")
        proposal.state = "sent"
        snap.status = Status.AWAITING_CUSTOMER_ANSWER
        await case.notify_customer(f"proposal:{proposal.number}", "resolution_proposal", remedy_context(proposal))
        case.board.settle_named(MET_BY_RESOLUTION, workflow.now(), f"proposal {proposal.number}")
        case.publish()
        await case.record("resolution_approved", actor=request.actor, detail={"number": proposal.number})
        return case.result(f"resolution {proposal.number} approved and sent to the customer")


def validate_customer_answer(case: Case, request: CustomerAnswer) -> None:
    entry = case.actor(request)
    rules.require_status(case.snap, (Status.AWAITING_CUSTOMER_ANSWER,), "record the customer's answer")
    rules.require_holder(case.snap, entry, "record the customer's answer")


async def record_customer_answer(case: Case, request: CustomerAnswer) -> ActionResult:
    async with case.exclusive():
        recheck(lambda r: validate_customer_answer(case, r), request)
        snap = case.snap
        proposal = snap.current_proposal
        assert proposal is not None
        proposal.customer_comments = request.comments
        if request.accepted and legacy.newer(case, legacy.FOLLOW_UP):
            proposal.state = "accepted"
            communication = resolution_communication(snap.summary_resolution_by, workflow.now())
            key = communication.value if snap.reopened_count == 0 else f"{communication.value}:{snap.reopened_count}"
            await case.notify_customer(key, communication.value, remedy_context(proposal))
            snap.resolved_at, snap.resolution_communication = workflow.now(), communication
            detail = {"number": proposal.number, "comments": request.comments, "communication": communication.value}
            await case.record("resolved", actor=request.actor, detail=detail)
            await step3_follow_up.start(case)
            sent = communication.value.replace("_", " ")
            return case.result(f"resolution {proposal.number} accepted; {sent} sent; follow-up call scheduled")
        if request.accepted:
            return await legacy.close_at_acceptance(case, request, proposal, remedy_context(proposal))
        proposal.state = "rejected_by_customer"
        snap.status = Status.IN_HANDLING
        case.board.unsettle(f"proposal {proposal.number}")
        case.publish()
        await case.record(
            "resolution_rejected_by_customer",
            actor=request.actor,
            detail={"number": proposal.number, "comments": request.comments},
        )
        return case.result(f"customer rejected resolution {proposal.number}; back to handling, clocks running")

"""Step 2, the internal investigation of a major complaint, as the complaint sees it.

The investigation runs as its own child workflow owned by compliance
(``workflows.investigation``). This side starts it, hears its progress (recusal: implicated
staff stop handling), takes review flags from other complaints' investigations, and applies
the outcome when it concludes (a report to the regulator for suspected illegal conduct).
"""

from __future__ import annotations

import asyncio

from temporalio import workflow
from temporalio.common import SearchAttributePair, TypedSearchAttributes
from temporalio.exceptions import ChildWorkflowError
from temporalio.workflow import ParentClosePolicy

from domain import rules
from domain.rules import MANAGERS, Refused
from models import search_attributes as sa
from models.actions import ActionResult
from models.case_file import Investigation, ReviewFlag
from models.investigation import (
    CompleteReviewRequest,
    InvestigationInput,
    InvestigationProgressSignal,
    InvestigationResult,
    InvestigationRules,
    ReviewFlagSignal,
    investigation_workflow_id,
)
from models.policy import Role, Tier
from workflows import presentation, step2_regulator
from workflows.case import Case
from workflows.handlers import recheck
from workflows.investigation import InvestigationWorkflow

MET_BY_INVESTIGATION = {"major_first_response"}


async def start(case: Case, reason: str) -> None:
    snap = case.snap
    if snap.investigation is not None:
        return
    # On file before the child starts, so no validator sees a major complaint without it.
    snap.investigation = Investigation(
        opened_by="system",
        opened_at=workflow.now(),
        scope=snap.intake.summary[:500],
        workflow_id=investigation_workflow_id(snap.complaint_id),
        implicated=sorted(rules.implicated_staff(snap)),
    )
    case.board.settle_named(MET_BY_INVESTIGATION, workflow.now(), "investigation opened")
    case.publish()
    case.investigation_task = asyncio.create_task(_investigate(case, reason))
    await workflow.wait_condition(lambda: case.investigation_started or case.investigation_done())


def _input(case: Case, reason: str) -> InvestigationInput:
    snap, intake, r = case.snap, case.snap.intake, case.rules
    assert snap.investigation is not None
    return InvestigationInput(
        complaint_id=snap.complaint_id,
        complaint_workflow_id=snap.workflow_id,
        summary=intake.summary,
        scope=snap.investigation.scope,
        reason=reason,
        implicated=snap.investigation.implicated,
        customer_id=intake.customer.customer_id,
        contract_number=intake.contract_number,
        roster=list(case.roster.values()),
        rules=InvestigationRules(
            policy_version=r.policy_version,
            warning_fraction=r.warning_fraction,
            accountability_deciders=r.accountability_deciders,
            evidence_required=r.investigation_evidence_required,
            signing_mode=case.signing_mode(),
            signing_window_seconds=r.signing_window_seconds,
        ),
        keys=case.signing.keys,
    )


async def _investigate(case: Case, reason: str) -> None:
    """Start the investigation, wait for its outcome; if an operator ends it early, start it again."""
    snap = case.snap
    inv = snap.investigation
    assert inv is not None and inv.workflow_id is not None
    summary, details = presentation.complaint_summary(snap, reason)
    attempt = 0
    result: InvestigationResult  # set when an attempt ends with an outcome (the loop's only exit)
    while True:
        attempt += 1
        handle = await workflow.start_child_workflow(
            InvestigationWorkflow.run,
            _input(case, reason),
            id=inv.workflow_id,
            parent_close_policy=ParentClosePolicy.ABANDON,  # nobody can drop it by ending the complaint
            static_summary=summary,
            static_details=details,
            search_attributes=TypedSearchAttributes(
                [
                    SearchAttributePair(sa.TIER, Tier.MAJOR.value),
                    SearchAttributePair(sa.CATEGORY, snap.intake.category.value),
                    SearchAttributePair(sa.CUSTOMER_ID, snap.intake.customer.customer_id),
                    *(
                        [SearchAttributePair(sa.CONTRACT_NUMBER, snap.intake.contract_number)]
                        if snap.intake.contract_number
                        else []
                    ),
                ]
            ),
        )
        case.investigation_started = True
        await case.record(
            "investigation_opened", detail={"workflow_id": inv.workflow_id, "reason": reason, "attempt": attempt}
        )
        await case.flush()
        try:
            result = await handle
            break
        except ChildWorkflowError as err:
            await case.notify_staff(
                f"investigation_interrupted:{attempt}",
                case.with_role(Role.COMPLIANCE, Role.SENIOR_MANAGER),
                f"Investigation of {snap.complaint_id} was ended without an outcome",
                f"{err.cause or err}. It has been started again.",
            )
            await case.record("investigation_interrupted", detail={"cause": str(err.cause or err)})
            await case.flush()
    async with case.exclusive():
        await _apply_result(case, result)


async def _apply_result(case: Case, result: InvestigationResult) -> None:
    snap = case.snap
    inv = snap.investigation
    assert inv is not None
    inv.outcome, inv.concluded_at, inv.lead = result.outcome, result.concluded_at, result.lead
    inv.evidence, inv.breached = result.evidence, result.breached
    inv.implicated = sorted(set(inv.implicated) | set(result.outcome.responsible))
    if result.outcome.suspected_illegal:
        await step2_regulator.report_suspected_illegal_conduct(case)
    case.publish()
    await case.record(
        "investigation_concluded",
        actor=result.concluded_by,
        detail={
            "accountability": result.outcome.accountability,
            "responsible": result.outcome.responsible,
            "suspected_illegal": result.outcome.suspected_illegal,
            "workflow_id": result.investigation_id,
        },
    )
    if not case.closing():
        await case.notify_staff(
            "investigation_concluded",
            [r for r in [snap.assignee] if r],
            f"Investigation of {snap.complaint_id} concluded",
            f"Accountability: {result.outcome.accountability}. {result.outcome.findings}",
        )


async def progress(case: Case, request: InvestigationProgressSignal) -> None:
    """From the investigation: its lead, and who it implicates; implicated staff stop handling."""
    await workflow.wait_condition(lambda: case.handling or case.closing())
    async with case.exclusive():
        await _progress(case, request)


async def _progress(case: Case, request: InvestigationProgressSignal) -> None:
    snap = case.snap
    inv = snap.investigation
    if inv is None or inv.workflow_id != request.investigation_id:
        return
    inv.lead = request.lead
    newly = sorted(set(request.implicated) - set(inv.implicated))
    inv.implicated = sorted(set(inv.implicated) | set(request.implicated))
    newly_breached = request.breached and not inv.breached
    inv.breached = inv.breached or request.breached
    case.publish()
    if newly_breached:
        await case.record("investigation_breached", actor=request.investigation_id)
    if not newly:
        return
    await case.record("implicated_by_investigation", actor=request.investigation_id, detail={"staff_ids": newly})
    if case.closing():
        return
    recused = [s for s in newly if s == snap.assignee or s in snap.team]
    if not recused:
        return
    team = [m for m in snap.team if m not in inv.implicated]
    handler = snap.assignee if snap.assignee not in inv.implicated else None
    if handler is None:
        handler = (await case.choose_handler("Choose a handler who is not implicated")).staff_id
    if handler:
        await case.assign(
            handler,
            team,
            actor="system",
            reason=f"recusal: {', '.join(recused)} implicated by {request.investigation_id}",
        )
    else:
        await case.notify_staff(
            f"recusal:{','.join(recused)}",
            case.with_role(*MANAGERS),
            f"{snap.complaint_id} needs a new handler",
            f"{', '.join(recused)} must recuse themselves; nobody else is free.",
        )


async def flag_for_review(case: Case, request: ReviewFlagSignal) -> None:
    """From another complaint's investigation: someone working on this one is implicated there."""
    await workflow.wait_condition(lambda: case.handling or case.closing())
    async with case.exclusive():
        snap = case.snap
        if any(
            f.investigation_id == request.investigation_id and f.staff_id == request.staff_id for f in snap.review_flags
        ):
            return
        snap.review_flags.append(
            ReviewFlag(
                investigation_id=request.investigation_id,
                staff_id=request.staff_id,
                relation=request.relation,
                flagged_by=request.flagged_by,
                flagged_at=workflow.now(),
                reason=request.reason,
            )
        )
        case.publish()
        manager = rules.escalation_target(snap, case.roster, 1)
        reviewers = [manager] if manager else case.with_role(*MANAGERS)
        await case.notify_staff(
            f"review_flag:{request.investigation_id}:{request.staff_id}",
            reviewers,
            f"Review {snap.complaint_id}: {request.staff_id} is implicated in {request.investigation_id}",
            f"{request.staff_id} ({request.relation}) on this complaint. {request.reason}",
        )
        await case.record(
            "flagged_for_review",
            actor=request.flagged_by,
            detail={
                "investigation_id": request.investigation_id,
                "staff_id": request.staff_id,
                "relation": request.relation,
            },
        )


def validate_complete_review(case: Case, request: CompleteReviewRequest) -> None:
    entry = case.actor(request)
    rules.require_role(entry, MANAGERS, "complete a review")
    rules.require_not_implicated(case.snap, request.actor)
    if not any(f.staff_id == request.staff_id and f.reviewed_at is None for f in case.snap.review_flags):
        raise Refused(f"staff_id: no open review flag for {request.staff_id} on {case.snap.complaint_id}")


async def complete_review(case: Case, request: CompleteReviewRequest) -> ActionResult:
    async with case.exclusive():
        recheck(lambda r: validate_complete_review(case, r), request)
        now = workflow.now()
        for flag in case.snap.review_flags:
            if flag.staff_id == request.staff_id and flag.reviewed_at is None:
                flag.reviewed_by, flag.reviewed_at, flag.review_note = request.actor, now, request.note
        case.publish()
        await case.record(
            "review_completed", actor=request.actor, detail={"staff_id": request.staff_id, "note": request.note}
        )
        return case.result(f"review of {request.staff_id}'s part completed")

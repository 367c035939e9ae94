"""Every path kept only so that complaints started on older code replay as they ran.

Each ``workflow.patched`` id below marks where newer code took a different path. Old runs
take the old path until none is left running; then the path is retired in two deploys:

1. When no open complaint predates a patch (check in the Web UI or with
   ``temporal workflow list --query 'WorkflowType="ComplaintWorkflow" AND ExecutionStatus="Running"
   AND StartTime < "<deploy date of the patch>"'``), replace ``workflow.patched(ID)`` with
   ``workflow.deprecate_patch(ID)`` and delete the old branch and its code here; keep the
   histories that used it (tests/histories/pre_*) until step 2, moving them to an
   ``expected to fail`` list only if they exercised the deleted branch.
2. When no open complaint predates step 1's deploy, remove the ``deprecate_patch`` call and
   those histories.

| patch id | since | old path kept here |
| --- | --- | --- |
| ``tiered-handling`` | session 1 | ``watch_clocks``: only breach the intake clocks |
| ``follow-up`` | session 1 | ``close_at_acceptance``: close when the customer accepts |
| ``regulator-reports`` | session 1 | no reports filed for major complaints |
| ``investigation-workflow`` | session 2 | ``announce_major``, ``open_investigation``, ``record_investigation_outcome`` |
| ``serialized-handlers-lean-history`` | session 3 | no handler lock, whole case file in events, every search attribute upserted each time, clocks settled late still met |
| ``independent-follow-up-caller`` | session 4 | ``different_caller`` not enforced: the handler or team may record the follow-up call, and with no colleague free the handler is the caller (``step3_follow_up``) |
| ``regulator-reports-run-while-waiting`` | session 4 | waiting on the customer paused the reports owed to regulators too (``clocks.only_the_acknowledgement``, ``step2_handling``) |
| ``withdrawal-answered-before-reports`` | session 4 | a withdrawal waited for every pending regulator report before the complaint was withdrawn (``step6_look_back.end_of_run``) |
| ``signing-keys-on-reapply`` | session 7 | re-applying a policy that turns signing on did not load the staff's keys (no old run had signing: the branch is never taken in them) |
"""  # noqa: E501 - a table row cannot be wrapped

from __future__ import annotations

from typing import Any

from temporalio import workflow

from domain import rules
from domain.rules import Refused
from models.actions import (
    ActionResult,
    CustomerAnswer,
    InvestigationOutcomeRequest,
    OpenInvestigationRequest,
)
from models.case_file import Investigation, Proposal
from models.clocks import ClockState
from models.complaint import Status
from models.policy import Role, Tier
from workflows import step2_regulator
from workflows.case import Case
from workflows.handlers import recheck
from workflows.presentation import fmt_utc

TIERED_HANDLING = "tiered-handling"
FOLLOW_UP = "follow-up"
REGULATOR_REPORTS = "regulator-reports"
INVESTIGATION_WORKFLOW = "investigation-workflow"
SERIALIZED_LEAN = "serialized-handlers-lean-history"
INDEPENDENT_CALLER = "independent-follow-up-caller"
REPORTS_RUN_WHILE_WAITING = "regulator-reports-run-while-waiting"
WITHDRAWAL_ANSWERED_FIRST = "withdrawal-answered-before-reports"
SIGNING_KEYS_ON_REAPPLY = "signing-keys-on-reapply"

MET_BY_INVESTIGATION = {"major_first_response"}


def newer(case: Case, patch_id: str) -> bool:
    """Whether this run takes the path a patch introduced.

    A run that started on lean-history code is newer than every patch before it, so it asks
    no marker of them (nor records one); older runs ask as they always did, at the same point.
    """
    return case.lean or workflow.patched(patch_id)


async def watch_clocks(case: Case) -> None:
    """Before tiered handling: sleep until the next deadline or a withdrawal; a missed one is a breach."""
    closing = lambda: case.withdrawal is not None  # noqa: E731
    while not closing():
        running = [c for c in case.snap.clocks if c.state == ClockState.RUNNING]
        if not running:
            await workflow.wait_condition(closing)
            return
        clock = min(running, key=lambda c: c.due_at)
        remaining = (clock.due_at - workflow.now()).total_seconds()
        if remaining > 0:
            try:
                await workflow.wait_condition(
                    closing, timeout=remaining, timeout_summary=f"{clock.label} due {fmt_utc(clock.due_at)}"
                )
                return
            except TimeoutError:
                pass
        case.board.breach(clock, workflow.now())
        case.publish()
        await case.record("sla_breached", detail={"clock": clock.name, "due_at": clock.due_at.isoformat()})


async def announce_major(case: Case) -> None:
    """Before the investigation ran as its own workflow: tell compliance to open one here."""
    snap = case.snap
    await case.notify_staff(
        "major_complaint",
        case.with_role(Role.COMPLIANCE, Role.SENIOR_MANAGER),
        f"MAJOR complaint {snap.complaint_id}: open the internal investigation",
        f"{snap.intake.summary}\nRule: {snap.classification.rule_id if snap.classification else ''}",
    )


async def close_at_acceptance(
    case: Case, request: CustomerAnswer, proposal: Proposal, context: dict[str, Any]
) -> ActionResult:
    """Before follow-up calls: the complaint closed when the customer accepted."""
    snap = case.snap
    proposal.state = "accepted"
    await case.notify_customer("final_response", "final_response", context)
    now = workflow.now()
    snap.status, snap.resolved_at, snap.closed_at = Status.RESOLVED, now, now
    snap.closing_reason = f"resolution {proposal.number} accepted"
    case.board.stop_all(keep=lambda c: False)
    case.publish()
    await case.record("resolved", actor=request.actor, detail={"number": proposal.number, "comments": request.comments})
    return case.result(f"resolution {proposal.number} accepted; final response sent")


def _refuse_if_child_investigation(case: Case) -> None:
    inv = case.snap.investigation
    if inv is not None and inv.workflow_id:
        raise Refused(
            f"the investigation runs as its own workflow ({inv.workflow_id}); "
            f"act on it with `complaints investigation ...`"
        )


def validate_open_investigation(case: Case, request: OpenInvestigationRequest) -> None:
    snap, entry = case.snap, case.actor(request)
    rules.require_open(snap)
    _refuse_if_child_investigation(case)
    rules.require_role(entry, (Role.COMPLIANCE,), "open an internal investigation")
    rules.require_not_implicated(snap, request.actor)
    if snap.tier != Tier.MAJOR:
        raise Refused(
            f"complaint {snap.complaint_id} is {snap.tier.value if snap.tier else 'unclassified'}; "
            "investigations are for major complaints (escalate it first)"
        )
    if snap.investigation is not None:
        raise Refused(f"an investigation was already opened by {snap.investigation.opened_by}")


async def open_investigation(case: Case, request: OpenInvestigationRequest) -> ActionResult:
    async with case.exclusive():
        recheck(lambda r: validate_open_investigation(case, r), request)
        case.snap.investigation = Investigation(opened_by=request.actor, opened_at=workflow.now(), scope=request.scope)
        case.board.settle_named(MET_BY_INVESTIGATION, workflow.now(), "investigation opened")
        case.publish()
        await case.record("investigation_opened", actor=request.actor, detail={"scope": request.scope})
        return case.result("internal investigation opened")


def validate_investigation_outcome(case: Case, request: InvestigationOutcomeRequest) -> None:
    snap, entry = case.snap, case.actor(request)
    rules.require_open(snap)
    _refuse_if_child_investigation(case)
    rules.require_role(entry, (Role.COMPLIANCE,), "record an investigation outcome")
    if snap.investigation is None:
        raise Refused("no internal investigation has been opened")
    if snap.investigation.outcome is not None:
        raise Refused("the internal investigation has already concluded")
    for staff_id in request.responsible:
        rules.actor_entry(case.roster, staff_id)


async def record_investigation_outcome(case: Case, request: InvestigationOutcomeRequest) -> ActionResult:
    async with case.exclusive():
        recheck(lambda r: validate_investigation_outcome(case, r), request)
        investigation = case.snap.investigation
        assert investigation is not None
        investigation.outcome, investigation.concluded_at = request, workflow.now()
        if request.suspected_illegal and newer(case, REGULATOR_REPORTS):
            await step2_regulator.report_suspected_illegal_conduct(case)
        case.publish()
        await case.record(
            "investigation_concluded",
            actor=request.actor,
            detail={
                "accountability": request.accountability,
                "responsible": request.responsible,
                "suspected_illegal": request.suspected_illegal,
            },
        )
        return case.result(f"investigation concluded: accountability {request.accountability}")

"""Step 6.1, the closed loop for one complaint: look-back revisits (回头看) after the follow-up,
reopening when a commitment was not kept, and closure once the root cause is on file; also
the customer's withdrawal and the end of a run (closing, or continuing as new)."""

from __future__ import annotations

from temporalio import workflow

from domain import rules
from domain.rules import MANAGERS, Refused
from models.actions import (
    ActionResult,
    AdjustLookBackRequest,
    ContactNoteSignal,
    LookBackRequest,
    MarkLookBackRequest,
    RootCauseRequest,
)
from models.case_file import Closure, ContactNote, LookBack, Revisit, RootCauseRecord
from models.complaint import (
    CLOSED_STATUSES,
    CarriedState,
    ComplaintWorkflowInput,
    Status,
    WithdrawRequest,
    WithdrawResult,
)
from models.signature import SigningMode
from workflows import legacy
from workflows.case import Case
from workflows.handlers import recheck
from workflows.presentation import fmt_utc


async def begin(case: Case) -> None:
    case.snap.look_back = LookBack(planned=case.rules.look_back_revisits)
    case.snap.status = Status.LOOK_BACK
    await plan_revisit(case, 1)


async def plan_revisit(case: Case, number: int) -> None:
    snap = case.snap
    assert snap.resolved_at is not None
    # Revisits are counted from the resolution, so a slow revisit does not shift the rest.
    clock = await case.plan(
        f"Plan look-back revisit {number}", purpose="look_back", revisit=number, started_at=snap.resolved_at
    )
    case.board.plan(clock)
    case.publish()
    await case.notify_staff(
        f"look_back:{snap.reopened_count}:{number}",
        [h for h in [snap.assignee] if h],
        f"Look-back revisit {number} of {snap.complaint_id}",
        f"Revisit the customer between {fmt_utc(clock.started_at)} and {fmt_utc(clock.due_at)}.",
    )
    await case.record(
        "look_back_scheduled",
        detail={"revisit": number, "opens": clock.started_at.isoformat(), "due_at": clock.due_at.isoformat()},
    )


def validate_look_back(case: Case, request: LookBackRequest) -> None:
    entry = case.actor(request)
    rules.require_status(case.snap, (Status.LOOK_BACK,), "record a look-back revisit")
    rules.require_caller_or_manager(case.snap, entry, "record a look-back revisit")
    clock = case.board.open_revisit()
    if clock is None:
        raise Refused("no look-back revisit is open")
    if workflow.now() < clock.started_at:
        raise Refused(f"the next revisit opens {fmt_utc(clock.started_at)}")


async def record_look_back(case: Case, request: LookBackRequest) -> ActionResult:
    async with case.exclusive():
        recheck(lambda r: validate_look_back(case, r), request)
        return await _record_look_back(case, request)


async def _record_look_back(case: Case, request: LookBackRequest) -> ActionResult:
    snap = case.snap
    look_back, clock = snap.look_back, case.board.open_revisit()
    assert look_back is not None and clock is not None
    number = len(look_back.revisits) + 1
    look_back.revisits.append(
        Revisit(
            number=number,
            by=request.actor,
            at=workflow.now(),
            situation=request.situation,
            commitments_kept=request.commitments_kept,
            notes=request.notes,
        )
    )
    case.board.settle(clock, workflow.now(), request.actor)
    await case.record(
        "look_back_recorded",
        actor=request.actor,
        detail={"revisit": number, "commitments_kept": request.commitments_kept},
    )
    if not request.commitments_kept:
        await reopen(case, f"look-back revisit {number}: a commitment was not kept", actor=request.actor)
        return case.result(f"revisit {number} recorded; a commitment was not kept, complaint reopened")
    if number >= look_back.planned:
        look_back.ended = "all revisits done"
        await close_if_ready(case)
        return case.result(f"revisit {number} recorded; look-back complete")
    await plan_revisit(case, number + 1)
    case.revisits_this_run += 1
    if case.revisits_this_run >= case.rules.revisits_per_run or workflow.info().is_continue_as_new_suggested():
        case.continue_as_new = True
    return case.result(f"revisit {number} recorded; next revisit planned")


def validate_adjust(case: Case, request: AdjustLookBackRequest) -> None:
    entry = case.actor(request)
    rules.require_status(case.snap, (Status.LOOK_BACK,), "adjust the look-back")
    rules.require_role(entry, MANAGERS, "adjust the look-back")
    if not request.end and request.revisits is None:
        raise Refused("say how many revisits in total (revisits) or end the look-back (end)")


async def adjust(case: Case, request: AdjustLookBackRequest) -> ActionResult:
    async with case.exclusive():
        recheck(lambda r: validate_adjust(case, r), request)
        look_back = case.snap.look_back
        assert look_back is not None
        done = len(look_back.revisits)
        if request.end or (request.revisits is not None and request.revisits <= done):
            look_back.ended = f"ended by {request.actor}: {request.reason}"
            case.board.stop_all()
            await case.record("look_back_ended", actor=request.actor, detail={"reason": request.reason})
            await close_if_ready(case)
            return case.result("look-back ended")
        assert request.revisits is not None
        previous, look_back.planned = look_back.planned, request.revisits
        case.publish()
        await case.record(
            "look_back_adjusted",
            actor=request.actor,
            detail={"from": previous, "to": request.revisits, "reason": request.reason},
        )
        return case.result(f"look-back now {request.revisits} revisits (was {previous})")


def validate_mark(case: Case, request: MarkLookBackRequest) -> None:
    entry = case.actor(request)
    rules.require_open(case.snap)
    rules.require_role(entry, MANAGERS, "mark a complaint for look-back")
    if case.snap.status in (Status.LOOK_BACK, Status.AWAITING_ROOT_CAUSE):
        raise Refused("too late to mark: the follow-up is already done")


async def mark(case: Case, request: MarkLookBackRequest) -> ActionResult:
    async with case.exclusive():
        recheck(lambda r: validate_mark(case, r), request)
        case.snap.look_back_marked = True
        await case.record("marked_for_look_back", actor=request.actor, detail={"reason": request.reason})
        return case.result("marked for look-back after the follow-up call")


def validate_root_cause(case: Case, request: RootCauseRequest) -> None:
    entry = case.actor(request)
    rules.require_open(case.snap)
    if entry.role not in MANAGERS:
        rules.require_holder(case.snap, entry, "record the root cause")
    known = case.rules.root_causes
    if known and request.code not in known:
        raise Refused(f"unknown root cause {request.code!r}; the policy lists {', '.join(known)}")


async def record_root_cause(case: Case, request: RootCauseRequest) -> ActionResult:
    async with case.exclusive():
        recheck(lambda r: validate_root_cause(case, r), request)
        snap = case.snap
        snap.root_cause = RootCauseRecord(
            code=request.code,
            text=request.text,
            by=request.actor,
            at=workflow.now(),
            clause=request.clause,
            template=request.template,
        )
        # The clause only when given: an event of a request without one stays as it always was.
        blamed = {k: v for k, v in (("clause", request.clause), ("template", request.template)) if v}
        await case.record(
            "root_cause_recorded", actor=request.actor, detail={"code": request.code, "text": request.text, **blamed}
        )
        if snap.status == Status.AWAITING_ROOT_CAUSE:
            await close_if_ready(case)
        return case.result(f"root cause {request.code} recorded")


async def note_contact(case: Case, request: ContactNoteSignal) -> None:
    """Fire-and-forget note of a contact with the customer; kept across continue-as-new.

    Under a signing policy the note is a signed staff action: a signal cannot be refused, so a
    note whose signature does not hold is recorded as ``signal_refused`` and not kept.
    """
    if case.signing_mode() is not SigningMode.OFF:
        async with case.exclusive():
            try:
                case.actor(request, "note_customer_contact")
            except Refused as refusal:
                case.signing.drop()
                detail = {"signal": "note_customer_contact", "reason": str(refusal)}
                await case.record("signal_refused", actor=request.actor, detail=detail)
                return
            case.snap.contact_notes.append(ContactNote(by=request.actor, at=workflow.now(), note=request.note))
            await case.record("customer_contact", actor=request.actor, detail={"note": request.note})
        return
    case.snap.contact_notes.append(ContactNote(by=request.actor, at=workflow.now(), note=request.note))
    await workflow.wait_condition(lambda: case.handling or case.closing())
    await case.record("customer_contact", actor=request.actor, detail={"note": request.note})
    await case.flush()


async def close_if_ready(case: Case) -> None:
    snap = case.snap
    if snap.root_cause is None:
        snap.status = Status.AWAITING_ROOT_CAUSE
        case.publish()
        await case.notify_staff(
            f"root_cause_needed:{snap.reopened_count}",
            [h for h in [snap.assignee] if h],
            f"Record the root cause of {snap.complaint_id}",
            "The complaint closes once its root cause is recorded.",
        )
        await case.record("awaiting_root_cause")
        return
    now = workflow.now()
    calls = [c for c in snap.follow_up.calls if c.satisfaction] if snap.follow_up else []
    snap.closure = Closure(
        outcome=(snap.follow_up.outcome if snap.follow_up and snap.follow_up.outcome else "accepted"),
        closed_at=now,
        total_seconds=(now - snap.intake.received_at).total_seconds(),
        satisfaction=calls[-1].satisfaction if calls else None,
        root_cause=snap.root_cause.code,
        reopened=snap.reopened_count,
    )
    snap.status, snap.closed_at = Status.CLOSED, now
    snap.closing_reason = f"closed: {snap.closure.outcome}"
    case.board.stop_all()
    case.publish()
    await case.record("closed", detail=snap.closure.model_dump(mode="json"))


# -- withdrawal and the end of a run ------------------------------------------------------------


def validate_withdraw(case: Case, request: WithdrawRequest) -> None:
    if case.snap.status in CLOSED_STATUSES or case.withdrawal is not None:
        raise ValueError(f"complaint {case.snap.complaint_id} is already {Status.WITHDRAWN.value}")


async def withdraw(case: Case, request: WithdrawRequest) -> WithdrawResult:
    case.withdrawal = request  # changed before any await: a second withdrawal sees it
    await workflow.wait_condition(lambda: case.snap.status in CLOSED_STATUSES)
    return WithdrawResult(complaint_id=case.snap.complaint_id, status=case.snap.status)


def close(case: Case, status: Status, reason: str) -> None:
    snap, now = case.snap, workflow.now()
    snap.status, snap.closed_at, snap.closing_reason = status, now, reason
    case.board.stop_all()
    case.publish()


async def end_of_run(case: Case) -> ComplaintWorkflowInput | None:
    """Wait for what must not be dropped; the input of the next run when continuing as new."""
    await case.flush()
    # A report owed to a regulator is never dropped, whatever happens to the complaint. A
    # withdrawal is answered first (the reports are waited for below); older runs waited here,
    # so the customer's withdrawal hung while a regulator was unreachable.
    withdrawing = case.withdrawal is not None and case.snap.status not in CLOSED_STATUSES
    if not (withdrawing and workflow.patched(legacy.WITHDRAWAL_ANSWERED_FIRST)):
        await workflow.wait_condition(lambda: all(t.done() for t in case.report_tasks))
    if case.continue_as_new and not case.closing():
        await workflow.wait_condition(case.investigation_done)
        await case.flush()  # no audit event may stay behind in this run
        # Bounded history: hand the case file to a fresh run once every handler is done (each
        # handler writes its own events before it finishes).
        await workflow.wait_condition(workflow.all_handlers_finished)
        return ComplaintWorkflowInput(
            complaint_id=case.snap.complaint_id,
            intake=case.snap.intake,
            carried=CarriedState(
                snapshot=case.snap,
                seq=case.seq,
                roster=list(case.roster.values()),
                rules=case.rules,
                keys=case.signing.keys,
                nonces=case.signing.nonces,
            ),
        )
    withdrawal = case.withdrawal
    if withdrawal is not None and case.snap.status not in CLOSED_STATUSES:
        close(case, Status.WITHDRAWN, withdrawal.reason)
        await case.record("withdrawn", actor=withdrawal.relayed_by, detail={"reason": withdrawal.reason})
        await case.flush()
    # Nor is an investigation: a withdrawn complaint still waits for its outcome (and any
    # report the outcome makes due).
    await workflow.wait_condition(case.investigation_done)
    await workflow.wait_condition(lambda: all(t.done() for t in case.report_tasks))
    await workflow.wait_condition(workflow.all_handlers_finished)
    await case.flush()
    return None


async def reopen(case: Case, reason: str, *, actor: str) -> None:
    """Back into handling with its history, the same tier or higher, and new clocks."""
    snap, now = case.snap, workflow.now()
    assert snap.tier is not None
    case.board.stop_all()
    if snap.look_back is not None and snap.look_back.ended is None:
        snap.look_back.ended = f"reopened: {reason}"
    tier_clock = await case.plan(f"Start the {snap.tier.value}-tier clock again", tier=snap.tier, started_at=now)
    decision = await case.plan(
        "Start the decision clock again", purpose="decision", started_at=now, flags=list(snap.intake.flags)
    )
    case.board.plan(tier_clock)
    case.board.plan(decision)
    snap.reopened_count += 1
    snap.status = Status.IN_HANDLING
    snap.resolved_at = snap.resolution_communication = None
    case.publish()
    await case.notify_staff(
        f"reopened:{snap.reopened_count}",
        [h for h in [snap.assignee] if h],
        f"Complaint {snap.complaint_id} reopened",
        reason,
    )
    await case.record("reopened", actor=actor, detail={"reason": reason, "times": snap.reopened_count})

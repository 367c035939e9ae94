"""Step 3.1, the follow-up call (回访): after the customer accepts, a colleague (by the policy)
calls to check satisfaction and that the remedy arrived. Not reached: retry, then a letter.
Dissatisfied or remedy missing: the complaint reopens. Otherwise on to look-back or closure."""

from __future__ import annotations

from collections.abc import Callable

from temporalio import workflow

from domain import rules
from domain.rules import Refused
from models.actions import ActionResult, FollowUpCallRequest
from models.case_file import FollowUp, FollowUpCall
from models.complaint import Status
from models.policy import Tier
from workflows import legacy, step6_look_back
from workflows.case import Case
from workflows.handlers import recheck
from workflows.presentation import fmt_utc


async def start(case: Case) -> None:
    snap = case.snap
    assert snap.tier is not None
    case.board.stop_all()
    caller, nobody_free = snap.assignee, False
    if case.rules.follow_up_different_caller:
        handling = sorted({s for s in (snap.assignee, *snap.team) if s})
        choice = await case.choose_handler("Choose who makes the follow-up call", also_exclude=handling)
        caller = choice.staff_id
        if caller is None:
            nobody_free = workflow.patched(legacy.INDEPENDENT_CALLER)
            caller = None if nobody_free else snap.assignee  # before the rule: the handler called after all
    clock = await case.plan("Plan the follow-up call", purpose="follow_up", tier=snap.tier, started_at=workflow.now())
    snap.follow_up = FollowUp(caller=caller, scheduled_at=clock.started_at)
    case.board.plan(clock)
    snap.status = Status.FOLLOW_UP
    case.publish()
    recipients, body = [c for c in [caller] if c], f"Call the customer by {fmt_utc(clock.due_at)}."
    if nobody_free:
        recipients = case.with_role(*rules.MANAGERS)
        body = (
            "Nobody independent of the handling is free to call the customer: "
            f"a manager takes the follow-up call over, by {fmt_utc(clock.due_at)}."
        )
    await case.notify_staff(
        f"follow_up:{snap.reopened_count}", recipients, f"Follow-up call for {snap.complaint_id}", body
    )
    await case.record("follow_up_scheduled", detail={"caller": caller, "due_at": clock.due_at.isoformat()})


def validate_call(case: Case, request: FollowUpCallRequest, *, independent: bool | None = None) -> None:
    """``independent``: enforce the policy's ``different_caller`` (default: as the pinned policy says)."""
    entry = case.actor(request)
    rules.require_status(case.snap, (Status.FOLLOW_UP,), "record a follow-up call")
    different_caller = case.rules.follow_up_different_caller if independent is None else independent
    rules.require_follow_up_caller(case.snap, entry, different_caller=different_caller)
    if request.reached and (request.satisfaction is None or request.remedy_delivered is None):
        raise Refused(
            "a call that reached the customer records satisfaction (1-5) and whether the remedy was delivered"
        )


async def record_call(case: Case, request: FollowUpCallRequest) -> ActionResult:
    async with case.exclusive():
        recheck(lambda r: validate_call(case, r, independent=False), request)
        # The validator enforces different_caller; here it is re-checked only in runs that know
        # the rule (a call the handler recorded before it replays as it ran).
        if _refused(lambda: validate_call(case, request)) and workflow.patched(legacy.INDEPENDENT_CALLER):
            recheck(lambda r: validate_call(case, r), request)
        return await _record_call(case, request)


def _refused(check: Callable[[], None]) -> bool:
    try:
        check()
    except Refused:
        return True
    return False


async def _record_call(case: Case, request: FollowUpCallRequest) -> ActionResult:
    snap, now, policy = case.snap, workflow.now(), case.rules
    follow_up = snap.follow_up
    assert follow_up is not None
    taken_over_from = rules.follow_up_taken_over_from(snap, case.roster[request.actor])
    follow_up.calls.append(
        FollowUpCall(
            by=request.actor,
            at=now,
            reached=request.reached,
            satisfaction=request.satisfaction,
            remedy_delivered=request.remedy_delivered,
            comments=request.comments,
            taken_over_from=taken_over_from,
        )
    )
    attempt = len(follow_up.calls)
    # A manager taking over says so in the audit log and in the answer.
    over = {"taken_over_from": taken_over_from} if taken_over_from else {}
    by = f"{request.actor} took over the follow-up call from {taken_over_from}; " if taken_over_from else ""
    if not request.reached:
        if attempt < policy.follow_up_max_attempts:
            case.board.stop_all()
            retry = await case.plan(f"Plan follow-up attempt {attempt + 1}", purpose="follow_up_retry", started_at=now)
            case.board.plan(retry)
            case.publish()
            await case.record(
                "follow_up_not_reached",
                actor=request.actor,
                detail={"attempt": attempt, "next_due": retry.due_at.isoformat(), **over},
            )
            return case.result(f"{by}customer not reached (attempt {attempt}); next try due {fmt_utc(retry.due_at)}")
        await case.notify_customer(f"follow_up_letter:{snap.reopened_count}", "follow_up_letter", {})
        follow_up.outcome = "letter"
        case.board.stop_all(settle_by="follow-up letter", now=now)
        await case.record("follow_up_letter_sent", actor=request.actor, detail={"attempts": attempt, **over})
        await after_follow_up(case)
        return case.result(f"{by}customer not reached after {attempt} calls; letter sent")
    assert request.satisfaction is not None and request.remedy_delivered is not None
    if request.satisfaction < policy.satisfaction_threshold or not request.remedy_delivered:
        follow_up.outcome = "reopened"
        why = (
            "remedy not delivered"
            if not request.remedy_delivered
            else f"satisfaction {request.satisfaction} below {policy.satisfaction_threshold}"
        )
        call = (
            f"follow-up call by {request.actor}, taking over from {taken_over_from}"
            if taken_over_from
            else "follow-up call"
        )
        await step6_look_back.reopen(case, f"{call}: {why}", actor=request.actor)
        return case.result(f"{by}complaint reopened ({why})")
    follow_up.outcome = "satisfied"
    case.board.stop_all(settle_by="follow-up call", now=now)
    await case.record(
        "follow_up_done",
        actor=request.actor,
        detail={"satisfaction": request.satisfaction, "comments": request.comments, **over},
    )
    await after_follow_up(case)
    return case.result(f"{by}follow-up recorded: satisfaction {request.satisfaction}")


async def after_follow_up(case: Case) -> None:
    """Major or marked complaints are revisited (look-back); the rest close once the root cause is on file."""
    if case.snap.tier == Tier.MAJOR or case.snap.look_back_marked:
        await step6_look_back.begin(case)
        return
    await step6_look_back.close_if_ready(case)

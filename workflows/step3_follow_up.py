"""Step 3.1, the follow-up call (回访): after the customer accepts, a colleague (by the policy)
calls to check satisfaction and that the remedy arrived. Not reached: retry, then a letter.
Dissatisfied or remedy missing: the complaint reopens. Otherwise on to look-back or closure."""

from __future__ import annotations

from temporalio import workflow

from domain import rules
from domain.rules import Refused
from models.actions import ActionResult, FollowUpCallRequest
from models.case_file import FollowUp, FollowUpCall
from models.complaint import Status
from models.policy import Tier
from workflows import step6_look_back
from workflows.case import Case
from workflows.handlers import recheck
from workflows.presentation import fmt_utc


async def start(case: Case) -> None:
    snap = case.snap
    assert snap.tier is not None
    case.board.stop_all()
    caller = snap.assignee
    if case.rules.follow_up_different_caller:
        choice = await case.choose_handler("Choose who makes the follow-up call", also_exclude=snap.assignee or "")
        caller = choice.staff_id or snap.assignee
    clock = await case.plan("Plan the follow-up call", purpose="follow_up", tier=snap.tier, started_at=workflow.now())
    snap.follow_up = FollowUp(caller=caller, scheduled_at=clock.started_at)
    case.board.plan(clock)
    snap.status = Status.FOLLOW_UP
    case.publish()
    await case.notify_staff(
        f"follow_up:{snap.reopened_count}",
        [c for c in [caller] if c],
        f"Follow-up call for {snap.complaint_id}",
        f"Call the customer by {fmt_utc(clock.due_at)}.",
    )
    await case.record("follow_up_scheduled", detail={"caller": caller, "due_at": clock.due_at.isoformat()})


def validate_call(case: Case, request: FollowUpCallRequest) -> None:
    entry = case.actor(request.actor)
    rules.require_status(case.snap, (Status.FOLLOW_UP,), "record a follow-up call")
    rules.require_caller_or_manager(case.snap, entry, "record the follow-up call")
    if request.reached and (request.satisfaction is None or request.remedy_delivered is None):
        raise Refused(
            "a call that reached the customer records satisfaction (1-5) and whether the remedy was delivered"
        )


async def record_call(case: Case, request: FollowUpCallRequest) -> ActionResult:
    async with case.exclusive():
        recheck(lambda r: validate_call(case, r), request)
        return await _record_call(case, request)


async def _record_call(case: Case, request: FollowUpCallRequest) -> ActionResult:
    snap, now, policy = case.snap, workflow.now(), case.rules
    follow_up = snap.follow_up
    assert follow_up is not None
    follow_up.calls.append(
        FollowUpCall(
            by=request.actor,
            at=now,
            reached=request.reached,
            satisfaction=request.satisfaction,
            remedy_delivered=request.remedy_delivered,
            comments=request.comments,
        )
    )
    attempt = len(follow_up.calls)
    if not request.reached:
        if attempt < policy.follow_up_max_attempts:
            case.board.stop_all()
            retry = await case.plan(f"Plan follow-up attempt {attempt + 1}", purpose="follow_up_retry", started_at=now)
            case.board.plan(retry)
            case.publish()
            await case.record(
                "follow_up_not_reached",
                actor=request.actor,
                detail={"attempt": attempt, "next_due": retry.due_at.isoformat()},
            )
            return case.result(f"customer not reached (attempt {attempt}); next try due {fmt_utc(retry.due_at)}")
        await case.notify_customer(f"follow_up_letter:{snap.reopened_count}", "follow_up_letter", {})
        follow_up.outcome = "letter"
        case.board.stop_all(settle_by="follow-up letter", now=now)
        await case.record("follow_up_letter_sent", actor=request.actor, detail={"attempts": attempt})
        await after_follow_up(case)
        return case.result(f"customer not reached after {attempt} calls; letter sent")
    assert request.satisfaction is not None and request.remedy_delivered is not None
    if request.satisfaction < policy.satisfaction_threshold or not request.remedy_delivered:
        follow_up.outcome = "reopened"
        why = (
            "remedy not delivered"
            if not request.remedy_delivered
            else f"satisfaction {request.satisfaction} below {policy.satisfaction_threshold}"
        )
        await step6_look_back.reopen(case, f"follow-up call: {why}", actor=request.actor)
        return case.result(f"complaint reopened ({why})")
    follow_up.outcome = "satisfied"
    case.board.stop_all(settle_by="follow-up call", now=now)
    await case.record(
        "follow_up_done",
        actor=request.actor,
        detail={"satisfaction": request.satisfaction, "comments": request.comments},
    )
    await after_follow_up(case)
    return case.result(f"follow-up recorded: satisfaction {request.satisfaction}")


async def after_follow_up(case: Case) -> None:
    """Major or marked complaints are revisited (look-back); the rest close once the root cause is on file."""
    if case.snap.tier == Tier.MAJOR or case.snap.look_back_marked:
        await step6_look_back.begin(case)
        return
    await step6_look_back.close_if_ready(case)

"""After the decision (steps 3 and 6): follow-up calls, reopening, look-back, closure."""

from __future__ import annotations

import asyncio
from decimal import Decimal
from typing import Any

import pytest
from sqlmodel import Session, select
from temporalio.api.enums.v1 import EventType
from temporalio.client import WorkflowExecutionStatus

from complaints.actions import ComplaintActions
from complaints.intake import ActionRefused
from db.tables import ComplaintEventRow
from models.actions import (
    AdjustLookBackRequest,
    ApprovalDecision,
    AssignRequest,
    ContactNoteSignal,
    CustomerAnswer,
    FollowUpCallRequest,
    LookBackRequest,
    MarkLookBackRequest,
    ProposalRequest,
    RootCauseRequest,
)
from models.clocks import ClockState
from models.complaint import ComplaintStatusQuery, Status
from models.intake import Money
from tests.conftest import Service
from tests.helpers import (
    complaint_row,
    conclude_investigation,
    eventually,
    file_assigned,
    outbox,
    outcome_on_complaint,
    projected,
    save_history,
    state_of,
    status_once,
)

MANAGER = "S-MGR-001"


async def resolve(
    service: Service, actions: ComplaintActions, category: str = "fees_and_interest", **overrides: Any
) -> tuple[str, str]:
    """File a complaint and take it to an accepted resolution: (complaint id, handler)."""
    cid, handler = await file_assigned(service, category, **overrides)
    await actions.propose_resolution(
        cid, ProposalRequest(actor=handler, explanation="Refund of the fee.", fee_refund=Money(amount=Decimal("500")))
    )
    await actions.decide_resolution(cid, ApprovalDecision(actor=MANAGER, approve=True))
    await actions.record_customer_answer(cid, CustomerAnswer(actor=handler, accepted=True))
    return cid, handler


async def caller_of(service: Service, cid: str) -> str:
    state = await status_once(service.intake.handle(cid), {Status.FOLLOW_UP})
    assert state.snapshot.follow_up is not None and state.snapshot.follow_up.caller
    return state.snapshot.follow_up.caller


async def test_a_satisfied_customer_closes_the_complaint(
    service: Service, actions: ComplaintActions, request: pytest.FixtureRequest
) -> None:
    cid, handler = await resolve(service, actions)
    caller = await caller_of(service, cid)
    assert caller != handler, "someone other than the handler calls"
    assert clock_states(await state_of(service, cid))["follow_up"] == ClockState.RUNNING

    with pytest.raises(ActionRefused, match="records satisfaction"):
        await actions.record_follow_up_call(cid, FollowUpCallRequest(actor=caller, reached=True))
    with pytest.raises(ActionRefused, match="unknown root cause 'gremlins'"):
        await actions.record_root_cause(cid, RootCauseRequest(actor=handler, code="gremlins", text="x"))
    await actions.record_root_cause(
        cid, RootCauseRequest(actor=handler, code="pricing_error", text="Fee table not updated after the rate change")
    )
    done = await actions.record_follow_up_call(
        cid,
        FollowUpCallRequest(
            actor=caller, reached=True, satisfaction=5, remedy_delivered=True, comments="Refund arrived"
        ),
    )

    assert done.status == "closed"
    final = await service.intake.handle(cid).result()
    assert final.status == Status.CLOSED
    assert (final.closure.outcome, final.closure.satisfaction, final.closure.root_cause, final.closure.reopened) == (
        "satisfied",
        5,
        "pricing_error",
        0,
    )
    assert final.closure.total_seconds > 0
    await projected(service.engine, cid, "closed")
    row = complaint_row(service.engine, cid)
    assert (row.status, row.outcome, row.satisfaction, row.root_cause) == ("closed", "satisfied", 5, "pricing_error")
    if service.backend == "sqlite":
        await save_history(request, service.intake.handle(cid), "follow_up_satisfied_closed")


async def test_the_follow_up_call_is_independent_of_the_handling(
    service: Service, actions: ComplaintActions, request: pytest.FixtureRequest
) -> None:
    # The policy says different_caller: the handler and the team are refused; the chosen
    # caller records the call, or a manager takes it over and the record says so.
    cid, handler = await file_assigned(service, "fees_and_interest")
    team = ["S-LEG-001", "S-SM-001"]  # a senior manager on the team is not independent either
    await actions.assign(cid, AssignRequest(actor=MANAGER, handler_id=handler, team=team, reason="special team"))
    await actions.propose_resolution(
        cid, ProposalRequest(actor=handler, explanation="Refund of the fee.", fee_refund=Money(amount=Decimal("500")))
    )
    await actions.decide_resolution(cid, ApprovalDecision(actor=MANAGER, approve=True))
    await actions.record_customer_answer(cid, CustomerAnswer(actor=handler, accepted=True))
    caller = await caller_of(service, cid)
    assert caller not in {handler, *team, MANAGER}
    updates_before = await accepted_updates(service, cid)

    satisfied = FollowUpCallRequest(actor=handler, reached=True, satisfaction=5, remedy_delivered=True)
    with pytest.raises(ActionRefused, match=rf"{handler} handles complaint {cid}; .*the chosen caller \({caller}\)"):
        await actions.record_follow_up_call(cid, satisfied)
    for member in team:
        with pytest.raises(ActionRefused, match=f"{member} is on the team of complaint {cid}; .*independent"):
            await actions.record_follow_up_call(cid, satisfied.model_copy(update={"actor": member}))
    with pytest.raises(ActionRefused, match=rf"only the chosen caller \({caller}\) or a manager taking over"):
        await actions.record_follow_up_call(cid, satisfied.model_copy(update={"actor": "S-CMP-001"}))
    snap = (await state_of(service, cid)).snapshot
    assert snap.status == Status.FOLLOW_UP and snap.follow_up is not None and snap.follow_up.calls == []
    assert await accepted_updates(service, cid) == updates_before, "a refusal leaves no trace in history"

    taken = await actions.record_follow_up_call(cid, FollowUpCallRequest(actor=MANAGER, reached=False))
    assert taken.message.startswith(f"{MANAGER} took over the follow-up call from {caller}; customer not reached")
    await actions.record_root_cause(cid, RootCauseRequest(actor=handler, code="pricing_error", text="Old fee table"))
    done = await actions.record_follow_up_call(cid, satisfied.model_copy(update={"actor": caller}))

    assert done.status == "closed" and done.message == "follow-up recorded: satisfaction 5"
    final = await service.intake.handle(cid).result()
    assert final.follow_up is not None
    assert [(c.by, c.taken_over_from) for c in final.follow_up.calls] == [(MANAGER, caller), (caller, None)]
    await projected(service.engine, cid, "closed")
    [not_reached] = audit_events(service, cid, "follow_up_not_reached")
    assert (not_reached.actor, not_reached.detail["taken_over_from"]) == (MANAGER, caller)
    [recorded] = audit_events(service, cid, "follow_up_done")
    assert recorded.actor == caller and "taken_over_from" not in recorded.detail
    if service.backend == "sqlite":
        await save_history(request, service.intake.handle(cid), "follow_up_taken_over_closed")


async def test_with_nobody_independent_free_the_managers_make_the_follow_up_call(
    service: Service, actions: ComplaintActions, request: pytest.FixtureRequest
) -> None:
    cid, handler = await file_assigned(service, "fees_and_interest")
    others = [h for h in ("S-HND-001", "S-HND-002", "S-HND-003") if h != handler]  # every other handler
    await actions.assign(cid, AssignRequest(actor=MANAGER, handler_id=handler, team=others, reason="all hands"))
    await actions.propose_resolution(
        cid, ProposalRequest(actor=handler, explanation="Refund of the fee.", fee_refund=Money(amount=Decimal("500")))
    )
    await actions.decide_resolution(cid, ApprovalDecision(actor=MANAGER, approve=True))
    await actions.record_customer_answer(cid, CustomerAnswer(actor=handler, accepted=True))

    state = await status_once(service.intake.handle(cid), {Status.FOLLOW_UP})
    assert state.snapshot.follow_up is not None and state.snapshot.follow_up.caller is None
    notices = outbox(service.engine, cid, "follow_up")
    assert {"S-MGR-001", "S-MGR-002", "S-SM-001"} <= {n.recipient for n in notices}
    assert all("a manager takes the follow-up call over" in n.body for n in notices)
    satisfied = FollowUpCallRequest(actor=handler, reached=True, satisfaction=4, remedy_delivered=True)
    for staff_id in (handler, *others):
        with pytest.raises(ActionRefused, match=r"independent of the handling: a manager \(nobody"):
            await actions.record_follow_up_call(cid, satisfied.model_copy(update={"actor": staff_id}))

    done = await actions.record_follow_up_call(cid, satisfied.model_copy(update={"actor": "S-MGR-002"}))

    assert done.message == "follow-up recorded: satisfaction 4"
    snap = (await state_of(service, cid)).snapshot
    assert snap.follow_up is not None and [(c.by, c.taken_over_from) for c in snap.follow_up.calls] == [
        ("S-MGR-002", None)
    ]
    await actions.record_root_cause(cid, RootCauseRequest(actor=handler, code="pricing_error", text="Old fee table"))
    assert (await service.intake.handle(cid).result()).status == Status.CLOSED
    if service.backend == "sqlite":
        await save_history(request, service.intake.handle(cid), "follow_up_nobody_independent_free_closed")


def audit_events(service: Service, complaint_id: str, kind: str) -> list[ComplaintEventRow]:
    with Session(service.engine) as session:
        return list(
            session.exec(
                select(ComplaintEventRow).where(
                    ComplaintEventRow.complaint_id == complaint_id, ComplaintEventRow.kind == kind
                )
            ).all()
        )


async def accepted_updates(service: Service, complaint_id: str) -> int:
    history = await service.intake.handle(complaint_id).fetch_history()
    return sum(e.event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED for e in history.events)


def clock_states(state: ComplaintStatusQuery) -> dict[str, ClockState]:
    return {c.name: c.state for c in state.snapshot.clocks}


async def test_a_dissatisfied_customer_reopens_it_on_new_clocks(service: Service, actions: ComplaintActions) -> None:
    cid, handler = await resolve(service, actions)
    caller = await caller_of(service, cid)

    reopened = await actions.record_follow_up_call(
        cid,
        FollowUpCallRequest(
            actor=caller, reached=True, satisfaction=2, remedy_delivered=True, comments="Still charged"
        ),
    )

    assert reopened.status == "in_handling" and "satisfaction 2 below 3" in reopened.message
    state = (await state_of(service, cid)).snapshot
    assert state.reopened_count == 1 and state.tier.value == "simple"
    running = [c.name for c in state.clocks if c.state == ClockState.RUNNING]
    assert sorted(running) == ["regulatory_decision", "simple_first_response"]
    assert await actions.propose_resolution(
        cid,
        ProposalRequest(
            actor=handler, explanation="Refund and fee waived for a year.", fee_refund=Money(amount=Decimal("900"))
        ),
    )
    await actions.decide_resolution(cid, ApprovalDecision(actor=MANAGER, approve=True))
    await actions.record_customer_answer(cid, CustomerAnswer(actor=handler, accepted=True))
    caller = await caller_of(service, cid)
    waiting = await actions.record_follow_up_call(
        cid, FollowUpCallRequest(actor=caller, reached=True, satisfaction=4, remedy_delivered=True)
    )
    assert waiting.status == "awaiting_root_cause"
    await actions.record_root_cause(
        cid, RootCauseRequest(actor=MANAGER, code="process_delay", text="Refund batch ran late")
    )

    final = await service.intake.handle(cid).result()
    assert final.status == Status.CLOSED and final.closure.reopened == 1 and final.complaint_id == cid
    assert len(outbox(service.engine, cid, "final_response")) == 2


async def test_an_unreachable_customer_gets_retries_then_a_letter(service: Service, actions: ComplaintActions) -> None:
    cid, handler = await resolve(service, actions)
    caller = await caller_of(service, cid)
    await actions.record_root_cause(cid, RootCauseRequest(actor=handler, code="pricing_error", text="Wrong fee table"))

    first = await actions.record_follow_up_call(cid, FollowUpCallRequest(actor=caller, reached=False))
    second = await actions.record_follow_up_call(
        cid, FollowUpCallRequest(actor=caller, reached=False, comments="Voicemail")
    )
    third = await actions.record_follow_up_call(cid, FollowUpCallRequest(actor=caller, reached=False))

    assert "attempt 1" in first.message and "attempt 2" in second.message
    assert third.message == "customer not reached after 3 calls; letter sent" and third.status == "closed"
    [letter] = outbox(service.engine, cid, "follow_up_letter")
    assert "could not\nreach you" in letter.body or "could not reach you" in letter.body
    final = await service.intake.handle(cid).result()
    assert final.closure.outcome == "letter"
    follow_up_clocks = [c for c in final.clocks if c.name == "follow_up"]
    assert len(follow_up_clocks) == 3, "one clock per attempt"


async def test_an_unrecorded_follow_up_is_breached_and_escalated(service: Service, actions: ComplaintActions) -> None:
    cid, _ = await resolve(service, actions)  # the compressed policy gives 30 s for the call

    async def breached() -> ComplaintStatusQuery | None:
        state = await state_of(service, cid)
        return state if clock_states(state).get("follow_up") == ClockState.BREACHED else None

    state = await eventually(breached, timeout=60, what="the follow-up clock to breach")
    assert state.snapshot.escalated_to is not None
    await projected(service.engine, cid, "sla_breached")


async def test_case_study_three_monthly_revisits(
    service: Service, actions: ComplaintActions, request: pytest.FixtureRequest
) -> None:
    # A major complaint: after the follow-up, three "monthly" revisits (2 s apart here).
    cid, handler = await file_assigned(service, "contract_dispute", regulators=["NFRA", "PBOC"])
    await conclude_investigation(service.client, cid, accountability="training", responsible=["S-RM-007"])
    await outcome_on_complaint(service, cid)
    await actions.record_legal_evaluation(cid, _legal())
    await actions.record_manager_evaluation(cid, _manager())
    await actions.propose_resolution(
        cid,
        ProposalRequest(
            actor=handler,
            explanation="Clause 7.3 revised; actual loss compensated.",
            compensation=Money(amount=Decimal("186000")),
            contract_revision="7.3: 1% of the amount prepaid",
        ),
    )
    await actions.decide_resolution(cid, ApprovalDecision(actor="S-SM-001", approve=True))
    await actions.record_customer_answer(cid, CustomerAnswer(actor=handler, accepted=True))
    await actions.record_root_cause(cid, RootCauseRequest(actor=handler, code="contract_wording", text="Clause 7.3"))
    caller = await caller_of(service, cid)
    after = await actions.record_follow_up_call(
        cid, FollowUpCallRequest(actor=caller, reached=True, satisfaction=4, remedy_delivered=True)
    )
    assert after.status == "look_back"

    checks = ["Contract amendment signed", "Compensation paid on 5 Dec", "Customer drew down the next tranche"]
    for number, situation in enumerate(checks, start=1):
        result = await record_when_open(actions, cid, handler, situation)
        assert f"revisit {number} recorded" in result.message

    final = await service.intake.handle(cid).result()
    assert final.status == Status.CLOSED
    assert [r.situation for r in final.look_back.revisits] == checks
    assert all(r.commitments_kept for r in final.look_back.revisits)
    if service.backend == "sqlite":
        await save_history(request, service.intake.handle(cid), "case_study_look_back_closed")


async def record_when_open(actions: ComplaintActions, cid: str, actor: str, situation: str, kept: bool = True) -> Any:
    """Record the next revisit as soon as it opens (the compressed policy opens one every 2 s)."""
    for _ in range(200):
        try:
            return await actions.record_look_back(
                cid, LookBackRequest(actor=actor, situation=situation, commitments_kept=kept)
            )
        except ActionRefused as refused:
            if "opens" not in str(refused) and "no look-back revisit is open" not in str(refused):
                raise
            await asyncio.sleep(0.3)
    raise AssertionError("the revisit never opened")


async def into_look_back(service: Service, actions: ComplaintActions, reason: str) -> tuple[str, str]:
    """A simple complaint a manager marks for look-back, resolved and followed up."""
    cid, handler = await resolve(service, actions)
    await actions.mark_for_look_back(cid, MarkLookBackRequest(actor=MANAGER, reason=reason))
    caller = await caller_of(service, cid)
    await actions.record_root_cause(cid, RootCauseRequest(actor=handler, code="pricing_error", text="x"))
    await actions.record_follow_up_call(
        cid, FollowUpCallRequest(actor=caller, reached=True, satisfaction=5, remedy_delivered=True)
    )
    return cid, handler


async def test_an_unmet_commitment_reopens_the_complaint(service: Service, actions: ComplaintActions) -> None:
    cid, handler = await into_look_back(service, actions, "Customer is a key account")
    with pytest.raises(ActionRefused, match="takes manager, senior_manager"):
        await actions.adjust_look_back(cid, AdjustLookBackRequest(actor=handler, reason="x", end=True))

    result = await record_when_open(actions, cid, handler, "Refund reversed by mistake", kept=False)

    assert result.status == "in_handling" and "reopened" in result.message
    assert (await state_of(service, cid)).snapshot.reopened_count == 1


async def test_a_long_look_back_continues_as_new_and_loses_no_signal(
    service: Service, actions: ComplaintActions, request: pytest.FixtureRequest
) -> None:
    cid, handler = await into_look_back(service, actions, "Watch for a year")
    revisits = 12  # the compressed policy continues as new every 5 revisits
    await actions.adjust_look_back(
        cid, AdjustLookBackRequest(actor=MANAGER, reason="Monthly for a year", revisits=revisits)
    )
    sent: list[str] = []
    stop = asyncio.Event()

    async def keep_noting() -> None:
        while not stop.is_set():
            note = f"call {len(sent) + 1}"
            await actions.note_customer_contact(cid, ContactNoteSignal(actor=handler, note=note))
            sent.append(note)
            await asyncio.sleep(0.25)

    noter = asyncio.create_task(keep_noting())
    try:
        for number in range(1, revisits):
            await record_when_open(actions, cid, handler, f"Month {number}: all well")
    finally:
        # The notes stop before the last revisit, which closes the complaint: a note sent to a
        # closed complaint is refused by the server ("workflow execution already completed").
        stop.set()
        await noter
    await record_when_open(actions, cid, handler, f"Month {revisits}: all well")

    final = await service.intake.handle(cid).result()
    assert final.status == Status.CLOSED and len(final.look_back.revisits) == revisits
    assert [n.note for n in final.contact_notes] == sent, "every signal survives continue-as-new"
    runs = [wf async for wf in service.client.list_workflows(f'WorkflowId="complaint-{cid}"')]
    assert len(runs) >= 3
    assert sum(r.status == WorkflowExecutionStatus.CONTINUED_AS_NEW for r in runs) == len(runs) - 1
    for run in runs:
        history = await service.client.get_workflow_handle(run.id, run_id=run.run_id).fetch_history()
        assert len(history.events) < 2000, f"run {run.run_id} has {len(history.events)} events"
    if service.backend == "sqlite":
        first = min(runs, key=lambda r: r.start_time)
        handle = service.client.get_workflow_handle(first.id, run_id=first.run_id)
        await save_history(request, handle, "look_back_continued_as_new_first_run")
        last = max(runs, key=lambda r: r.start_time)
        await save_history(
            request,
            service.client.get_workflow_handle(last.id, run_id=last.run_id),
            "look_back_continued_as_new_last_run",
        )


def _legal() -> Any:
    from models.actions import LegalEvaluationRequest

    return LegalEvaluationRequest(actor="S-LEG-001", opinion="Ambiguous clause", recommends_contract_revision=True)


def _manager() -> Any:
    from models.actions import ManagerEvaluationRequest

    return ManagerEvaluationRequest(actor="S-SM-001", opinion="Revise and compensate")

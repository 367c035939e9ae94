"""The policy's switches and limits, enforced by the workflow: each test runs a worker of its
own on a variant of the compressed policy, with the switch set otherwise than in
``policies/compressed.yaml``, and shows that what staff and customers see changes with it.

Switches whose shipped value the other tests already exercise in a way only the policy can
explain are listed in the README ("Policy switches and the tests that enforce them") and in
``tests/domain/test_policy_switches.py``, which also keeps that list complete.
"""

from __future__ import annotations

import asyncio
import time
from contextlib import AbstractAsyncContextManager
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine
from sqlmodel import Session, col, select
from temporalio.client import Client, WorkflowExecutionStatus

from activities.regulator import HttpRegulatorGateway, OutboxDirectoryGateway, RegulatorGateway
from complaints.actions import ComplaintActions, InvestigationActions
from complaints.intake import ActionRefused, ComplaintIntakeClient
from db.tables import ComplaintEventRow
from domain.policy import PolicyStore, load_policy
from models.actions import (
    ApprovalDecision,
    CustomerAnswer,
    ExtensionRequest,
    FollowUpCallRequest,
    InformationReceived,
    InformationRequest,
    LookBackRequest,
    MarkLookBackRequest,
    ProposalRequest,
    RootCauseRequest,
)
from models.clocks import Clock, ClockState
from models.complaint import ComplaintStatusQuery, Status
from models.intake import Money
from models.investigation import (
    AccountabilityRequest,
    ConcludeInvestigationRequest,
    InvestigationFindingRequest,
    ResponsibleRequest,
)
from models.policy import Accountability, Policy
from tests.conftest import COMPRESSED_POLICY, REPORT_SIGNING_KEY
from tests.factories import CATEGORY_DETAILS, intake_payload
from tests.helpers import (
    conclude_investigation,
    eventually,
    investigation_file,
    outbox,
    own_worker,
    projected,
    status_once,
)
from tests.regulator_server import RegulatorServer

MANAGER, SENIOR = "S-MGR-001", "S-SM-001"


def variant(version: str, **changes: Any) -> Policy:
    """The compressed policy with ``changes`` merged in (sections by key), validated as a file would be."""
    raw = load_policy(COMPRESSED_POLICY).model_dump(mode="json")

    def merge(into: dict[str, Any], update: dict[str, Any]) -> dict[str, Any]:
        for key, value in update.items():
            into[key] = merge(dict(into[key]), value) if isinstance(value, dict) and key in into else value
        return into

    return Policy.model_validate(merge(raw, {"version": version, **changes}))


def seconds(amount: int) -> dict[str, Any]:
    return {"amount": amount, "unit": "seconds"}


def worker_under(
    client: Client, engine: Engine, policy: Policy, gateway: RegulatorGateway | None = None
) -> AbstractAsyncContextManager[ComplaintIntakeClient]:
    """A worker of this test's own with ``policy`` in force (switching it touches no other test)."""
    return own_worker(client, engine, PolicyStore(policy), prefix="switches", gateway=gateway)


async def file_in_handling(intake: ComplaintIntakeClient, category: str = "fees_and_interest", **overrides: Any) -> str:
    cid = (await intake.file(intake_payload(category, **overrides))).complaint_id
    assert cid is not None
    await status_once(intake.handle(cid), {Status.IN_HANDLING})
    return cid


async def handler_of(intake: ComplaintIntakeClient, complaint_id: str) -> str:
    assignee = (await intake.status(complaint_id)).snapshot.assignee
    assert assignee is not None
    return assignee


def latest(state: ComplaintStatusQuery, name: str) -> Clock:
    return next(c for c in reversed(state.snapshot.clocks) if c.name == name)


def length(clock: Clock) -> float:
    return (clock.due_at - clock.started_at).total_seconds()


def events(engine: Engine, complaint_id: str, kind: str) -> list[ComplaintEventRow]:
    with Session(engine) as session:
        query = select(ComplaintEventRow).where(
            ComplaintEventRow.complaint_id == complaint_id, ComplaintEventRow.kind == kind
        )
        return list(session.exec(query.order_by(col(ComplaintEventRow.seq))).all())


async def accept_a_refund(actions: ComplaintActions, complaint_id: str, handler: str) -> str:
    """Propose a small refund, approve and accept it; the acceptance's message."""
    proposal = ProposalRequest(actor=handler, explanation="Refund of the fee.", fee_refund=Money(amount=Decimal("500")))
    await actions.propose_resolution(complaint_id, proposal)
    await actions.decide_resolution(complaint_id, ApprovalDecision(actor=MANAGER, approve=True))
    return (await actions.record_customer_answer(complaint_id, CustomerAnswer(actor=handler, accepted=True))).message


async def caller_of(intake: ComplaintIntakeClient, complaint_id: str) -> str:
    state = await status_once(intake.handle(complaint_id), {Status.FOLLOW_UP})
    assert state.snapshot.follow_up is not None and state.snapshot.follow_up.caller
    return state.snapshot.follow_up.caller


# -- regulatory_pack.acknowledgement, regulatory_pack.decision ---------------------------------------


async def test_the_acknowledgement_and_decision_limits_are_the_packs(client: Client, engine: Engine) -> None:
    # Compressed: acknowledge in 5 s, decide in 90 s, so a complaint received two days ago is
    # acknowledged late (test_complaint_workflow). Here 3 and 10 days: the same complaint is on time.
    policy = variant(
        "test-ack-decision",
        regulatory_pack={
            "acknowledgement": {"limit": {"amount": 3, "unit": "calendar_days"}},
            "decision": {"label": "Decision within 10 days", "limit": {"amount": 10, "unit": "calendar_days"}},
        },
    )
    received = datetime.now(UTC).replace(microsecond=0) - timedelta(days=2)
    async with worker_under(client, engine, policy) as intake:
        cid = await file_in_handling(intake, received_at=received.isoformat())

        state = await intake.status(cid)
        acknowledgement, decision = latest(state, "acknowledgement"), latest(state, "regulatory_decision")
        assert acknowledgement.state == ClockState.MET and acknowledgement.due_at == received + timedelta(days=3)
        assert (decision.label, decision.limit) == ("Decision within 10 days", "10 calendar days")
        assert decision.state == ClockState.RUNNING and decision.due_at == received + timedelta(days=10)
        [letter] = outbox(engine, cid, "acknowledgement")
        assert "Decision within 10 days" in letter.body and "(10 calendar days)" in letter.body
        await intake.withdraw(cid, "test finished", "test")


# -- regulatory_pack.pause_while_awaiting_customer, regulatory_pack.extensions -------------------


async def test_a_pack_that_neither_pauses_nor_extends_keeps_the_clocks_running(client: Client, engine: Engine) -> None:
    # The compressed pack pauses and has two extensions (test_handling shows both); this one, like
    # ASIC's and FCA's, has neither.
    policy = variant(
        "test-no-pause-no-extension",
        regulatory_pack={"pause_while_awaiting_customer": False, "extensions": []},
    )
    actions = ComplaintActions(client)
    async with worker_under(client, engine, policy) as intake:
        cid = await file_in_handling(intake)
        handler = await handler_of(intake, cid)
        before = latest(await intake.status(cid), "regulatory_decision")

        asked = await actions.request_customer_information(
            cid, InformationRequest(actor=handler, requested="Statement")
        )

        assert asked.message == "information requested" and asked.status == "awaiting_customer_info"
        waiting = latest(await intake.status(cid), "regulatory_decision")
        assert waiting.state == ClockState.RUNNING and waiting.paused_at is None
        [letter] = outbox(engine, cid, "information_request")
        assert "Statement" in letter.body and "paused" not in letter.body
        await asyncio.sleep(1.5)
        received = await actions.record_customer_information(cid, InformationReceived(actor=handler, note="Here"))
        assert received.message == "information received; deadlines moved by 0 s"
        after = latest(await intake.status(cid), "regulatory_decision")
        assert (after.due_at, after.paused_seconds) == (before.due_at, 0)

        with pytest.raises(ActionRefused, match="no further extension: the rule pack allows 0"):
            await actions.extend_deadline(cid, ExtensionRequest(actor=SENIOR, reason="Need more time"))
        assert latest(await intake.status(cid), "regulatory_decision").due_at == before.due_at
        await intake.withdraw(cid, "test finished", "test")


# -- tier_clocks, warning_fraction ------------------------------------------------------------------


async def test_the_tier_clock_and_its_warning_come_when_the_policy_says(client: Client, engine: Engine) -> None:
    # Compressed: 20 s to solve a simple complaint, warned at 80 % (16 s). Here 12 s, warned at 25 % (3 s).
    policy = variant(
        "test-tier-clock-warning",
        tier_clocks={"simple": {"limit": seconds(12)}},
        warning_fraction=0.25,
    )
    async with worker_under(client, engine, policy) as intake:
        cid = await file_in_handling(intake, received_at=datetime.now(UTC).isoformat())

        async def breached() -> Clock | None:
            clock = latest(await intake.status(cid), "simple_first_response")
            return clock if clock.state == ClockState.BREACHED else None

        clock = await eventually(breached, timeout=40, what="the simple tier's clock to breach")

        assert length(clock) == 12
        assert clock.warned_at is not None and clock.breached_at is not None
        warned_after = (clock.warned_at - clock.started_at).total_seconds()
        assert 3 <= warned_after < 8, f"warned {warned_after} s in: at 25 % of 12 s, not at 80 %"
        assert clock.breached_at >= clock.due_at
        await projected(engine, cid, "sla_breached")
        [warning] = [e for e in events(engine, cid, "sla_warning") if e.detail["clock"] == "simple_first_response"]
        assert warning.at < clock.started_at + timedelta(seconds=8)
        await intake.withdraw(cid, "test finished", "test")


# -- classification_rules, amount_currency, approval_matrix ---------------------------------------


async def test_classification_and_approval_follow_the_policys_rules_and_currency(
    client: Client, engine: Engine
) -> None:
    # A firm that counts in US dollars: 100 USD in dispute makes a complaint complex, and a manager
    # approves remedies of up to 1000 USD (compressed: CNY, 1,000,000 and 50,000).
    policy = variant(
        "test-usd-rules",
        amount_currency="USD",
        classification_rules=[
            {"id": "usd-100", "description": "100 USD or more", "tier": "complex", "when": {"amount_at_least": 100}},
            {"id": "everything-else", "description": "The rest", "tier": "simple", "when": {}},
        ],
        approval_matrix=[
            {"up_to": 1000, "approver_roles": ["manager", "senior_manager"]},
            {"approver_roles": ["senior_manager"]},
        ],
    )
    actions = ComplaintActions(client)
    async with worker_under(client, engine, policy) as intake:
        dollars = {**CATEGORY_DETAILS["fees_and_interest"], "amount_disputed": {"amount": "150.00", "currency": "USD"}}
        usd = await file_in_handling(intake, details=dollars)
        cny = await file_in_handling(intake)  # 8600 CNY: not counted in USD

        for cid, tier, rule in ((usd, "complex", "usd-100"), (cny, "simple", "everything-else")):
            classification = (await intake.status(cid)).snapshot.classification
            assert classification is not None
            assert (classification.tier.value, classification.rule_id) == (tier, rule)
            assert classification.policy_version == "test-usd-rules"
        await projected(engine, usd, "classified")
        [classified] = events(engine, usd, "classified")
        assert classified.detail["matched"] == "amount 150.00 USD >= 100"

        handler = await handler_of(intake, cny)
        proposal = ProposalRequest(
            actor=handler, explanation="Refund and goodwill.", fee_refund=Money(amount=Decimal("1500"), currency="USD")
        )
        proposed = await actions.propose_resolution(cny, proposal)
        assert proposed.message == "resolution 1 proposed; needs approval by senior_manager"
        with pytest.raises(ActionRefused, match="to decide on remedies of 1500 USD takes senior_manager"):
            await actions.decide_resolution(cny, ApprovalDecision(actor=MANAGER, approve=True))
        approved = await actions.decide_resolution(cny, ApprovalDecision(actor=SENIOR, approve=True))
        assert approved.status == "awaiting_customer_answer"
        for cid in (usd, cny):
            await intake.withdraw(cid, "test finished", "test")


# -- follow_up.due, .retry_after, .max_attempts, .satisfaction_threshold; root_causes ---------------


async def test_the_follow_up_call_runs_on_the_policys_window_attempts_and_threshold(
    client: Client, engine: Engine
) -> None:
    # Compressed: 30 s for the call, a retry 2 s after, a letter after 3 attempts, reopened below 3,
    # nine root causes. Here: 45 s, 7 s, 2 attempts, below 5, and one root cause of the firm's own.
    policy = variant(
        "test-follow-up",
        follow_up={
            "due": {"simple": seconds(45), "complex": seconds(45), "major": seconds(45)},
            "retry_after": seconds(7),
            "max_attempts": 2,
            "satisfaction_threshold": 5,
        },
        root_causes=[{"code": "gremlins", "label": "Gremlins in the fee engine"}],
    )
    actions = ComplaintActions(client)
    async with worker_under(client, engine, policy) as intake:
        cid = await file_in_handling(intake)
        handler = await handler_of(intake, cid)
        await accept_a_refund(actions, cid, handler)
        caller = await caller_of(intake, cid)
        assert length(latest(await intake.status(cid), "follow_up")) == 45

        # Satisfaction 4 passes the compressed threshold of 3; this policy's is 5.
        call = FollowUpCallRequest(actor=caller, reached=True, satisfaction=4, remedy_delivered=True)
        reopened = await actions.record_follow_up_call(cid, call)
        assert (reopened.status, reopened.message) == ("in_handling", "complaint reopened (satisfaction 4 below 5)")

        await accept_a_refund(actions, cid, handler)
        caller = await caller_of(intake, cid)
        with pytest.raises(ActionRefused, match="unknown root cause 'pricing_error'; the policy lists gremlins"):
            await actions.record_root_cause(cid, RootCauseRequest(actor=handler, code="pricing_error", text="x"))
        await actions.record_root_cause(cid, RootCauseRequest(actor=handler, code="gremlins", text="Fee engine"))

        first = await actions.record_follow_up_call(cid, FollowUpCallRequest(actor=caller, reached=False))
        assert first.message.startswith("customer not reached (attempt 1); next try due")
        retry = latest(await intake.status(cid), "follow_up")
        assert retry.state == ClockState.RUNNING and length(retry) == 7
        second = await actions.record_follow_up_call(cid, FollowUpCallRequest(actor=caller, reached=False))

        assert (second.status, second.message) == ("closed", "customer not reached after 2 calls; letter sent")
        assert len(outbox(engine, cid, "follow_up_letter")) == 1
        final = await intake.handle(cid).result()
        assert final.closure is not None
        assert (final.closure.outcome, final.closure.root_cause, final.closure.reopened) == ("letter", "gremlins", 1)


# -- look_back.interval, .window, .revisits, .revisits_per_run --------------------------------------


async def record_revisit(actions: ComplaintActions, cid: str, actor: str, situation: str) -> Any:
    """Record the next revisit as soon as it opens."""
    for _ in range(200):
        try:
            return await actions.record_look_back(
                cid, LookBackRequest(actor=actor, situation=situation, commitments_kept=True)
            )
        except ActionRefused as refused:
            if "opens" not in str(refused) and "no look-back revisit is open" not in str(refused):
                raise
            await asyncio.sleep(0.3)
    raise AssertionError("the revisit never opened")


async def test_look_back_revisits_follow_the_policys_schedule(client: Client, engine: Engine) -> None:
    # Compressed: three revisits 2 s apart, 30 s each, a new run every 5. Here: two, 3 s apart,
    # 20 s each, a new run after every revisit.
    policy = variant(
        "test-look-back",
        look_back={"interval": seconds(3), "revisits": 2, "window": seconds(20), "revisits_per_run": 1},
    )
    actions = ComplaintActions(client)
    async with worker_under(client, engine, policy) as intake:
        cid = await file_in_handling(intake)
        handler = await handler_of(intake, cid)
        await actions.mark_for_look_back(cid, MarkLookBackRequest(actor=MANAGER, reason="Key account"))
        await accept_a_refund(actions, cid, handler)
        caller = await caller_of(intake, cid)
        await actions.record_root_cause(cid, RootCauseRequest(actor=handler, code="pricing_error", text="x"))
        satisfied = FollowUpCallRequest(actor=caller, reached=True, satisfaction=5, remedy_delivered=True)
        assert (await actions.record_follow_up_call(cid, satisfied)).status == "look_back"

        state = await intake.status(cid)
        resolved_at = state.snapshot.resolved_at
        assert resolved_at is not None and state.snapshot.look_back is not None
        assert state.snapshot.look_back.planned == 2
        first = latest(state, "look_back_1")
        assert (first.started_at - resolved_at, length(first)) == (timedelta(seconds=3), 20)

        one = await record_revisit(actions, cid, handler, "Refund arrived")
        assert one.message == "revisit 1 recorded; next revisit planned"
        second = latest(await intake.status(cid), "look_back_2")
        assert (second.started_at - resolved_at, length(second)) == (timedelta(seconds=6), 20)
        two = await record_revisit(actions, cid, handler, "All well")

        assert two.message == "revisit 2 recorded; look-back complete" and two.status == "closed"
        final = await intake.handle(cid).result()
        assert final.status == Status.CLOSED and final.look_back is not None and len(final.look_back.revisits) == 2
        runs = [wf async for wf in client.list_workflows(f'WorkflowId="complaint-{cid}"')]
        assert sum(r.status == WorkflowExecutionStatus.CONTINUED_AS_NEW for r in runs) == 1, "a new run per revisit"


# -- investigation.due, .accountability_deciders, .evidence_required; regulator_reporting.due,
#    .default_regulator ------------------------------------------------------------------------------


async def test_the_investigation_and_its_report_follow_the_policy(
    client: Client, engine: Engine, tmp_path: Path
) -> None:
    # Compressed: 15 s to conclude, a warning decided by a senior manager, evidence required, a
    # report due in 20 s to NFRA. Here: 40 s, compliance may decide a warning, no evidence
    # needed, and a report due in 50 s to CSRC.
    policy = variant(
        "test-investigation",
        investigation={
            "due": seconds(40),
            "accountability_deciders": {"warning": ["compliance"]},
            "evidence_required": False,
        },
        regulator_reporting={"due": seconds(50), "default_regulator": "CSRC"},
    )
    investigations = InvestigationActions(client)
    async with worker_under(client, engine, policy, OutboxDirectoryGateway(tmp_path, REPORT_SIGNING_KEY)) as intake:
        cid = await file_in_handling(intake, "privacy", staff_misconduct_alleged=True)
        file = await investigation_file(client, cid)
        assert file.clock is not None and length(file.clock) == 40
        lead = file.lead
        assert lead is not None

        await investigations.record_finding(cid, InvestigationFindingRequest(actor=lead, summary="Data was shared"))
        await investigations.name_responsible(
            # Someone who handles no complaints, so the warning flags no other test's complaint.
            cid,
            ResponsibleRequest(actor=lead, staff_ids=["S-FIN-001"], reason="The call log shows it"),
        )
        decided = await investigations.decide_accountability(
            cid, AccountabilityRequest(actor=lead, decision=Accountability.WARNING, reason="First offence")
        )
        assert decided.message == "accountability: warning"
        concluded = await investigations.conclude(
            cid, ConcludeInvestigationRequest(actor=lead, summary="Shared without consent", suspected_illegal=True)
        )
        assert concluded.message.startswith("investigation concluded: accountability warning")
        assert (await investigations.status(cid)).file.evidence == [], "concluded without any evidence"

        async def reported() -> ComplaintStatusQuery | None:
            state = await intake.status(cid)
            return state if state.snapshot.regulator_reports else None

        state = await eventually(reported, what="the report on suspected illegal conduct")
        [thread] = state.snapshot.regulator_reports
        assert (thread.regulator, thread.reason) == ("CSRC", "suspected_illegal_conduct")
        assert length(latest(state, "regulator_report_CSRC")) == 50
        await intake.withdraw(cid, "test finished", "test")
        await intake.handle(cid).result()


# -- regulator_reporting.retry_window_fraction --------------------------------------------------------


async def test_a_failing_report_alerts_compliance_after_the_policys_share_of_the_time(
    client: Client, engine: Engine
) -> None:
    # Due in 200 s, retried for a tenth of that (20 s) before compliance hears; at the compressed
    # policy's half it would be 100 s.
    policy = variant("test-retry-window", regulator_reporting={"due": seconds(200), "retry_window_fraction": 0.1})
    with RegulatorServer() as server:
        server.down.set()
        async with worker_under(client, engine, policy, HttpRegulatorGateway(server.url, timeout_seconds=5)) as intake:
            payload = intake_payload("contract_dispute", regulators=["NFRA"], channel="regulator_referral")
            cid = (await intake.file(payload)).complaint_id
            assert cid is not None
            started = time.monotonic()
            await projected(engine, cid, "regulator_report_escalated", timeout=60)
            assert time.monotonic() - started < 60
            [due] = events(engine, cid, "regulator_report_due")
            [escalated] = events(engine, cid, "regulator_report_escalated")
            retried = (escalated.at - due.at).total_seconds()
            # Retries back off 1, 2, 4, 8 s: the last that fits the 20 s window starts at 15 s. With the
            # 10 s floor the alert would come at 7 s; at half the time, after a minute and a half.
            assert 11 <= retried <= 25, f"compliance alerted after {retried} s of retrying, not within 20 s"

            server.down.clear()

            async def filed() -> ComplaintStatusQuery | None:
                state = await intake.status(cid)
                return state if all(t.state == "acknowledged" for t in state.snapshot.regulator_reports) else None

            await eventually(filed, timeout=90, what="the report to be filed once the regulator is back")
            await intake.withdraw(cid, "test finished", "test")
            await conclude_investigation(client, cid)
            await intake.handle(cid).result()


# -- approval_matrix and amount_currency: a remedy in another currency -------------------------------


async def test_a_remedy_in_another_currency_does_not_slip_under_the_approval_matrix(
    client: Client, engine: Engine
) -> None:
    """The matrix converts nothing: a remedy in euros would count as 0 and need only a manager."""
    policy = variant("test-foreign-remedy")  # CNY; above 50,000 only a senior manager approves
    actions = ComplaintActions(client)
    async with worker_under(client, engine, policy) as intake:
        cid = await file_in_handling(intake)
        handler = await handler_of(intake, cid)
        large = Money(amount=Decimal("10000000"), currency="EUR")
        try:
            with pytest.raises(ActionRefused, match=r"compensation\.currency: EUR is not the policy's currency"):
                await actions.propose_resolution(
                    cid, ProposalRequest(actor=handler, explanation="Compensation.", compensation=large)
                )
            state = (await intake.status(cid)).snapshot
            assert state.status == Status.IN_HANDLING and state.proposals == []
        finally:
            await intake.withdraw(cid, "test finished", "test")

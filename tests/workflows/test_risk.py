"""Risk early warnings through the real server (step 5): a feed that pushes a customer over the
threshold opens one case, a second signal joins it, it is acknowledged, acted on and closed with
an outcome by the staff who may, and the next crossing opens a new case; an unacknowledged case
breaches and the workers' managers are told; a filed complaint re-scores its customer, and
complaints alone (no feed) open a case from the worker, listed by its search attributes.

The worker is this module's own (its policy's acknowledge clock is a few seconds); customers are
the test's own (``C-EW-<token>``), so the other backend's run meets none of its workflows.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import pytest_asyncio
from sqlalchemy import Engine
from sqlmodel import Session, col, select
from temporalio.client import Client, WorkflowExecutionStatus

from complaints.intake import ActionRefused, ComplaintIntakeClient
from complaints.loan_book import LoanBookClient, SubmitOutcome
from complaints.risk import act_on_warning, warning_state
from db.risk_queries import latest_warning, stored_signals, warnings
from db.tables import Complaint, OutboxMessage, RiskWarningRow
from domain.policy import PolicyStore
from domain.risk import workflow_id
from models import search_attributes as sa
from models.policy import Policy
from models.risk import WarningAction, WarningOutcome
from tests.factories import CATEGORY_DETAILS, intake_payload
from tests.helpers import eventually, own_worker, save_history
from tests.workflows.test_policy_switches import seconds, variant

POLICY = variant(f"risk-{uuid.uuid4().hex[:6]}", risk={"acknowledge": seconds(3), "act": seconds(6)})


class Risk:
    def __init__(self, client: Client, engine: Engine, intake: ComplaintIntakeClient, policy: Policy) -> None:
        self.client, self.engine, self.policy = client, engine, policy
        self.task_queue = intake.task_queue
        self.book = LoanBookClient(engine, client, self.task_queue, policy)
        self.intake = ComplaintIntakeClient(client, self.task_queue, policy, engine=engine)


@pytest_asyncio.fixture(loop_scope="session")
async def risk(client: Client, engine: Engine) -> AsyncIterator[Risk]:
    async with own_worker(client, engine, PolicyStore(POLICY), prefix="risk") as intake:
        yield Risk(client, engine, intake, POLICY)


def customer() -> str:
    return f"C-EW-{uuid.uuid4().hex[:8]}"


def at(days_ago: float) -> str:
    return (datetime.now(UTC) - timedelta(days=days_ago)).isoformat()


def signal(customer_id: str, kind: str, days_ago: float = 1, **figures: Any) -> dict[str, Any]:
    return {
        "source_system": "CORE-LOANS",
        "source_record_id": f"{customer_id}-{uuid.uuid4().hex[:6]}",
        "customer_id": customer_id,
        "observed_at": at(days_ago),
        "kind": kind,
        **figures,
    }


async def case_row(engine: Engine, customer_id: str, **expected: Any) -> RiskWarningRow:
    """The customer's case once its row shows ``expected``."""

    async def probe() -> RiskWarningRow | None:
        row = latest_warning(engine, customer_id)
        if row is None or any(getattr(row, k) != v for k, v in expected.items()):
            return None
        return row

    return await eventually(probe, timeout=30, what=f"{customer_id}'s warning with {expected}")


def action(customer_id: str, actor: str, note: str = "looked at it", **more: Any) -> WarningAction:
    return WarningAction(customer_id=customer_id, actor=actor, note=note, **more)


async def test_a_crossing_opens_one_warning_a_second_signal_joins_it_and_it_closes_with_an_outcome(
    request: pytest.FixtureRequest, risk: Risk
) -> None:
    c = customer()
    result = await risk.book.submit(
        [signal(c, "days_past_due", days=31, contract_number="PF-1"), signal(c, "covenant_breach", covenant="DSCR")]
    )
    assert result.outcome == SubmitOutcome.STORED and result.stored == 2
    assert [(e.points, e.warning) for e in result.evaluated] == [(55, "opened_or_joined")]
    row = await case_row(risk.engine, c, points=55, signals=1)
    assert [f["rule"] for f in row.fired] == ["days_past_due", "covenant_breach"]
    assert row.acknowledge_due is not None and row.act_due is not None
    handle = risk.client.get_workflow_handle(workflow_id(c))
    described = await handle.describe()
    assert described.typed_search_attributes.get(sa.RISK_WARNING) == "open"
    assert described.typed_search_attributes.get(sa.CUSTOMER_ID) == c

    second = await risk.book.submit([signal(c, "rating_change", from_rating="BBB", to_rating="BB+")])
    assert [(e.points, e.warning) for e in second.evaluated] == [(75, "opened_or_joined")]
    row = await case_row(risk.engine, c, points=75, signals=2)
    assert len(warnings(risk.engine, customer_id=c)) == 1, "the second signal joins the open case"
    state = await warning_state(risk.client, c)
    assert state is not None and state.history[0].kind == "opened" and "signal" in {e.kind for e in state.history}

    with pytest.raises(ActionRefused, match="S-HND-001 may not acknowledge this early warning: the case's workers"):
        await act_on_warning(risk.client, "acknowledge", action(c, "S-HND-001"))
    done = await act_on_warning(risk.client, "acknowledge", action(c, "S-RM-007", "calling the CFO today"))
    assert done.status == "acknowledged"
    with pytest.raises(ActionRefused, match="already acknowledged"):
        await act_on_warning(risk.client, "acknowledge", action(c, "S-CMP-001"))
    done = await act_on_warning(risk.client, "act", action(c, "S-CMP-001", "limit frozen; restructuring talks"))
    assert done.status == "acting"
    with pytest.raises(ActionRefused, match="closing needs an outcome"):
        await act_on_warning(risk.client, "close", action(c, "S-CMP-002"))
    with pytest.raises(ActionRefused, match="S-FIN-001 may not close"):
        await act_on_warning(risk.client, "close", action(c, "S-FIN-001", outcome=WarningOutcome.MONITORED))
    done = await act_on_warning(
        risk.client, "close", action(c, "S-MGR-002", "monthly review for 6 months", outcome=WarningOutcome.RESTRUCTURED)
    )
    assert done.status == "closed"
    row = await case_row(risk.engine, c, status="closed")
    assert (row.outcome, row.closed_by, row.acknowledged_by, row.acted_by) == (
        "restructured",
        "S-MGR-002",
        "S-RM-007",
        "S-CMP-001",
    )
    assert (await handle.describe()).status == WorkflowExecutionStatus.COMPLETED
    assert (await handle.describe()).typed_search_attributes.get(sa.RISK_WARNING) == "closed"
    await save_history(request, handle, "early_warning_closed")

    third = await risk.book.submit([signal(c, "restructuring")])
    assert [(e.points, e.warning) for e in third.evaluated] == [(95, "opened_or_joined")]
    reopened = await case_row(risk.engine, c, status="open")
    assert reopened.workflow_run_id != row.workflow_run_id and len(warnings(risk.engine, customer_id=c)) == 2
    await act_on_warning(risk.client, "close", action(c, "S-CMP-001", "duplicate", outcome=WarningOutcome.NO_ACTION))


async def test_an_unacknowledged_warning_breaches_and_the_managers_are_told(risk: Risk) -> None:
    c = customer()
    await risk.book.submit([signal(c, "days_past_due", days=95)])
    row = await case_row(risk.engine, c, breached=True)
    assert row.acknowledge_due is not None and row.act_due is not None
    assert (row.acknowledge_due - row.opened_at, row.act_due - row.opened_at) == (
        timedelta(seconds=3),
        timedelta(seconds=6),
    )

    async def both() -> RiskWarningRow | None:
        found = latest_warning(risk.engine, c)
        kinds = [e["kind"] for e in found.history] if found else []
        return found if {"acknowledge_breached", "act_breached"} <= set(kinds) else None

    row = await eventually(both, what=f"{c}'s acknowledge and act clocks breached")
    with Session(risk.engine) as session:
        sent = session.exec(
            select(OutboxMessage)
            .where(col(OutboxMessage.idempotency_key).startswith(f"risk:{row.workflow_run_id}:"))
            .order_by(col(OutboxMessage.id))
        ).all()
    opened = {m.recipient for m in sent if m.kind == "risk_warning_opened"}
    breached = {m.recipient for m in sent if m.kind == "risk_warning_breached"}
    assert opened == {"S-CMP-001", "S-CMP-002", "S-RM-007"}
    assert {"S-MGR-002", "S-SM-001"} <= breached
    await act_on_warning(risk.client, "close", action(c, "S-RM-007", "paid up", outcome=WarningOutcome.MONITORED))


async def test_a_customer_under_the_threshold_has_no_case(risk: Risk) -> None:
    c = customer()
    result = await risk.book.submit([signal(c, "days_past_due", days=31)])
    assert [(e.points, e.warning) for e in result.evaluated] == [(30, "none")]
    assert latest_warning(risk.engine, c) is None
    assert await warning_state(risk.client, c) is None


async def test_a_filed_complaint_rescores_its_customer_and_can_open_the_case(risk: Risk) -> None:
    c = customer()
    await risk.book.submit([signal(c, "covenant_breach"), signal(c, "restructuring")])  # 45: under
    assert latest_warning(risk.engine, c) is None
    payload = intake_payload("fees_and_interest", channel="regulator_referral", regulators=["NFRA"])
    payload["customer"]["customer_id"] = c
    filed = await risk.intake.file(payload)
    assert filed.outcome == "filed"
    row = await case_row(risk.engine, c, points=55)
    assert {f["rule"] for f in row.fired} == {"covenant_breach", "restructuring", "regulator_involved"}
    await act_on_warning(risk.client, "close", action(c, "S-CMP-002", "watching", outcome=WarningOutcome.MONITORED))


async def test_a_bad_feed_is_refused_by_name_and_nothing_is_written(risk: Risk) -> None:
    c = customer()
    result = await risk.book.submit(
        [
            signal(c, "days_past_due", days=120),
            signal(c, "drawdown_refused", amount="1,000"),
            signal(c, "rating_change", from_rating="A"),
        ]
    )
    assert result.outcome == SubmitOutcome.REFUSED and result.evaluated == []
    assert result.errors == [
        "row 2: amount: write the amount in plain decimal notation, e.g. 8600.00 "
        "(no exponent, underscores or thousands separators)",
        "row 3: to_rating: Field required",
    ]
    assert stored_signals(risk.engine, c) == [] and latest_warning(risk.engine, c) is None
    assert await warning_state(risk.client, c) is None


async def test_complaints_alone_open_a_warning_from_the_worker_once_and_the_web_ui_lists_it(risk: Risk) -> None:
    # Filed as every shipped intake path files (starter.py, the demo, examples/): no database given.
    intake = ComplaintIntakeClient(risk.client, risk.task_queue, risk.policy)
    c = customer()

    async def file(category: str, **overrides: Any) -> str:
        payload = intake_payload(category, received_at=datetime.now(UTC).isoformat(), **overrides)
        payload["customer"]["customer_id"] = c
        filed = await intake.file(payload)
        assert filed.complaint_id is not None, filed.errors
        return filed.complaint_id

    async def projected(complaint_id: str, status: str) -> None:
        """``status`` in the database (``acknowledged``: past intake, whatever came next)."""

        async def probe() -> bool:
            with Session(risk.engine) as session:
                row = session.get(Complaint, complaint_id)
            if row is None or row.acknowledged_at is None:
                return False
            return status == "acknowledged" or row.status == status

        await eventually(probe, what=f"{complaint_id} {status} in the database")

    referred = await file("repayment_collection", channel="regulator_referral", regulators=["NFRA"])
    large = dict(CATEGORY_DETAILS["fees_and_interest"], amount_disputed={"amount": "1200000.00"})
    disputed = await file("fees_and_interest", details=large)
    await projected(disputed, "acknowledged")
    await intake.withdraw(disputed, "settled with the branch", "call-centre")
    await projected(disputed, "withdrawn")
    assert latest_warning(risk.engine, c) is None, "45 points: repeat, repayment, amount, regulator"
    assert await warning_state(risk.client, c) is None

    again = await file("fees_and_interest")  # the withdrawn complaint, filed again
    row = await case_row(risk.engine, c, points=55)
    assert {f["rule"]: f["points"] for f in row.fired} == {
        "repeat_complaints": 15,
        "repayment_collection_complaint": 10,
        "amount_in_dispute": 10,
        "refiled_after_withdrawal": 10,
        "regulator_involved": 10,
    }
    why = {f["rule"]: f["why"] for f in row.fired}
    assert why["amount_in_dispute"] == (
        f"1,208,600.00 CNY in dispute in 2 complaint(s) in the last 365 days ({disputed} 1,200,000.00; "
        f"{again} 8,600.00), at least 1,000,000.00"
    )
    assert why["refiled_after_withdrawal"] == f"{disputed} withdrawn, {again} filed again (fees_and_interest)"
    assert referred in why["regulator_involved"]

    async def listed() -> int:
        query = f'RiskWarningStatus="open" AND ComplaintCustomerId="{c}"'
        return (await risk.client.count_workflows(query)).count

    assert await eventually(listed, what=f"{c}'s open warning in the visibility store") == 1
    found = [w.id async for w in risk.client.list_workflows(f'RiskWarningStatus="open" AND ComplaintCustomerId="{c}"')]
    assert found == [workflow_id(c)]

    # An event that changes nothing (the refiled complaint withdrawn: still 55 points) adds nothing.
    await projected(again, "acknowledged")
    await intake.withdraw(again, "no longer needed", "call-centre")
    await projected(again, "withdrawn")
    await asyncio.sleep(2)
    state = await warning_state(risk.client, c)
    assert state is not None and [e.kind for e in state.history] == ["opened"], "one warning, joined by no echo"
    assert len(warnings(risk.engine, customer_id=c)) == 1
    await act_on_warning(risk.client, "close", action(c, "S-RM-007", "met them", outcome=WarningOutcome.MONITORED))

"""A customer's risk early warning (client plumbing; step 5).

``evaluate`` scores a customer from the database (``db/risk_queries.py``, ``domain/risk.py``);
over the threshold, ``raise_warning`` opens the customer's case or joins the open one with one
call, signal-with-start on ``early-warning-<customer_id>``: the server starts the workflow if
none is running and delivers the ``add_signal`` either way. Under the threshold, a customer's
open case still hears of the new score (a plain signal), so its score stays current.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Engine
from temporalio.client import Client, WorkflowUpdateFailedError
from temporalio.common import (
    SearchAttributePair,
    TypedSearchAttributes,
    WorkflowIDConflictPolicy,
    WorkflowIDReusePolicy,
)
from temporalio.service import RPCError, RPCStatusCode

from complaints.intake import ActionRefused
from complaints.keys import KeyFileSigner, Signer
from db.risk_queries import customer_figures, latest_warning
from domain import risk
from models import search_attributes as sa
from models.intake import ComplaintIntake
from models.loan_book import MAX_CLOCK_SKEW_SECONDS
from models.policy import Policy
from models.risk import (
    ComplaintSignal,
    RiskScore,
    WarningAction,
    WarningActionResult,
    WarningStart,
    WarningState,
    WarningStatus,
)
from workflows.step5_risk import EarlyWarningWorkflow


class WarningNotFound(LookupError):
    """No open early-warning case for the customer."""


@dataclass
class Evaluation:
    score: RiskScore
    warning: str  # opened_or_joined (over the threshold), joined (an open case hears), none


def evaluate(
    engine: Engine,
    customer_id: str,
    policy: Policy,
    as_of: datetime | None = None,
    filed: ComplaintIntake | None = None,
) -> RiskScore:
    """The customer's score now (or at ``as_of``), every fired rule with its figures.

    ``filed``: a complaint just filed, counted even before the projection writes its row."""
    # Now, with the clock skew a signal may be observed ahead of us (so a signal just taken counts).
    as_of = as_of or datetime.now(UTC) + timedelta(seconds=MAX_CLOCK_SKEW_SECONDS)
    figures = customer_figures(engine, customer_id, as_of, policy.risk)
    if filed is not None and filed.complaint_id not in {c.complaint_id for c in figures.complaints}:
        figures.complaints.append(complaint_signal_of(filed))
    return risk.score(figures, policy.risk)


def complaint_signal_of(intake: ComplaintIntake) -> ComplaintSignal:
    """A complaint as the rules read it, from its intake: a regulator it names counts as involved."""
    return ComplaintSignal(
        complaint_id=intake.complaint_id,
        category=intake.category.value,
        channel=intake.channel.value,
        status="received",
        received_at=intake.received_at,
        regulator_report=bool(intake.regulators),
    )


async def raise_warning(client: Client, task_queue: str, score: RiskScore) -> str:
    """Open the customer's case, or join the open one (signal-with-start); its workflow id."""
    workflow_id = risk.workflow_id(score.customer_id)
    await client.start_workflow(
        EarlyWarningWorkflow.run,
        WarningStart(customer_id=score.customer_id),
        id=workflow_id,
        task_queue=task_queue,
        id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
        id_reuse_policy=WorkflowIDReusePolicy.ALLOW_DUPLICATE,  # a closed case: the next crossing opens a new one
        start_signal="add_signal",
        start_signal_args=[score],
        search_attributes=TypedSearchAttributes(
            [
                SearchAttributePair(sa.RISK_WARNING, WarningStatus.OPEN.value),
                SearchAttributePair(sa.CUSTOMER_ID, score.customer_id),
            ]
        ),
        static_summary=f"Early warning for customer {score.customer_id}",
    )
    return workflow_id


async def evaluate_and_warn(
    client: Client,
    task_queue: str,
    engine: Engine,
    customer_id: str,
    policy: Policy,
    filed: ComplaintIntake | None = None,
) -> Evaluation:
    """Score the customer; over the threshold open or join their case, else tell an open case."""
    score = evaluate(engine, customer_id, policy, filed=filed)
    if score.crossed:
        await raise_warning(client, task_queue, score)
        return Evaluation(score, "opened_or_joined")
    row = latest_warning(engine, customer_id)
    if row is not None and row.status != WarningStatus.CLOSED:
        handle = client.get_workflow_handle_for(EarlyWarningWorkflow.run, risk.workflow_id(customer_id))
        try:
            await handle.signal(EarlyWarningWorkflow.add_signal, score)
            return Evaluation(score, "joined")
        except RPCError as err:
            if err.status != RPCStatusCode.NOT_FOUND:
                raise
    return Evaluation(score, "none")


def same_score(a: RiskScore, b: RiskScore) -> bool:
    """The same points for the same rules and figures (whenever each was taken)."""
    return (a.points, a.threshold, a.fired) == (b.points, b.threshold, b.fired)


async def warn_on_news(client: Client, task_queue: str, score: RiskScore) -> str:
    """From a complaint's path (``activities/prevention.py``): open or join the customer's case
    only when the score is news to it, so an event that changes nothing adds nothing.

    The case's own state is asked (its last run's, if closed): the same score as it holds is
    ``unchanged``; over the threshold the case is opened or joined (signal-with-start, as a feed
    does); under it, an open case hears the new score (``joined``); else ``none``."""
    state = await warning_state(client, score.customer_id)
    if state is not None and state.score is not None and same_score(state.score, score):
        return "unchanged"
    if score.crossed:
        await raise_warning(client, task_queue, score)
        return "opened_or_joined"
    if state is not None and state.status != WarningStatus.CLOSED:
        handle = client.get_workflow_handle_for(EarlyWarningWorkflow.run, risk.workflow_id(score.customer_id))
        try:
            await handle.signal(EarlyWarningWorkflow.add_signal, score)
            return "joined"
        except RPCError as err:
            if err.status != RPCStatusCode.NOT_FOUND:
                raise
    return "none"


async def warning_state(client: Client, customer_id: str) -> WarningState | None:
    """The customer's running case as its workflow holds it; None when none is running."""
    handle = client.get_workflow_handle_for(EarlyWarningWorkflow.run, risk.workflow_id(customer_id))
    try:
        return await handle.query(EarlyWarningWorkflow.status)
    except RPCError as err:
        if err.status == RPCStatusCode.NOT_FOUND:
            return None
        raise


async def act_on_warning(
    client: Client, action: str, request: WarningAction, signer: Signer[Any] | None = None
) -> WarningActionResult:
    """``acknowledge``, ``act`` or ``close`` the customer's open case; a refusal raises ActionRefused.

    Signed on the way with the actor's key (``KeyFileSigner``, or ``signer``)."""
    updates = {
        "acknowledge": EarlyWarningWorkflow.acknowledge,
        "act": EarlyWarningWorkflow.act,
        "close": EarlyWarningWorkflow.close,
    }
    handle = client.get_workflow_handle_for(EarlyWarningWorkflow.run, risk.workflow_id(request.customer_id))
    signed = (signer or KeyFileSigner())(handle.id, action, request)  # the update's name
    try:
        return await handle.execute_update(updates[action], signed, id=str(uuid.uuid4()))
    except WorkflowUpdateFailedError as err:
        cause = getattr(err.cause, "message", None) or str(err.cause)
        raise ActionRefused(f"{action} refused: {cause}") from err
    except RPCError as err:
        if err.status == RPCStatusCode.NOT_FOUND or "completed" in err.message:
            raise WarningNotFound(f"no open early warning for customer {request.customer_id}") from err
        raise

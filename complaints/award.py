"""Running the quarterly Service Quality Award on demand, and deciding it (client plumbing)."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import Engine
from sqlmodel import Session
from temporalio.client import Client, WorkflowHandle, WorkflowUpdateFailedError
from temporalio.common import WorkflowIDConflictPolicy, WorkflowIDReusePolicy
from temporalio.exceptions import WorkflowAlreadyStartedError
from temporalio.service import RPCError, RPCStatusCode

from complaints.intake import ActionRefused, ComplaintNotFound
from complaints.keys import KeyFileSigner, Signer
from db.tables import AwardRow
from models.analysis import Period
from models.award import AwardDecision, AwardOutcome, AwardProposal, AwardRequest
from workflows.step4_award import AwardWorkflow


async def start_award(
    client: Client, task_queue: str, quarter: Period, timezone: str, requested_by: str, workflow_id: str | None = None
) -> WorkflowHandle[AwardWorkflow, AwardOutcome]:
    """Start (or find, while it runs) the award workflow of ``quarter``; it proposes, then waits
    for a decision. Once it has finished, the quarter's award is decided: ActionRefused says so."""
    workflow_id = workflow_id or f"award-{quarter.label}"
    try:
        return await _start(client, task_queue, quarter, timezone, requested_by, workflow_id)
    except WorkflowAlreadyStartedError as err:
        raise ActionRefused(
            f"the award for {quarter.label} has run ({workflow_id}): see `complaints award show`"
        ) from err


async def _start(
    client: Client, task_queue: str, quarter: Period, timezone: str, requested_by: str, workflow_id: str
) -> WorkflowHandle[AwardWorkflow, AwardOutcome]:
    return await client.start_workflow(
        AwardWorkflow.run,
        AwardRequest(quarter=quarter, timezone=timezone, requested_by=requested_by),
        id=workflow_id,
        task_queue=task_queue,
        id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
        # A run that ended undecided (terminated, timed out) may be started again; a decided one not.
        id_reuse_policy=WorkflowIDReusePolicy.ALLOW_DUPLICATE_FAILED_ONLY,
        static_summary=f"Service Quality Award {quarter.label}, asked for by {requested_by}",
    )


def award_row(engine: Engine, quarter: str) -> AwardRow | None:
    with Session(engine) as session:
        return session.get(AwardRow, quarter)


async def proposal(client: Client, engine: Engine, quarter: str) -> AwardProposal:
    """The quarter's proposal, from the workflow that holds it."""
    row = award_row(engine, quarter)
    if row is None:
        raise ComplaintNotFound(f"no award for {quarter} yet (`complaints award run --quarter {quarter}`)")
    answer = await client.get_workflow_handle(row.workflow_id).query(AwardWorkflow.proposal)
    if answer is None:
        raise ComplaintNotFound(f"the award for {quarter} is still being ranked")
    return answer


async def decide(
    client: Client, engine: Engine, quarter: str, decision: AwardDecision, signer: Signer[Any] | None = None
) -> AwardOutcome:
    """A senior manager's decision; refused (ActionRefused) with the workflow's reason.

    Signed on the way with the actor's key (``KeyFileSigner``, or ``signer``) for the award's
    workflow and the action ``decide`` (issue 16)."""
    row = award_row(engine, quarter)
    if row is None:
        raise ComplaintNotFound(f"no award for {quarter} yet (`complaints award run --quarter {quarter}`)")
    handle = client.get_workflow_handle(row.workflow_id)
    signed = (signer or KeyFileSigner())(handle.id, "decide", decision)  # the update's name
    try:
        return await handle.execute_update(AwardWorkflow.decide, signed, id=str(uuid.uuid4()))
    except WorkflowUpdateFailedError as err:
        cause = err.cause
        raise ActionRefused(f"award {quarter}: {getattr(cause, 'message', cause)}") from err
    except RPCError as err:
        if err.status == RPCStatusCode.NOT_FOUND:
            raise ActionRefused(f"the award for {quarter} is already closed") from err
        raise

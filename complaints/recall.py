"""Product recalls (step 6.2), client plumbing: declare one, read its progress, record a
customer's remediation done (one, or a file of confirmations from another system), record the
revision that ends it.

The declaration is checked here before anything starts (the declarer's role from the staff
directory, the product in the policy's catalogue, no open recall of the product) and again by
the workflow, which a client that skips these checks cannot avoid: the declaration is signed
by its declarer (issue 16; action ``declare_recall``), the workflow checks that signature and the
declarer's role before it records anything, and the update ``admission``, sent with the start,
reports a refusal. The workflow id ``recall-<product>`` keeps one open recall per product even
when two declarations race; a refused declaration's workflow has ended, so the next one starts.

Every staff action (the declaration, ``record_revision``, ``complete``) is signed on the way with
its actor's key (``KeyFileSigner``, or the ``signer`` given: the CLI's).
"""

from __future__ import annotations

import asyncio
import csv
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Engine
from sqlmodel import Session
from temporalio.client import Client, WithStartWorkflowOperation, WorkflowUpdateFailedError
from temporalio.common import WorkflowIDConflictPolicy, WorkflowIDReusePolicy
from temporalio.exceptions import WorkflowAlreadyStartedError
from temporalio.service import RPCError, RPCStatusCode

from complaints.intake import ActionRefused, ComplaintNotFound
from complaints.keys import KeyFileSigner, Signer
from db import recall_queries
from db.tables import RecallCustomerRow, RecallRow, Staff
from domain import recall as rules
from models.policy import Policy
from models.recall import (
    CompleteRemediationRequest,
    DeclareRecallRequest,
    RecallDeclaration,
    RecallResult,
    RecallState,
    RecordRevisionRequest,
    RemediationResult,
    RemediationStatus,
)
from workflows.step6_recall import RecallWorkflow, RemediationWorkflow


class RecallNotFound(ComplaintNotFound):
    """No recall by that id (nor a product with a recall)."""


async def declare_recall(
    client: Client,
    engine: Engine,
    policy: Policy,
    request: DeclareRecallRequest,
    task_queue: str,
    signer: Signer[Any] | None = None,
) -> RecallDeclaration:
    """Check, sign and start the recall, and wait for the workflow to admit it; refusals (here or
    the workflow's) raise ActionRefused naming why."""
    with Session(engine) as session:
        member = session.get(Staff, request.actor)
    role = member.role if member is not None and member.active else None
    problem = rules.declare_refusal(policy, request, role)
    if problem:
        raise ActionRefused(f"declaring a recall of {request.product}: {problem}")
    running = recall_queries.open_recall(engine, request.product)
    if running is not None:
        raise ActionRefused(
            f"recall {running.recall_id} of {request.product} is still open (declared by {running.declared_by}); "
            "one recall per product at a time"
        )
    product = policy.reporting.product(request.product)
    declaration = RecallDeclaration(
        recall_id=rules.recall_id(request.product, recall_queries.next_number(engine, request.product)),
        product=request.product,
        product_label=product.label if product else request.product,
        reason=request.reason.strip(),
        scope=request.scope.strip(),
        remedy=request.remedy,
        declared_by=request.actor,
        declared_at=datetime.now(UTC),
    )
    workflow_id = rules.workflow_id(request.product)
    signed = (signer or KeyFileSigner())(workflow_id, rules.DECLARE_ACTION, declaration)
    return await start_recall(client, signed, task_queue)


async def start_recall(client: Client, declaration: RecallDeclaration, task_queue: str) -> RecallDeclaration:
    """Start the recall's workflow with its (signed) declaration and the update ``admission`` at
    once, and wait for the workflow's answer: admitted, or ActionRefused with its reason."""
    start = WithStartWorkflowOperation(
        RecallWorkflow.run,
        RecallState(declaration=declaration),
        id=rules.workflow_id(declaration.product),
        task_queue=task_queue,
        id_conflict_policy=WorkflowIDConflictPolicy.FAIL,
        # A closed recall, or a refused declaration (its workflow ended at once): the next is new.
        id_reuse_policy=WorkflowIDReusePolicy.ALLOW_DUPLICATE,
        static_summary=f"Recall {declaration.recall_id} of {declaration.product_label}, by {declaration.declared_by}",
    )
    try:
        await client.execute_update_with_start_workflow(
            RecallWorkflow.admission, start_workflow_operation=start, id=str(uuid.uuid4())
        )
    except WorkflowAlreadyStartedError as err:
        raise ActionRefused(f"a recall of {declaration.product} is already running; one per product at a time") from err
    except WorkflowUpdateFailedError as err:
        cause = getattr(err.cause, "message", None) or str(err.cause)
        raise ActionRefused(cause) from err  # the workflow's reason names the product
    return declaration


def recall_row(engine: Engine, key: str) -> RecallRow:
    row = recall_queries.find(engine, key)
    if row is None:
        raise RecallNotFound(f"no recall {key} (see `complaints recall list`)")
    return row


async def recall_state(client: Client, engine: Engine, key: str) -> tuple[RecallRow, RecallState | None]:
    """The recall's row, and its workflow's live state while the running workflow is this recall."""
    row = recall_row(engine, key)
    try:
        state = await client.get_workflow_handle(row.workflow_id).query(RecallWorkflow.status)
    except RPCError:
        return row, None
    return row, state if state.declaration.recall_id == row.recall_id else None


async def recall_runs(client: Client, row: RecallRow) -> list[tuple[str, str, int | None]]:
    """(run id, status, history length) of each run of the recall's workflow since it was declared,
    oldest first."""
    runs = []
    query = f'WorkflowId = "{row.workflow_id}" AND StartTime >= "{row.declared_at.isoformat()}"'
    async for execution in client.list_workflows(query):
        status = execution.status.name.lower() if execution.status else "unknown"
        runs.append((execution.start_time, execution.run_id, status, execution.history_length or None))
    return [(run_id, status, length) for _, run_id, status, length in sorted(runs)]


async def record_revision(
    client: Client, engine: Engine, request: RecordRevisionRequest, signer: Signer[Any] | None = None
) -> RecallResult:
    row = recall_row(engine, request.recall_id)
    if row.status == "closed":
        raise ActionRefused(f"recall {row.recall_id} is closed")
    handle = client.get_workflow_handle_for(RecallWorkflow.run, row.workflow_id)
    request = request.model_copy(update={"recall_id": row.recall_id})
    signed = (signer or KeyFileSigner())(row.workflow_id, "record_revision", request)  # the update's name
    try:
        return await handle.execute_update(RecallWorkflow.record_revision, signed, id=str(uuid.uuid4()))
    except WorkflowUpdateFailedError as err:
        cause = getattr(err.cause, "message", None) or str(err.cause)
        raise ActionRefused(f"recording the revision of {row.recall_id}: {cause}") from err


def _customer(engine: Engine, recall_id: str, customer_id: str) -> RecallCustomerRow:
    row = recall_queries.customer(engine, recall_id, customer_id)
    if row is None:
        raise RecallNotFound(f"{customer_id} is not affected by recall {recall_id}")
    return row


async def complete_remediation(
    client: Client, engine: Engine, request: CompleteRemediationRequest, signer: Signer[Any] | None = None
) -> tuple[RemediationResult, bool]:
    """Record the customer's remediation done: (result, done now). Already done is no error: the
    result says by whom, and ``done now`` is False. Signed for the customer's own remediation."""
    recall = recall_row(engine, request.recall_id)
    request = request.model_copy(update={"recall_id": recall.recall_id})
    row = _customer(engine, recall.recall_id, request.customer_id)
    if row.remediated_at is not None:
        return _already(row), False
    handle = client.get_workflow_handle_for(RemediationWorkflow.run, row.workflow_id)
    signed = (signer or KeyFileSigner())(row.workflow_id, "complete", request)  # the update's name
    try:
        return await handle.execute_update(RemediationWorkflow.complete, signed, id=str(uuid.uuid4())), True
    except WorkflowUpdateFailedError as err:
        cause = getattr(err.cause, "message", None) or str(err.cause)
        again = _customer(engine, recall.recall_id, request.customer_id)
        if again.remediated_at is not None:  # done meanwhile (another confirmation of the same)
            return _already(again), False
        raise ActionRefused(f"remediation of {request.customer_id}: {cause}") from err
    except RPCError as err:
        if err.status == RPCStatusCode.NOT_FOUND:
            again = _customer(engine, recall.recall_id, request.customer_id)
            if again.remediated_at is not None:
                return _already(again), False
            raise ActionRefused(f"the remediation of {request.customer_id} is not open yet: try again shortly") from err
        raise


def _already(row: RecallCustomerRow) -> RemediationResult:
    ref = f" ({row.reference})" if row.reference else ""
    return RemediationResult(
        recall_id=row.recall_id,
        customer_id=row.customer_id,
        status=RemediationStatus.REMEDIATED,
        message=f"already remediated, recorded by {row.remediated_by}{ref}",
    )


@dataclass
class Confirmations:
    done: list[str] = field(default_factory=list)
    already: list[str] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)  # "row N: customer: why"


def read_confirmations(path: Path) -> list[tuple[str, str | None]]:
    """(customer_id, reference) rows of a CSV with a header ``customer_id,reference``."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as err:
        raise ValueError(f"{path}: cannot be read: {err}") from err
    reader = csv.DictReader(text.splitlines())
    if reader.fieldnames is None or "customer_id" not in reader.fieldnames:
        raise ValueError(f"{path}: the header must name customer_id (and reference)")
    rows = []
    for record in reader:
        customer = (record.get("customer_id") or "").strip()
        if customer:
            rows.append((customer, (record.get("reference") or "").strip() or None))
    return rows


async def complete_from_file(
    client: Client,
    engine: Engine,
    recall_id: str,
    actor: str,
    note: str,
    rows: list[tuple[str, str | None]],
    concurrency: int = 16,
    signer: Signer[Any] | None = None,
) -> Confirmations:
    """Send ``complete`` for each confirmation (a refund paid, a contract revised, in another
    system), ``concurrency`` at a time, each signed on its own (its own remediation's workflow id
    and nonce); one already done is counted, not refused, so a file sent twice changes nothing."""
    gate = asyncio.Semaphore(concurrency)

    async def one(n: int, customer_id: str, reference: str | None) -> tuple[str, str]:
        request = CompleteRemediationRequest(
            recall_id=recall_id, customer_id=customer_id, actor=actor, note=note, reference=reference
        )
        async with gate:
            try:
                _, now = await complete_remediation(client, engine, request, signer)
            except (ActionRefused, RecallNotFound) as err:
                return "refused", f"row {n}: {customer_id}: {err}"
        return ("done" if now else "already"), customer_id

    result = Confirmations()
    outcomes = await asyncio.gather(*(one(n, c, r) for n, (c, r) in enumerate(rows, start=1)))
    for kind, what in outcomes:  # in the file's order
        getattr(result, kind).append(what)
    return result


async def terminate_remediations(client: Client, recall_id: str, reason: str = "test done") -> int:
    """Terminate a recall's open remediations (tests and benchmarks: their clocks would run on)."""
    count = 0
    query = f"WorkflowType = 'RemediationWorkflow' AND RecallIds = '{recall_id}' AND ExecutionStatus = 'Running'"
    async for execution in client.list_workflows(query):
        try:
            await client.get_workflow_handle(execution.id).terminate(reason)
            count += 1
        except RPCError:
            pass
    return count

"""The typed helper intake systems use to file complaints through the Temporal client SDK.

    from complaints.intake import ComplaintIntakeClient
    intake = ComplaintIntakeClient(await connect())
    result = await intake.file(payload)        # a dict or a ComplaintIntake
    print(result.outcome, result.complaint_id)  # filed / already_filed / rejected

Validation happens here, before any workflow starts: a rejected complaint writes nothing.
"""

from __future__ import annotations

import asyncio
import functools
import uuid
from collections.abc import Mapping
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import Any

import structlog
from pydantic import BaseModel, ValidationError
from sqlalchemy import Engine
from temporalio.client import Client, WorkflowHandle, WorkflowUpdateFailedError
from temporalio.common import (
    SearchAttributePair,
    TypedSearchAttributes,
    WorkflowIDConflictPolicy,
    WorkflowIDReusePolicy,
)
from temporalio.exceptions import WorkflowAlreadyStartedError
from temporalio.service import RPCError, RPCStatusCode

from complaints.config import Settings
from domain.policy import load_policy
from domain.rules import UnknownStaff
from domain.times import fmt_utc
from models import search_attributes as sa
from models.complaint import (
    ComplaintStatusQuery,
    ComplaintWorkflowInput,
    Status,
    WithdrawRequest,
    WithdrawResult,
)
from models.intake import ComplaintIntake, workflow_id_for
from models.policy import Policy
from workflows.complaint import ComplaintWorkflow


class FilingOutcome(StrEnum):
    FILED = "filed"
    ALREADY_FILED = "already_filed"
    REJECTED = "rejected"


class FilingResult(BaseModel):
    outcome: FilingOutcome
    complaint_id: str | None = None
    workflow_id: str | None = None
    source_reference: str | None = None
    errors: list[str] = []


class ActionRefused(RuntimeError):
    """A staff or customer action the complaint does not allow now; the message says why."""


class StaffNotFound(ActionRefused):
    """Refused because the staff directory does not know a staff id (``--as``, or one the action names)."""


class ComplaintNotFound(LookupError):
    pass


class IntakeRejected(ValueError):
    def __init__(self, errors: list[str]) -> None:
        super().__init__("; ".join(errors))
        self.errors = errors


def describe_validation_error(err: ValidationError) -> list[str]:
    """Pydantic errors as sentences that start with the field's dotted path."""
    problems = []
    for e in err.errors():
        loc = ".".join(str(p) for p in e["loc"])
        msg = e["msg"].removeprefix("Value error, ")
        problems.append(f"{loc}: {msg}" if loc else msg)
    return problems


@functools.cache
def _load_policy(path: Path) -> Policy:
    return load_policy(path)


def policy_in_force() -> Policy:
    """The policy new complaints get (``COMPLAINTS_POLICY``, as the worker's): its ``intake``
    section bounds ``received_at``."""
    return _load_policy(Settings().policy_file)


def validate_intake(
    payload: Mapping[str, Any] | ComplaintIntake, now: datetime | None = None, policy: Policy | None = None
) -> ComplaintIntake:
    """The intake model, or IntakeRejected naming every field that is wrong."""
    if not isinstance(payload, (Mapping, ComplaintIntake)):
        raise IntakeRejected([f"(top level): expected a JSON object, got {type(payload).__name__}"])
    try:
        intake = payload if isinstance(payload, ComplaintIntake) else ComplaintIntake.model_validate(payload)
    except ValidationError as err:
        raise IntakeRejected(describe_validation_error(err)) from err
    policy = policy or policy_in_force()
    problem = policy.intake.received_at_problem(intake.received_at, now or datetime.now(UTC), policy.timezone)
    if problem:
        raise IntakeRejected([problem])
    catalogue = [p.code for p in policy.reporting.products]
    if intake.product is not None and catalogue and intake.product not in catalogue:
        raise IntakeRejected([f"product: {intake.product!r} is not in the policy's catalogue ({', '.join(catalogue)})"])
    return intake


def static_summary(intake: ComplaintIntake) -> str:
    who = intake.customer.company or intake.customer.name
    return f"{intake.complaint_id} · {intake.category.value.replace('_', ' ')} · {who}: {intake.summary}"[:200]


def static_details(intake: ComplaintIntake) -> str:
    lines = [
        f"**Complaint** {intake.complaint_id} ({intake.source_system} / {intake.source_reference})",
        f"**Customer** {intake.customer.name} ({intake.customer.customer_id})"
        + (f", {intake.customer.company}" if intake.customer.company else ""),
        f"**Channel** {intake.channel.value}, received {fmt_utc(intake.received_at)}",
        f"**Category** {intake.category.value}",
    ]
    if intake.contract_number:
        lines.append(f"**Contract** {intake.contract_number}")
    if intake.regulators:
        lines.append(f"**Regulators** {', '.join(intake.regulators)}")
    return "\n\n".join(lines)


class ComplaintIntakeClient:
    def __init__(
        self, client: Client, task_queue: str = "complaints", policy: Policy | None = None, engine: Engine | None = None
    ) -> None:
        self._client = client
        self._task_queue = task_queue
        self._policy = policy  # None: the policy in force (COMPLAINTS_POLICY)
        self._engine = engine  # given: a filed complaint re-scores its customer's risk (step 5)

    @property
    def task_queue(self) -> str:
        return self._task_queue

    async def file(self, payload: Mapping[str, Any] | ComplaintIntake) -> FilingResult:
        """File one complaint. The same source system and reference never files twice."""
        reference = payload.get("source_reference") if isinstance(payload, Mapping) else None
        try:
            intake = validate_intake(payload, policy=self._policy)
        except IntakeRejected as err:
            return FilingResult(
                outcome=FilingOutcome.REJECTED,
                source_reference=reference if isinstance(reference, str) else None,
                errors=err.errors,
            )
        complaint_id = intake.complaint_id
        workflow_id = workflow_id_for(complaint_id)
        attributes: list[SearchAttributePair[Any]] = [
            SearchAttributePair(sa.STATUS, Status.RECEIVED.value),
            SearchAttributePair(sa.CATEGORY, intake.category.value),
            SearchAttributePair(sa.CHANNEL, intake.channel.value),
            SearchAttributePair(sa.CUSTOMER_ID, intake.customer.customer_id),
            SearchAttributePair(sa.SLA_BREACHED, False),
        ]
        if intake.contract_number:
            attributes.append(SearchAttributePair(sa.CONTRACT_NUMBER, intake.contract_number))
        try:
            await self._client.start_workflow(
                ComplaintWorkflow.run,
                ComplaintWorkflowInput(complaint_id=complaint_id, intake=intake),
                id=workflow_id,
                task_queue=self._task_queue,
                # A complaint id is used once, even after its workflow has closed.
                id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
                id_conflict_policy=WorkflowIDConflictPolicy.FAIL,
                search_attributes=TypedSearchAttributes(attributes),
                static_summary=static_summary(intake),
                static_details=static_details(intake),
            )
            outcome = FilingOutcome.FILED
        except WorkflowAlreadyStartedError:
            outcome = FilingOutcome.ALREADY_FILED
        if outcome == FilingOutcome.FILED and self._engine is not None:
            await self._score_risk(intake)
        return FilingResult(
            outcome=outcome,
            complaint_id=complaint_id,
            workflow_id=workflow_id,
            source_reference=intake.source_reference,
        )

    def handle(self, complaint_id: str) -> WorkflowHandle[ComplaintWorkflow, Any]:
        return complaint_handle(self._client, complaint_id)

    async def _score_risk(self, intake: ComplaintIntake) -> None:
        """Best effort (step 5): the complaint is filed whatever happens here; a failure is logged."""
        from complaints.risk import evaluate_and_warn  # here: complaints.risk imports this module

        assert self._engine is not None
        try:
            policy = self._policy or policy_in_force()
            await evaluate_and_warn(
                self._client, self._task_queue, self._engine, intake.customer.customer_id, policy, filed=intake
            )
        except Exception as err:
            structlog.get_logger().warning(
                "risk not scored after filing", complaint_id=intake.complaint_id, error=repr(err)
            )

    async def status(self, complaint_id: str) -> ComplaintStatusQuery:
        return await self.handle(complaint_id).query(ComplaintWorkflow.status)

    async def withdraw(self, complaint_id: str, reason: str, relayed_by: str) -> WithdrawResult:
        """The customer withdraws the complaint; ActionRefused when that is not possible now."""
        return await execute_action(
            self.handle(complaint_id),
            ComplaintWorkflow.withdraw,
            WithdrawRequest(reason=reason, relayed_by=relayed_by),
            what="withdrawal",
        )


def complaint_handle(client: Client, complaint_id: str) -> WorkflowHandle[ComplaintWorkflow, Any]:
    return client.get_workflow_handle_for(ComplaintWorkflow.run, workflow_id_for(complaint_id))


# The workflow task that would have taken the action failed for a moment (typically a run
# continuing as new while a signal arrived): the server did not admit the update, so the same
# update id may be sent again.
NOT_READY_RETRIES = 5


def _not_ready(err: RPCError) -> bool:
    return err.status == RPCStatusCode.FAILED_PRECONDITION and "workflow task failure" in err.message


async def execute_action(handle: WorkflowHandle[Any, Any], update: Any, request: BaseModel, *, what: str) -> Any:
    """Run a staff or customer action (an update); refusals become ActionRefused with the reason."""
    investigation = handle.id.startswith("investigation-")
    complaint_id = handle.id.removeprefix("investigation-").removeprefix("complaint-")
    subject = f"the investigation of {complaint_id}" if investigation else complaint_id
    update_id = str(uuid.uuid4())  # one id for every try: an update the server did admit runs once
    for attempt in range(1, NOT_READY_RETRIES + 1):
        try:
            return await handle.execute_update(update, request, id=update_id)
        except WorkflowUpdateFailedError as err:
            cause = getattr(err.cause, "message", None) or str(err.cause)
            unknown = getattr(err.cause, "type", None) == UnknownStaff.__name__
            raise (StaffNotFound if unknown else ActionRefused)(f"{what} of {subject} refused: {cause}") from err
        except RPCError as err:
            if _not_ready(err) and attempt < NOT_READY_RETRIES:
                await asyncio.sleep(0.2 * attempt)
                continue
            # Closed before the action reached it, or while it waited its turn behind another
            # action that closed it ("workflow update was aborted by closing workflow").
            if "completed" in err.message or "closing workflow" in err.message:
                closed = "the investigation has concluded" if investigation else "the complaint is closed"
                raise ActionRefused(f"{what} of {subject} refused: {closed}") from err
            if err.status == RPCStatusCode.NOT_FOUND:
                raise ComplaintNotFound(
                    f"no investigation of {complaint_id} (is it a major complaint?)"
                    if investigation
                    else f"no complaint {complaint_id}"
                ) from err
            raise
    raise AssertionError("unreachable: the last try returns or raises")

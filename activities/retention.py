"""Retention's I/O (issue 16): the policy's retention, pages of complaints past the period, and one
complaint's personal data erased.

``anonymise_complaint`` is idempotent on the complaint id: the row's ``anonymised_at`` is set in
the same transaction as the erasure and the ``anonymised`` audit event, so a retry (or a second
run) finds it done and changes nothing. A complaint whose workflow still runs (a withdrawn one
waiting on its investigation or a regulator's report) is skipped, not erased under it: that
workflow may still write its events and letters; a later run takes it once it has ended.
"""

from __future__ import annotations

import asyncio

from sqlalchemy import Engine
from temporalio import activity
from temporalio.client import Client, WorkflowExecutionStatus
from temporalio.exceptions import ApplicationError
from temporalio.service import RPCError, RPCStatusCode

from activities.logging import bound_logger
from db import retention as queries
from db.tables import utc_now
from domain import retention as rules
from domain.policy import PolicyStore
from models.retention import (
    AnonymiseRequest,
    AnonymiseResult,
    Candidate,
    Outcome,
    RetentionPage,
    RetentionPlan,
    RetentionRequest,
)


class RetentionActivities:
    def __init__(self, engine: Engine, policies: PolicyStore, client: Client | None = None) -> None:
        self._engine = engine
        self._policies = policies
        self._client = client

    @activity.defn
    def plan_retention(self, request: RetentionRequest) -> RetentionPlan:
        """The policy's retention, pinned for the run (a policy changed meanwhile applies to the next run)."""
        policy = self._policies.current
        retention = policy.retention
        return RetentionPlan(
            policy_version=policy.version,
            period=retention.period.describe(),
            period_seconds=rules.period_seconds(retention.period),
            page_size=retention.page_size,
        )

    @activity.defn
    def retention_page(self, request: RetentionPage) -> list[Candidate]:
        """The next complaints past the period (closed before the cutoff, not anonymised), after the cursor."""
        return queries.page(self._engine, request)

    @activity.defn
    async def anonymise_complaint(self, request: AnonymiseRequest) -> AnonymiseResult:
        """Erase one complaint's personal data in one transaction and record it (once)."""
        log = bound_logger(complaint_id=request.complaint_id)
        running = await self._still_running(request.workflow_id)
        if running:
            log.info("retention skipped a complaint whose workflow still runs")
            return AnonymiseResult(
                complaint_id=request.complaint_id, outcome=Outcome.SKIPPED, reason="its workflow still runs"
            )
        detail = rules.audit_detail(
            request.policy_version, request.period, request.period_seconds, request.closed_at, request.run_id
        )
        done = await asyncio.to_thread(
            queries.anonymise, self._engine, request.complaint_id, cutoff=request.cutoff, now=utc_now(), detail=detail
        )
        outcome = Outcome(done.outcome)
        if outcome == Outcome.ANONYMISED:
            log.info(
                "complaint anonymised",
                policy=request.policy_version,
                retention=request.period,
                seq=done.seq,
                erased=done.erased,
            )
        else:
            log.info("complaint not anonymised", outcome=outcome.value, reason=done.reason)
        return AnonymiseResult(
            complaint_id=request.complaint_id, outcome=outcome, reason=done.reason, erased=done.erased
        )

    async def _still_running(self, workflow_id: str) -> bool:
        if self._client is None:
            raise ApplicationError(
                "this worker has no Temporal client to check a complaint's workflow", non_retryable=True
            )
        try:
            described = await self._client.get_workflow_handle(workflow_id).describe()
        except RPCError as err:
            if err.status == RPCStatusCode.NOT_FOUND:
                return False  # its history is gone (the namespace's retention): it ended long ago
            raise
        return described.status == WorkflowExecutionStatus.RUNNING

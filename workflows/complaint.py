"""ComplaintWorkflow: one durable workflow per customer complaint.

Step 1 (intake and classification): record, classify by the pinned policy, look up the
staff member a service-attitude complaint names, acknowledge with the deadlines that
apply, then keep the SLA clocks as durable timers until the complaint is closed.
"""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta
from typing import Any

from temporalio import workflow
from temporalio.common import RetryPolicy, SearchAttributeUpdate

with workflow.unsafe.imports_passed_through():
    from models import search_attributes as sa
    from models.complaint import (
        CLOSED_STATUSES,
        AcknowledgementRequest,
        ClassificationResult,
        ClassifyRequest,
        Clock,
        ClockState,
        ComplaintEvent,
        ComplaintSnapshot,
        ComplaintStatusQuery,
        ComplaintWorkflowInput,
        NotificationReceipt,
        StaffLookupRequest,
        StaffRecord,
        Status,
        WithdrawRequest,
        WithdrawResult,
    )
    from models.intake import Category

# Bad data or a missing policy version will not heal by retrying; a database outage will.
RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=1),
    backoff_coefficient=2.0,
    maximum_interval=timedelta(minutes=1),
    non_retryable_error_types=["PolicyError", "ValidationError", "TemplateError", "UndefinedError"],
)
ACTIVITY_TIMEOUT = timedelta(seconds=30)


def _fmt(moment: datetime | None) -> str:
    return moment.strftime("%Y-%m-%d %H:%M UTC") if moment else "—"


@workflow.defn
class ComplaintWorkflow:
    @workflow.init
    def __init__(self, input: ComplaintWorkflowInput) -> None:
        self._snapshot = ComplaintSnapshot(
            complaint_id=input.complaint_id,
            workflow_id=workflow.info().workflow_id,
            status=Status.RECEIVED,
            intake=input.intake,
        )
        self._seq = 0
        self._withdrawal: WithdrawRequest | None = None

    @workflow.run
    async def run(self, input: ComplaintWorkflowInput) -> ComplaintSnapshot:
        intake = input.intake
        self._describe("Received; classifying")
        await self._record("received", actor=f"intake:{intake.source_system}", detail={"channel": intake.channel.value})

        result: ClassificationResult = await workflow.execute_activity(
            "classify_complaint",
            ClassifyRequest(complaint_id=input.complaint_id, intake=intake),
            result_type=ClassificationResult,
            start_to_close_timeout=ACTIVITY_TIMEOUT,
            retry_policy=RETRY,
            summary="Classify by the policy's rules",
        )
        cls = result.classification
        self._snapshot.classification = cls
        self._snapshot.clocks = result.clocks
        self._snapshot.status = Status.CLASSIFIED
        self._publish()
        await self._record(
            "classified",
            detail={"tier": cls.tier.value, "rule": cls.rule_id, "matched": cls.matched, "policy_version": cls.policy_version},
        )

        if intake.category == Category.SERVICE_ATTITUDE:
            staff_id: str = intake.details.staff_id  # type: ignore[union-attr]
            record: StaffRecord = await workflow.execute_activity(
                "look_up_staff_record",
                StaffLookupRequest(complaint_id=input.complaint_id, staff_id=staff_id),
                result_type=StaffRecord,
                start_to_close_timeout=ACTIVITY_TIMEOUT,
                retry_policy=RETRY,
                summary=f"Look up staff member {staff_id}",
            )
            self._snapshot.staff_record = record
            await self._record(
                "staff_record_looked_up",
                detail={"staff_id": staff_id, "found": record.found, "score": record.service_quality_score},
            )

        receipt: NotificationReceipt = await workflow.execute_activity(
            "send_acknowledgement",
            AcknowledgementRequest(
                complaint_id=input.complaint_id, intake=intake, classification=cls, clocks=result.clocks
            ),
            result_type=NotificationReceipt,
            start_to_close_timeout=ACTIVITY_TIMEOUT,
            retry_policy=RETRY,
            summary="Acknowledge to the customer with the deadlines",
        )
        now = workflow.now()
        self._snapshot.acknowledged_at = now
        self._settle_clock("acknowledgement", now)
        self._snapshot.status = Status.AWAITING_ASSIGNMENT
        self._publish()
        await self._record("acknowledged", detail={"channel": receipt.channel, "recipient": receipt.recipient})

        await self._watch_clocks()

        withdrawal = self._withdrawal
        assert withdrawal is not None
        self._close(Status.WITHDRAWN, withdrawal.reason)
        await self._record("withdrawn", actor=withdrawal.relayed_by, detail={"reason": withdrawal.reason})
        await workflow.wait_condition(workflow.all_handlers_finished)
        return self._snapshot

    # -- staff and customer actions -------------------------------------------------

    @workflow.update
    async def withdraw(self, request: WithdrawRequest) -> WithdrawResult:
        self._withdrawal = request
        await workflow.wait_condition(lambda: self._snapshot.status in CLOSED_STATUSES)
        return WithdrawResult(complaint_id=self._snapshot.complaint_id, status=self._snapshot.status)

    @withdraw.validator
    def _validate_withdraw(self, request: WithdrawRequest) -> None:
        if self._snapshot.status in CLOSED_STATUSES or self._withdrawal is not None:
            raise ValueError(f"complaint {self._snapshot.complaint_id} is already {Status.WITHDRAWN.value}")

    @workflow.query
    def status(self) -> ComplaintStatusQuery:
        return ComplaintStatusQuery(
            snapshot=self._snapshot,
            next_deadline=self._snapshot.next_deadline,
            sla_breached=self._snapshot.sla_breached,
            events_recorded=self._seq,
        )

    # -- clocks ---------------------------------------------------------------------

    async def _watch_clocks(self) -> None:
        """Sleep until the next deadline or a closing action; a missed deadline is a breach."""
        closing = lambda: self._withdrawal is not None  # noqa: E731
        while not closing():
            running = [c for c in self._snapshot.clocks if c.state == ClockState.RUNNING]
            if not running:
                await workflow.wait_condition(closing)
                return
            clock = min(running, key=lambda c: c.due_at)
            remaining = (clock.due_at - workflow.now()).total_seconds()
            if remaining > 0:
                try:
                    await workflow.wait_condition(
                        closing, timeout=remaining, timeout_summary=f"{clock.label} due {_fmt(clock.due_at)}"
                    )
                    return
                except asyncio.TimeoutError:
                    pass
            clock.state = ClockState.BREACHED
            clock.breached_at = workflow.now()
            self._publish()
            await self._record("sla_breached", detail={"clock": clock.name, "due_at": clock.due_at.isoformat()})

    def _settle_clock(self, name: str, at: datetime) -> None:
        for clock in self._snapshot.clocks:
            if clock.name == name and clock.state == ClockState.RUNNING:
                if at <= clock.due_at:
                    clock.state, clock.met_at = ClockState.MET, at
                else:
                    clock.state, clock.breached_at = ClockState.BREACHED, at

    def _close(self, status: Status, reason: str) -> None:
        now = workflow.now()
        self._snapshot.status = status
        self._snapshot.closed_at = now
        self._snapshot.closing_reason = reason
        for clock in self._snapshot.clocks:
            if clock.state == ClockState.RUNNING:
                clock.state = ClockState.STOPPED
        self._publish()

    # -- visibility and projection ----------------------------------------------------

    def _publish(self) -> None:
        """Keep the Web UI's search attributes and current details in step with the state."""
        snap = self._snapshot
        updates: list[SearchAttributeUpdate[Any]] = [
            sa.STATUS.value_set(snap.status.value),
            sa.SLA_BREACHED.value_set(snap.sla_breached),
            sa.NEXT_DEADLINE.value_set(snap.next_deadline) if snap.next_deadline else sa.NEXT_DEADLINE.value_unset(),
        ]
        if snap.classification:
            updates.append(sa.TIER.value_set(snap.classification.tier.value))
        if snap.assignee:
            updates.append(sa.ASSIGNEE.value_set(snap.assignee))
        workflow.upsert_search_attributes(updates)
        self._describe(snap.status.value.replace("_", " ").capitalize())

    def _describe(self, stage: str) -> None:
        snap = self._snapshot
        lines = [f"**Stage:** {stage}"]
        if snap.classification:
            c = snap.classification
            lines.append(f"**Tier:** {c.tier.value} (rule `{c.rule_id}`: {c.matched}; policy {c.policy_version})")
        lines.append(f"**Held by:** {snap.assignee or 'unassigned'}")
        running = sorted((c for c in snap.clocks if c.state == ClockState.RUNNING), key=lambda c: c.due_at)
        if running:
            lines.append(f"**Next deadline:** {running[0].label}, {_fmt(running[0].due_at)}")
        if snap.clocks:
            lines.append("**Clocks:**")
            lines += [f"- {c.label} ({c.limit}): {c.state.value}, due {_fmt(c.due_at)}" for c in snap.clocks]
        if snap.staff_record and snap.staff_record.found:
            s = snap.staff_record
            lines.append(f"**Staff named:** {s.name} ({s.role}), service-quality score {s.service_quality_score}")
        workflow.set_current_details("\n\n".join(lines[:3]) + "\n\n" + "\n".join(lines[3:]))

    async def _record(self, kind: str, *, actor: str = "system", detail: dict[str, Any] | None = None) -> None:
        self._seq += 1
        await workflow.execute_activity(
            "record_complaint_event",
            ComplaintEvent(
                complaint_id=self._snapshot.complaint_id,
                seq=self._seq,
                kind=kind,
                at=workflow.now(),
                actor=actor,
                detail=detail or {},
                snapshot=self._snapshot.model_copy(deep=True),
            ),
            result_type=bool,
            start_to_close_timeout=ACTIVITY_TIMEOUT,
            retry_policy=RETRY,
            summary=f"Record '{kind}' in the case file",
        )

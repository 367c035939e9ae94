"""Step 2, reports to the regulator: a thread per regulator, each with its own clock, filed
exactly once (an idempotency key per complaint, regulator, type and sequence), retried with
backoff, escalated to compliance when failing, never resent after a rejection."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from decimal import Decimal
from typing import cast

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError, ApplicationError

from activities.regulator import RegulatorActivities
from models.clocks import Clock
from models.policy import Role
from models.regulator import FileReportRequest, RegulatorReport, RegulatorThread, ReportReason
from workflows.case import Case
from workflows.options import ACTIVITY_TIMEOUT
from workflows.presentation import fmt_utc

REPORT_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=1),
    backoff_coefficient=2.0,
    maximum_interval=timedelta(seconds=30),
    non_retryable_error_types=["RegulatorRejected"],
)


async def open_thread(case: Case, regulator: str, reason: ReportReason) -> None:
    snap = case.snap
    clock = await case.plan(
        f"Plan the report to {regulator}", purpose="regulator_report", regulator=regulator, started_at=workflow.now()
    )
    thread = RegulatorThread(
        regulator=regulator,
        reason=reason,
        due_at=clock.due_at,
        idempotency_key=f"{snap.complaint_id}:{regulator}:initial:1",
    )
    snap.regulator_reports.append(thread)
    case.board.plan(clock)
    case.publish()
    await case.record(
        "regulator_report_due", detail={"regulator": regulator, "reason": reason, "due_at": clock.due_at.isoformat()}
    )
    case.report_tasks.append(asyncio.create_task(_file(case, thread, clock)))


async def report_suspected_illegal_conduct(case: Case) -> None:
    reported = {t.regulator for t in case.snap.regulator_reports}
    for regulator in case.snap.intake.regulators or [case.rules.default_regulator]:
        if regulator not in reported:
            await open_thread(case, regulator, "suspected_illegal_conduct")


def _report(case: Case, thread: RegulatorThread) -> RegulatorReport:
    snap, intake = case.snap, case.snap.intake
    amounts = intake.amounts
    return RegulatorReport(
        idempotency_key=thread.idempotency_key,
        sequence=1,
        regulator=thread.regulator,
        complaint_id=snap.complaint_id,
        # RegulatorThread.reason stays a plain str, so workflow state validates exactly as before;
        # open_thread only ever stores a ReportReason in it.
        reason=cast(ReportReason, thread.reason),
        received_at=intake.received_at,
        reported_at=workflow.now(),
        customer_id=intake.customer.customer_id,
        customer_name=intake.customer.name,
        company=intake.customer.company,
        category=intake.category.value,
        tier=snap.tier.value if snap.tier else "major",
        summary=intake.summary,
        contract_number=intake.contract_number,
        amount_in_dispute=sum((m.amount for m in amounts if m.currency == amounts[0].currency), Decimal(0))
        if amounts
        else None,
        currency=amounts[0].currency if amounts else None,
        handling_status=snap.status.value,
    )


async def _file(case: Case, thread: RegulatorThread, clock: Clock) -> None:
    """Retry with backoff; past the retry window alert compliance and keep trying; never twice."""
    complaint_id = case.snap.complaint_id
    while True:
        window = max(10.0, (thread.due_at - workflow.now()).total_seconds() * case.rules.report_retry_window_fraction)
        thread.attempts += 1
        try:
            receipt = await workflow.execute_activity_method(
                RegulatorActivities.file_regulator_report,
                FileReportRequest(complaint_id=complaint_id, report=_report(case, thread)),
                start_to_close_timeout=ACTIVITY_TIMEOUT,
                schedule_to_close_timeout=timedelta(seconds=window),
                retry_policy=REPORT_RETRY,
                summary=f"File the report to {thread.regulator}",
            )
        except ActivityError as err:
            cause = err.cause
            if isinstance(cause, ApplicationError) and cause.type == "RegulatorRejected":
                thread.state, thread.rejection = "rejected", cause.message
                await case.notify_staff(
                    f"regulator_report_rejected:{thread.regulator}",
                    case.with_role(Role.COMPLIANCE),
                    f"{thread.regulator} rejected the report on {complaint_id}",
                    cause.message,
                )
                await case.record(
                    "regulator_report_rejected", detail={"regulator": thread.regulator, "reason": cause.message}
                )
                await case.flush()
                return
            if not thread.escalated:
                thread.escalated = True
                await case.notify_staff(
                    f"regulator_report_failing:{thread.regulator}",
                    case.with_role(Role.COMPLIANCE),
                    f"Report to {thread.regulator} on {complaint_id} is failing",
                    f"Due {fmt_utc(thread.due_at)}; still retrying with key {thread.idempotency_key}.",
                )
                await case.record(
                    "regulator_report_escalated", detail={"regulator": thread.regulator, "attempts": thread.attempts}
                )
                await case.flush()
            continue
        thread.state, thread.acknowledgement_id = "acknowledged", receipt.acknowledgement_id
        case.board.settle(clock, workflow.now(), "report filed")
        case.publish()
        await case.record(
            "regulator_report_filed",
            detail={"regulator": thread.regulator, "acknowledgement_id": receipt.acknowledgement_id},
        )
        await case.flush()
        return

"""Step 3.2: ReportingWorkflow, the periodic analysis of all complaints and the regulators' returns.

It runs on a Temporal Schedule (``complaints/schedules.py``: monthly, and quarterly or
half-yearly where the pack's returns fall due) or on demand (``complaints report run``):

1. bring the analysis facts up to date from the audit log (a time-boxed activity, repeated
   while complaints are still behind);
2. produce each kind asked for (the analysis report, then each return), one activity each. A
   return that fails its schema is not written; its error, naming the row and the field, is in
   the result beside the outputs that were written.

A scheduled run reports on the period that ended before its *scheduled* time (the
``TemporalScheduledStartTime`` search attribute), so a run started late, or a backfill, still
covers the right month.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy, SearchAttributeKey, VersioningBehavior
from temporalio.exceptions import ActivityError, ApplicationError

with workflow.unsafe.imports_passed_through():
    import domain.analysis as periods
    from activities.reporting import ReportingActivities
    from models.analysis import Period, ProduceRequest, ReportOutcome, ReportOutput, ReportRequest

SCHEDULED_START = SearchAttributeKey.for_datetime("TemporalScheduledStartTime")
REFRESH_BUDGET_SECONDS = 60.0
RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=1),
    maximum_interval=timedelta(minutes=1),
    non_retryable_error_types=["ReturnInvalid", "PolicyError", "ValidationError"],
)


def period_of(request: ReportRequest, now: datetime) -> Period:
    if request.period is not None:
        return request.period
    assert request.period_kind is not None
    scheduled = workflow.info().typed_search_attributes.get(SCHEDULED_START)
    return periods.previous_period(request.period_kind, scheduled or now, request.timezone)


@workflow.defn(versioning_behavior=VersioningBehavior.PINNED)
class ReportingWorkflow:
    def __init__(self) -> None:
        self._done: list[ReportOutput] = []

    @workflow.run
    async def run(self, request: ReportRequest) -> ReportOutcome:
        period = period_of(request, workflow.now())
        previous = periods.period_before(period)
        self._show(f"Analysis of {period.label} ({period.start} to {period.end}), against {previous.label}")
        await self._refresh()
        for kind in request.kinds:
            self._show(f"Producing {kind} for {period.label}")
            self._done.append(await self._produce(kind, period, previous))
        failed = [o for o in self._done if o.error]
        self._show(f"Done: {len(self._done) - len(failed)} written, {len(failed)} refused")
        return ReportOutcome(period=period, previous=previous, outputs=self._done)

    @workflow.query
    def progress(self) -> list[ReportOutput]:
        return list(self._done)

    def _show(self, stage: str) -> None:
        workflow.set_current_details(stage)

    async def _refresh(self) -> None:
        self._show("Bringing the analysis facts up to date from the audit log")
        behind = 1
        while behind:
            behind = await workflow.execute_activity_method(
                ReportingActivities.refresh_analysis_facts,
                REFRESH_BUDGET_SECONDS,
                start_to_close_timeout=timedelta(seconds=REFRESH_BUDGET_SECONDS * 3),
                heartbeat_timeout=timedelta(seconds=REFRESH_BUDGET_SECONDS),
                retry_policy=RETRY,
                summary="Refresh the analysis facts",
            )

    async def _produce(self, kind: str, period: Period, previous: Period) -> ReportOutput:
        info = workflow.info()
        request = ProduceRequest(
            kind=kind, period=period, previous=previous, run_key=f"{info.workflow_id}/{info.run_id}/{kind}"
        )
        try:
            return await workflow.execute_activity_method(
                ReportingActivities.produce_report,
                request,
                start_to_close_timeout=timedelta(minutes=10),
                retry_policy=RETRY,
                summary=f"Produce {kind} for {period.label}",
            )
        except ActivityError as err:
            cause = err.cause
            if isinstance(cause, ApplicationError) and cause.type == "ReturnInvalid":
                return ReportOutput(kind=kind, period_label=period.label, error=cause.message)
            raise

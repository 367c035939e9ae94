"""Issue 16: retention. ``RetentionWorkflow`` erases the personal data of complaints closed longer
ago than the policy's retention period, and keeps their statistics and audit skeleton.

Started by the Temporal Schedule ``complaints-retention`` (every ``retention.check_every``, one
run at a time) or on demand (``complaints retention run``):

1. plan (an activity): the policy's period and page size, pinned for the run; the cutoff is the
   run's start (``workflow.now()``) less the period, and carries into every continued run;
2. read a page of complaints past the period after a cursor (an activity: closed before the
   cutoff, in a closing status, not anonymised yet, over the index on ``complaints.closed_at``);
3. anonymise each, one activity per complaint, idempotent on its id (``db/retention.py``: one
   transaction erases, appends the ``anonymised`` audit event and stamps ``anonymised_at``); a
   complaint reopened meanwhile or whose workflow still runs is skipped with the reason;
4. after ``pages_per_run`` pages (10 by default: about three events a complaint, so some 3,000 a
   run; or sooner when the server suggests it) continue as new with the cursor and the counts,
   once every handler has finished: each run's history stays small.

The result and the Web UI's current details say how many were anonymised, found done, skipped.
"""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow
from temporalio.common import VersioningBehavior

with workflow.unsafe.imports_passed_through():
    import domain.retention as rules
    from activities.retention import RetentionActivities
    from models.retention import (
        AnonymiseRequest,
        AnonymiseResult,
        Candidate,
        Outcome,
        RetentionCursor,
        RetentionPage,
        RetentionPlan,
        RetentionState,
    )
    from workflows.options import call

PAGE_TIMEOUT = timedelta(minutes=2)  # a page's query reads at most page_size rows over an index
RECENT_SKIPS = 5


@workflow.defn(versioning_behavior=VersioningBehavior.PINNED)
class RetentionWorkflow:
    @workflow.init
    def __init__(self, state: RetentionState) -> None:
        self._state = state.model_copy(deep=True)

    @workflow.run
    async def run(self, state: RetentionState) -> RetentionState:
        s = self._state
        if s.plan is None or s.cutoff is None:
            self._show("Reading the policy's retention period")
            plan: RetentionPlan = await call(
                RetentionActivities.plan_retention, s.request, summary="Read the policy's retention period"
            )
            s.plan, s.started_at = plan, workflow.now()
            s.cutoff = rules.cutoff(workflow.now(), plan.period_seconds)
        self._show()
        for _ in range(s.pages_per_run):
            page = await self._page()
            for candidate in page:
                await self._anonymise(candidate)
            if len(page) < self._plan().page_size:
                s.finished_at = workflow.now()
                self._show()
                return s
            if workflow.info().is_continue_as_new_suggested():
                break
        await workflow.wait_condition(workflow.all_handlers_finished)
        workflow.continue_as_new(s.model_copy(update={"run": s.run + 1}))

    async def _page(self) -> list[Candidate]:
        s, plan = self._state, self._plan()
        assert s.cutoff is not None
        after = s.cursor.complaint_id if s.cursor else "the oldest"
        page: list[Candidate] = await call(
            RetentionActivities.retention_page,
            RetentionPage(cutoff=s.cutoff, after=s.cursor, limit=plan.page_size),
            summary=f"Next {plan.page_size} complaints closed before the cutoff, after {after}",
            timeout=PAGE_TIMEOUT,
        )
        s.pages += 1
        if page:
            last = page[-1]
            s.cursor = RetentionCursor(closed_at=last.closed_at, complaint_id=last.complaint_id)
        return page

    async def _anonymise(self, candidate: Candidate) -> None:
        s, plan = self._state, self._plan()
        assert s.cutoff is not None
        result: AnonymiseResult = await call(
            RetentionActivities.anonymise_complaint,
            AnonymiseRequest(
                complaint_id=candidate.complaint_id,
                workflow_id=candidate.workflow_id,
                closed_at=candidate.closed_at,
                cutoff=s.cutoff,
                policy_version=plan.policy_version,
                period=plan.period,
                period_seconds=plan.period_seconds,
                run_id=workflow.info().workflow_id,
            ),
            summary=f"Erase the personal data of {candidate.complaint_id}",
        )
        if result.outcome == Outcome.ANONYMISED:
            s.anonymised += 1
        elif result.outcome == Outcome.ALREADY:
            s.already += 1
        else:
            s.skipped += 1
            s.skipped_recent = [*s.skipped_recent, f"{result.complaint_id}: {result.reason}"][-RECENT_SKIPS:]
        self._show()

    @workflow.query
    def status(self) -> RetentionState:
        return self._state

    def _plan(self) -> RetentionPlan:
        assert self._state.plan is not None, "planned first"
        return self._state.plan

    def _show(self, stage: str | None = None) -> None:
        workflow.set_current_details(stage or rules.details(self._state))

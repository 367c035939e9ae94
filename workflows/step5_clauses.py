"""Step 5: contract clauses sent to legal review.

``ClauseWatchWorkflow`` counts (a Temporal Schedule every ``clause_review.watch_every_minutes``,
or on demand: ``complaints clauses watch``): per contract template and clause, the complaints
citing it in the rolling window. A clause at the threshold, or with a review open, gets a
signal-with-start of its ``ClauseReviewWorkflow`` (id ``clause-review-<template>-<clause>``,
conflict policy USE_EXISTING): the first crossing opens a review, a later citing complaint is
linked to the one open by the signal ``link_complaint``.

``ClauseReviewWorkflow``, one review of one clause:

1. plan it (an activity: the owner, legal's first active member; the due date on the policy's
   calendar; the warning at ``warning_fraction``; who is told at the due time and who may close
   it) and record it; search attribute ClauseReviewStatus=open;
2. link the citing complaints as they arrive (the signal ``link_complaint``, each kept once);
3. sleep (named timers) to the warning, reminding the owner once, then to the due date: overdue,
   the owner's manager told once;
4. wait for ``close`` (an update with a validator: legal or a senior manager; outcome reword,
   keep or withdraw_product, reasons required, the new template version for reword), record it
   and end: the clause's next crossing opens a new review.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta

from temporalio import workflow
from temporalio.common import VersioningBehavior

with workflow.unsafe.imports_passed_through():
    from activities.clauses import ClauseActivities
    from domain import clauses as rules
    from domain.rules import Refused
    from domain.times import fmt_utc
    from models import search_attributes as sa
    from models.clause_review import (
        ClauseLink,
        ClauseReviewNotice,
        ClauseReviewPlan,
        ClauseReviewRequest,
        ClauseReviewResult,
        ClauseReviewState,
        ClauseWatchRequest,
        ClauseWatchResult,
        CloseReviewRequest,
        ReviewStatus,
    )
    from workflows.handlers import recheck
    from workflows.options import ACTIVITY_TIMEOUT, RETRY, call
    from workflows.signing import StaffSignatures


@workflow.defn(versioning_behavior=VersioningBehavior.PINNED)
class ClauseWatchWorkflow:
    def __init__(self) -> None:
        self._requested_by: str | None = None  # (an __init__ of its own, as every workflow here has)

    @workflow.run
    async def run(self, request: ClauseWatchRequest) -> ClauseWatchResult:
        self._requested_by = request.requested_by
        workflow.set_current_details(f"Counting the clauses complaints cite (asked for by {request.requested_by})")
        found = await workflow.execute_activity_method(
            ClauseActivities.find_clause_crossings,
            request,
            start_to_close_timeout=timedelta(minutes=2),
            retry_policy=RETRY,
            summary="Count complaints per contract template and clause",
        )
        if not found:
            workflow.set_current_details("No clause at the threshold and no review open")
            return ClauseWatchResult()
        result: ClauseWatchResult = await workflow.execute_activity_method(
            ClauseActivities.open_or_link_clause_reviews,
            found,
            start_to_close_timeout=ACTIVITY_TIMEOUT,
            retry_policy=RETRY,
            summary=f"Open or link the reviews of {len(found)} clause(s)",
        )
        workflow.set_current_details(
            f"Opened: {', '.join(result.opened) or 'none'}; linked: {', '.join(result.linked) or 'none'}"
        )
        return result


@workflow.defn(versioning_behavior=VersioningBehavior.AUTO_UPGRADE)
class ClauseReviewWorkflow:
    @workflow.init
    def __init__(self, request: ClauseReviewRequest) -> None:
        self._state = ClauseReviewState(request=request, workflow_id=workflow.info().workflow_id)
        self._lock = asyncio.Lock()  # links, the timers' steps and ``close`` act one after the other
        self._signing = StaffSignatures()

    @workflow.run
    async def run(self, request: ClauseReviewRequest) -> ClauseReviewState:
        state = self._state
        await self._signing.load()
        workflow.upsert_search_attributes([sa.CLAUSE_REVIEW.value_set(ReviewStatus.OPEN.value)])
        self._show("Planning the review: owner and due date")
        async with self._lock:
            state.plan = await call(
                ClauseActivities.plan_clause_review, request, summary=f"Plan review {request.review_id}"
            )
            self._link(request.complaint_ids)
            await self._record(f"Record review {request.review_id} opened")
            plan = self._plan()
            await self._notify(
                "opened",
                "clause_review_opened",
                [plan.owner],
                f"Legal review of clause {request.clause} of {request.template}: due {fmt_utc(plan.due_at)}",
                f"{len(state.linked)} complaints cite it within {plan.window_days} days: {', '.join(state.linked)}.\n"
                f"Close it: complaints clauses close {request.review_id} --as {plan.owner} --outcome reword "
                "--reasons ... --new-version ...",
            )
        self._show()
        await self._until(plan.warning_at, f"Remind {plan.owner} {fmt_utc(plan.warning_at)}")
        await self._step(self._warn)
        await self._until(plan.due_at, f"Due {fmt_utc(plan.due_at)}; overdue after")
        await self._step(self._overdue)
        await workflow.wait_condition(self._closed)
        await workflow.wait_condition(workflow.all_handlers_finished)
        self._show()
        return state

    # -- links ---------------------------------------------------------------------------------

    @workflow.signal
    async def link_complaint(self, link: ClauseLink) -> None:
        async with self._lock:
            if self._closed() or not self._link(link.complaint_ids) or self._state.plan is None:
                return  # closed, nothing new, or recorded with the plan in a moment
            self._show()
            await self._record(f"Record {len(self._state.linked)} complaints linked")

    def _link(self, complaint_ids: list[str]) -> bool:
        """Add the complaints not linked yet; whether any was new."""
        linked = self._state.linked
        new = [c for c in dict.fromkeys(complaint_ids) if c not in linked]
        linked.extend(new)
        return bool(new)

    # -- the timers' steps ---------------------------------------------------------------------

    async def _until(self, at: datetime, summary: str) -> None:
        remaining = (at - workflow.now()).total_seconds()
        if remaining <= 0:
            return
        try:
            await workflow.wait_condition(self._closed, timeout=remaining, timeout_summary=summary)
        except TimeoutError:
            pass

    async def _step(self, act: Callable[[], Awaitable[None]]) -> None:
        async with self._lock:
            if not self._closed():
                await act()

    async def _warn(self) -> None:
        state, plan = self._state, self._plan()
        state.warned_at = workflow.now()
        self._show()
        await self._record(f"Record the reminder to {plan.owner}")
        await self._notify(
            "warning",
            "clause_review_warning",
            [plan.owner],
            f"Clause review {plan.review_id} due {fmt_utc(plan.due_at)}",
            f"{len(state.linked)} complaints cite clause {state.request.clause} of {state.request.template}.",
        )

    async def _overdue(self) -> None:
        state, plan = self._state, self._plan()
        state.status, state.overdue_at = ReviewStatus.OVERDUE, workflow.now()
        workflow.upsert_search_attributes([sa.CLAUSE_REVIEW.value_set(ReviewStatus.OVERDUE.value)])
        self._show()
        await self._record(f"Record review {plan.review_id} overdue")
        await self._notify(
            "escalation",
            "clause_review_overdue",
            plan.escalate_to,
            f"OVERDUE: legal review {plan.review_id} ({plan.owner}, {plan.owner_name})",
            f"Due {fmt_utc(plan.due_at)}; {len(state.linked)} complaints cite clause {state.request.clause} of "
            f"{state.request.template}: {', '.join(state.linked)}.",
        )

    # -- closing -------------------------------------------------------------------------------

    @workflow.update
    async def close(self, request: CloseReviewRequest) -> ClauseReviewResult:
        async with self._lock, self._signing.turn():
            recheck(self._validate_close, request)
            state = self._state
            state.status, state.closed_at, state.closed_by = ReviewStatus.CLOSED, workflow.now(), request.actor
            state.outcome, state.reasons = request.outcome, request.reasons.strip()
            state.new_template_version = request.new_template_version
            workflow.upsert_search_attributes([sa.CLAUSE_REVIEW.value_set(ReviewStatus.CLOSED.value)])
            self._show()
            await self._record(f"Record review {state.request.review_id} closed: {request.outcome.value}")
            version = f", new template version {request.new_template_version}" if request.new_template_version else ""
            return ClauseReviewResult(
                review_id=state.request.review_id,
                status=state.status,
                message=f"closed by {request.actor}: {request.outcome.value}{version}",
            )

    @close.validator
    def _validate_close(self, request: CloseReviewRequest) -> None:
        problem = rules.close_refusal(self._state, request)
        if problem:
            raise Refused(problem)
        self._signing.check(request)  # who closes is proven (issue 16)

    @workflow.signal
    async def refresh_staff_keys(self) -> None:
        """A key was registered or revoked (``complaints keys register|revoke|refresh``)."""
        await self._signing.refresh()

    @workflow.query
    def status(self) -> ClauseReviewState:
        return self._state

    # -- helpers -------------------------------------------------------------------------------

    def _closed(self) -> bool:
        return self._state.closed_at is not None

    def _plan(self) -> ClauseReviewPlan:
        assert self._state.plan is not None, "planned before any step or action"
        return self._state.plan

    async def _record(self, summary: str) -> None:
        await call(ClauseActivities.record_clause_review, self._state, summary=summary)

    async def _notify(self, key: str, kind: str, recipients: list[str], subject: str, body: str) -> None:
        if not recipients:
            return
        review_id = self._state.request.review_id
        await call(
            ClauseActivities.notify_clause_review,
            ClauseReviewNotice(
                idempotency_key=f"clause-review:{review_id}:{key}",
                review_id=review_id,
                kind=kind,
                recipients=recipients,
                subject=subject,
                body=body,
            ),
            summary=f"Notify {', '.join(recipients)}: {key}",
        )

    def _show(self, stage: str | None = None) -> None:
        workflow.set_current_details(stage or details(self._state))


def details(state: ClauseReviewState) -> str:
    """What legal and managers read in the Web UI: which clause, who owns it, what to do next."""
    r, plan = state.request, state.plan
    if plan is None:
        return f"**Clause review:** clause {r.clause} of {r.template}, being planned"
    lines = [
        f"**Clause review {r.review_id}:** clause {r.clause} of contract template {r.template}"
        + (f" (cited as: {'; '.join(r.references[:3])})" if r.references else ""),
        f"**Complaints citing it ({len(state.linked)}):** {', '.join(state.linked)}",
        f"**Owner:** {plan.owner} ({plan.owner_name}); due {fmt_utc(plan.due_at)}, reminder "
        f"{fmt_utc(plan.warning_at)}" + (f" (sent {fmt_utc(state.warned_at)})" if state.warned_at else ""),
        f"**Status:** {state.status.value}",
    ]
    if state.overdue_at:
        lines.append(f"**Overdue since** {fmt_utc(state.overdue_at)}: told {', '.join(plan.escalate_to) or 'nobody'}")
    if state.closed_at and state.outcome:
        version = f"; new template version {state.new_template_version}" if state.new_template_version else ""
        lines.append(
            f"**Closed** {fmt_utc(state.closed_at)} by {state.closed_by}: {state.outcome.value}{version}. "
            f"Reasons: {state.reasons}"
        )
    else:
        lines.append(
            f"**Next:** legal or a senior manager runs `complaints clauses close {r.review_id} --as <id> "
            "--outcome reword|keep|withdraw_product --reasons ...`"
        )
    return "\n\n".join(lines)

"""Step 6.2: the recall of a defective product, and one remediation per affected customer.

``RecallWorkflow`` (id ``recall-<product>``: one open recall per product), started by a senior
manager's declaration (``complaints recall declare``):

0. admit the declaration (issue 16): a staff action that starts the workflow, signed by its
   declarer (action ``declare_recall``), checked first (``workflows.signing.StaffSignatures``);
   then the plan checks the declarer's role. A refused declaration ends the workflow at once,
   status ``refused``, with nothing recorded (no recall row, no customer, no signed action); the
   update ``admission`` tells the declaring client either way (``complaints recall declare``).
1. plan (an activity): check the declarer, write the affected customers to ``recall_customers``
   (open complaints about the product and every customer who complained about it, from the
   projection; every holder of a contract on it, from the loan book), and who may do what. The
   history keeps their count, never the customers.
2. fan out in a sliding window, in the style of Temporal's ``batch_sliding_window`` sample: read
   a page of customer ids after a cursor (an activity), start a ``RemediationWorkflow`` child per
   customer (parent close policy ABANDON: it outlives this run), at most ``window`` in flight;
   each child signals ``customer_done`` once it has told its customer and opened, freeing its
   slot. After ``per_run`` starts the run continues as new, carrying the cursor, the counts and
   the children still in flight (their signals reach the next run: a signal names the workflow
   id). A child found already started (a restart) counts as done. Every run's history stays
   small: ``per_run`` children of about three events each, and the workflow tasks around them.
3. once every customer's remediation is started and has reported, continue as new into
   tracking (a run with no children: no completions land in it): every ``progress_every`` a
   named timer, then an activity counts the table (affected, told, opened, remediated, overdue)
   into the recall's row, the Web UI's current details and RecallStatus. The children write the
   table; they never signal completion (10,000 signals would fill the history). A long recall
   continues as new every ``TRACK_POLLS_PER_RUN`` counts.
4. the recall closes when every remediation is done and a declarer has recorded the product or
   process revision that ends it (``record_revision``, an update with a validator, signed).

``RemediationWorkflow`` (id ``remediation-<recall_id>-<customer_id>``): tell the customer once
(an activity: the outbox key ``recall:<recall_id>:<customer_id>``), link their open complaints
about the product (``ComplaintWorkflow.link_recall``), record itself opened with its due date
(``remediation_due`` on the policy's calendar), signal the recall (one local activity); then a named timer to the due
date: overdue is recorded and the recall's owner told (once per recall); ``complete`` (an update
with a validator: the policy's remediator roles; signed) records what was done and ends it. Its
signing set-up is loaded once the customer is told and the recall's slot freed.

Signed actions (``record_revision``, ``complete``, the declaration) are checked in the validator
after the workflow's own refusal and again in the handler's turn; an accepted one is kept in
``signed_actions`` (``complaints verify <workflow id>``).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from temporalio import workflow
from temporalio.common import SearchAttributePair, TypedSearchAttributes, VersioningBehavior, WorkflowIDReusePolicy
from temporalio.exceptions import ActivityError, ApplicationError, WorkflowAlreadyStartedError

with workflow.unsafe.imports_passed_through():
    from activities.recall import RECALL_DONE_SIGNAL, RecallActivities
    from domain import recall as rules
    from domain.rules import Refused
    from domain.times import fmt_utc
    from models import search_attributes as sa
    from models.recall import (
        CompleteRemediationRequest,
        RecallPage,
        RecallPlan,
        RecallResult,
        RecallRevision,
        RecallState,
        RecallStatus,
        RecordRevisionRequest,
        RemediationRequest,
        RemediationResult,
        RemediationState,
        RemediationStatus,
    )
    from workflows.handlers import recheck
    from workflows.options import RETRY, call
    from workflows.signing import SIGNED_STAFF_ACTIONS, StaffSignatures

DONE_SIGNAL = RECALL_DONE_SIGNAL
# The recall's own activities read or count up to the whole affected set (a page, the progress).
FAN_OUT_TIMEOUT = timedelta(minutes=5)
TRACK_POLLS_PER_RUN = 500  # about 4,500 events: a tracking run continues as new after this many counts


@workflow.defn(versioning_behavior=VersioningBehavior.AUTO_UPGRADE)
class RecallWorkflow:
    @workflow.init
    def __init__(self, state: RecallState) -> None:
        # The signing set-up lives in ``_signing``, not in the state every count sends its activity.
        self._state = state.model_copy(deep=True, update={"signing": None})
        self._in_flight: set[str] = set(state.in_flight)
        self._wake = False  # a revision was recorded: count now
        self._lock = asyncio.Lock()  # the declaration's check and plan, and the revision, one at a time
        self._signing = StaffSignatures(state.signing)

    @workflow.run
    async def run(self, state: RecallState) -> RecallState:
        s = self._state
        await self._signing.load()
        if s.plan is None:
            try:
                await self._admit()
            except Refused as refused:
                return await self._refused(str(refused))
        else:
            self._mark()
        if s.status == RecallStatus.FANNING_OUT:
            await self._fan_out()  # continues as new until every customer's remediation is open
        await self._track()
        return s

    # -- the declaration: admitted, planned -----------------------------------------------------

    async def _admit(self) -> None:
        """The declaration's signature, then the plan (which checks the declarer's role against the
        policy and the staff directory before it writes anything), in one turn: the signed
        declaration is kept only once both passed. ``Refused``: nothing was recorded."""
        s = self._state
        d = s.declaration
        async with self._lock, self._signing.turn():
            self._signing.check(d, rules.DECLARE_ACTION, d.declared_by)
            self._mark()
            self._show("Finding the affected customers")
            try:
                s.plan = await call(
                    RecallActivities.plan_recall, d, summary=f"Plan recall {d.recall_id}", timeout=FAN_OUT_TIMEOUT
                )
            except ActivityError as err:
                cause = err.cause
                declarer = isinstance(cause, ApplicationError) and cause.type == "ValidationError"
                if not declarer or not workflow.patched(SIGNED_STAFF_ACTIONS):
                    raise  # a run from before: it failed as it did then
                raise Refused(cause.message if isinstance(cause, ApplicationError) else str(err)) from err
        s.progress.affected = s.plan.affected

    async def _refused(self, reason: str) -> RecallState:
        """The declaration refused: the workflow ends, having recorded nothing."""
        s = self._state
        s.status, s.refused = RecallStatus.REFUSED, reason
        workflow.upsert_search_attributes([sa.RECALL_STATUS.value_set([s.status.value])])
        self._show()
        await workflow.wait_condition(workflow.all_handlers_finished)  # ``admission`` told the declarer
        return s

    @workflow.update
    async def admission(self) -> RecallResult:
        """Whether the declaration was admitted (``complaints recall declare`` asks as it starts the
        workflow): the result once it is planned; refused, an ``ActionRefused`` naming why."""
        s = self._state
        await workflow.wait_condition(lambda: s.plan is not None or s.refused is not None)
        d = s.declaration
        if s.refused is not None:
            raise ApplicationError(
                f"declaring a recall of {d.product}: {s.refused}", type="ActionRefused", non_retryable=True
            )
        assert s.plan is not None
        return RecallResult(
            recall_id=d.recall_id,
            status=s.status,
            message=f"recall {d.recall_id} declared by {d.declared_by}: {s.plan.affected} affected customer(s)",
        )

    def _mark(self) -> None:
        s = self._state
        workflow.upsert_search_attributes(
            [sa.RECALL_STATUS.value_set([s.status.value]), sa.RECALL_ID.value_set([s.declaration.recall_id])]
        )

    # -- fan-out: a sliding window of children --------------------------------------------------

    async def _fan_out(self) -> None:
        s, plan = self._state, self._plan()
        started_here = 0
        pending: list[str] = []
        last_page = False
        while started_here < plan.per_run and not workflow.info().is_continue_as_new_suggested():
            if not pending:
                if last_page:
                    s.exhausted = True
                    break
                pending = await call(
                    RecallActivities.recall_page,
                    RecallPage(recall_id=s.declaration.recall_id, after=s.cursor, limit=plan.page_size),
                    summary=f"Next {plan.page_size} customers after {s.cursor or 'the first'}",
                    timeout=FAN_OUT_TIMEOUT,
                )
                last_page = len(pending) < plan.page_size
                await self._count()
                if not pending:
                    s.exhausted = True
                    break
            await workflow.wait_condition(lambda: len(self._in_flight) < plan.window)
            room = min(plan.window - len(self._in_flight), plan.per_run - started_here, len(pending))
            batch, pending = pending[:room], pending[room:]
            for customer_id in batch:
                self._in_flight.add(customer_id)
            s.cursor, s.started = batch[-1], s.started + len(batch)
            started_here += len(batch)
            await asyncio.gather(*(self._start(c) for c in batch))
            if not pending and last_page:
                s.exhausted = True
                break
        if s.exhausted:
            self._show()
            await workflow.wait_condition(lambda: not self._in_flight)
            s.status = RecallStatus.TRACKING
        await self._continue_as_new()

    async def _start(self, customer_id: str) -> None:
        s, plan = self._state, self._plan()
        d = s.declaration
        try:
            await workflow.start_child_workflow(
                RemediationWorkflow.run,
                RemediationRequest(
                    recall_id=d.recall_id,
                    recall_workflow_id=workflow.info().workflow_id,
                    product=d.product,
                    customer_id=customer_id,
                    remedy=d.remedy,
                    owner=plan.owner,
                    remediators=plan.remediators,
                ),
                id=rules.remediation_id(d.recall_id, customer_id),
                parent_close_policy=workflow.ParentClosePolicy.ABANDON,
                id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
                search_attributes=TypedSearchAttributes(
                    [
                        SearchAttributePair(sa.RECALL_ID, [d.recall_id]),
                        SearchAttributePair(sa.RECALL_STATUS, [RemediationStatus.OPEN.value]),
                        SearchAttributePair(sa.CUSTOMER_ID, customer_id),
                    ]
                ),
                static_summary=f"Remediation of {customer_id}: recall {d.recall_id} ({d.remedy.value})",
            )
        except WorkflowAlreadyStartedError:
            self._in_flight.discard(customer_id)  # started before (a restart): it is open already

    @workflow.signal(name=DONE_SIGNAL)
    def customer_done(self, customer_id: str) -> None:
        """A remediation told its customer and opened: its slot is free (a repeat changes nothing)."""
        self._in_flight.discard(customer_id)

    # -- tracking ------------------------------------------------------------------------------

    async def _track(self) -> None:
        s, plan = self._state, self._plan()
        for _ in range(TRACK_POLLS_PER_RUN):
            await self._count()
            if rules.finished(s):
                s.status, s.closed_at = RecallStatus.CLOSED, workflow.now()
                workflow.upsert_search_attributes([sa.RECALL_STATUS.value_set([s.status.value])])
                await self._count()
                await workflow.wait_condition(workflow.all_handlers_finished)
                self._show()
                return
            if workflow.info().is_continue_as_new_suggested():
                break
            try:
                await workflow.wait_condition(
                    lambda: self._wake,
                    timeout=timedelta(seconds=plan.progress_every_seconds),
                    timeout_summary="Count the remediations",
                )
            except TimeoutError:
                pass
            self._wake = False
        await self._continue_as_new()

    async def _count(self) -> None:
        s = self._state
        s.progress = await call(
            RecallActivities.record_recall,
            s,
            summary=f"Count recall {s.declaration.recall_id}",
            timeout=FAN_OUT_TIMEOUT,
        )
        status = RecallStatus.CLOSED if s.closed_at else s.status
        workflow.upsert_search_attributes([sa.RECALL_STATUS.value_set([status.value])])
        self._show()

    async def _continue_as_new(self) -> None:
        await workflow.wait_condition(workflow.all_handlers_finished)
        s = self._state
        carry = s.model_copy(
            update={"in_flight": sorted(self._in_flight), "run": s.run + 1, "signing": self._signing.carry()}
        )
        workflow.continue_as_new(carry)

    # -- the revision that ends it -------------------------------------------------------------

    @workflow.update
    async def record_revision(self, request: RecordRevisionRequest) -> RecallResult:
        async with self._lock, self._signing.turn():
            recheck(self._validate_revision, request)
            s = self._state
            s.revision = RecallRevision(
                revision=request.revision.strip(),
                new_version=request.new_version.strip(),
                recorded_by=request.actor,
                recorded_at=workflow.now(),
            )
            self._wake = True
            self._show()
            left = s.progress.affected - s.progress.remediated
            tail = "the recall closes now" if left <= 0 else f"the recall closes once {left} remediation(s) are done"
            return RecallResult(
                recall_id=s.declaration.recall_id,
                status=s.status,
                message=f"revision {s.revision.new_version} recorded by {request.actor}; {tail}",
            )

    @record_revision.validator
    def _validate_revision(self, request: RecordRevisionRequest) -> None:
        problem = rules.revision_refusal(self._state, request)
        if problem:
            raise Refused(problem)
        self._signing.check(request)  # who acts is proven (issue 16)

    @workflow.signal
    async def refresh_staff_keys(self) -> None:
        """A key was registered or revoked (``complaints keys register|revoke|refresh``)."""
        await self._signing.refresh()

    @workflow.query
    def status(self) -> RecallState:
        return self._state.model_copy(update={"in_flight": sorted(self._in_flight)})

    # -- helpers -------------------------------------------------------------------------------

    def _plan(self) -> RecallPlan:
        assert self._state.plan is not None, "planned before the fan-out"
        return self._state.plan

    def _show(self, stage: str | None = None) -> None:
        workflow.set_current_details(stage or details(self._state, len(self._in_flight)))


def details(state: RecallState, in_flight: int = 0) -> str:
    """What managers read in the Web UI: the recall, its progress, what is next."""
    d, p = state.declaration, state.progress
    lines = [
        f"**Recall {d.recall_id}:** {d.product_label} ({d.product}), declared by {d.declared_by} "
        f"{fmt_utc(d.declared_at)}; remedy {d.remedy.value}",
        f"**Reason:** {d.reason}",
        f"**Scope:** {d.scope}",
        f"**Status:** {state.status.value} (run {state.run})",
        f"**Progress:** {p.affected} affected; {p.told} told; {p.opened} remediations open; "
        f"{p.remediated} remediated; {p.overdue} fell overdue ({p.overdue_open} overdue now)",
    ]
    if state.status == RecallStatus.FANNING_OUT:
        lines.append(f"**Fan-out:** {state.started} started, {in_flight} being told and opened now")
    if state.refused:
        lines.append(f"**Refused:** {state.refused}; nothing was recorded")
        return "\n\n".join(lines)
    if state.revision:
        r = state.revision
        lines.append(f"**Revision** {r.new_version} by {r.recorded_by} {fmt_utc(r.recorded_at)}: {r.revision}")
    elif state.closed_at is None:
        lines.append(
            f"**Next:** a senior manager records the revision that ends it: `complaints recall revise "
            f"{d.recall_id} --as <id> --revision ... --new-version ...`"
        )
    if state.closed_at:
        lines.append(f"**Closed** {fmt_utc(state.closed_at)}")
    return "\n\n".join(lines)


@workflow.defn(versioning_behavior=VersioningBehavior.AUTO_UPGRADE)
class RemediationWorkflow:
    @workflow.init
    def __init__(self, request: RemediationRequest) -> None:
        self._state = RemediationState(request=request)
        self._lock = asyncio.Lock()  # the overdue step and ``complete`` one after the other
        self._signing = StaffSignatures()

    @workflow.run
    async def run(self, request: RemediationRequest) -> RemediationState:
        state = self._state
        self._show("Telling the customer and linking their complaints")
        # A local activity: run in this workflow task, recorded as one marker event (10,000
        # remediations make the fan-out, and the server's work, as lean as possible). It signals
        # the recall itself once the customer is told and opened (a retry signals again: the
        # recall frees a slot once).
        opened = await workflow.execute_local_activity_method(
            RecallActivities.open_remediation,
            request,
            start_to_close_timeout=timedelta(minutes=2),
            retry_policy=RETRY,
            summary=f"Tell {request.customer_id}, link their complaints, open, tell the recall",
        )
        state.opened = opened
        self._show()
        # Loaded once the customer is told and the recall's slot freed: the fan-out does not wait
        # for it (``complete`` before then is refused as "still being loaded").
        await self._signing.load()
        remaining = (opened.due_at - workflow.now()).total_seconds()
        if remaining > 0:
            try:
                await workflow.wait_condition(
                    self._done, timeout=remaining, timeout_summary=f"Remediation due {fmt_utc(opened.due_at)}"
                )
            except TimeoutError:
                pass
        async with self._lock:
            if not self._done():
                state.status, state.overdue_at = RemediationStatus.OVERDUE, workflow.now()
                workflow.upsert_search_attributes([sa.RECALL_STATUS.value_set([state.status.value])])
                self._show()
                await self._call(RecallActivities.record_remediation_overdue, f"Record {request.customer_id} overdue")
        await workflow.wait_condition(self._done)
        await workflow.wait_condition(workflow.all_handlers_finished)
        return state

    @workflow.update
    async def complete(self, request: CompleteRemediationRequest) -> RemediationResult:
        await workflow.wait_condition(lambda: self._state.opened is not None)
        async with self._lock, self._signing.turn():
            recheck(self._validate_complete, request)
            state = self._state
            state.status, state.remediated_at = RemediationStatus.REMEDIATED, workflow.now()
            state.remediated_by, state.note = request.actor, request.note.strip()
            state.reference = request.reference
            workflow.upsert_search_attributes([sa.RECALL_STATUS.value_set([state.status.value])])
            self._show()
            await self._call(RecallActivities.record_remediated, f"Record {state.request.customer_id} remediated")
            ref = f" ({request.reference})" if request.reference else ""
            return RemediationResult(
                recall_id=state.request.recall_id,
                customer_id=state.request.customer_id,
                status=state.status,
                message=f"remediated, recorded by {request.actor}{ref}",
            )

    @complete.validator
    def _validate_complete(self, request: CompleteRemediationRequest) -> None:
        problem = rules.complete_refusal(self._state, request)
        if problem:
            raise Refused(problem)
        self._signing.check(request)  # who acts is proven (issue 16)

    @workflow.signal
    async def refresh_staff_keys(self) -> None:
        """A key was registered or revoked (``complaints keys register|revoke|refresh``)."""
        await self._signing.refresh()

    @workflow.query
    def status(self) -> RemediationState:
        return self._state

    def _done(self) -> bool:
        return self._state.remediated_at is not None

    async def _call(self, method: Callable[..., Any], summary: str) -> Any:
        return await call(method, self._state, summary=summary)

    def _show(self, stage: str | None = None) -> None:
        s, r = self._state, self._state.request
        if stage:
            workflow.set_current_details(f"**Remediation of {r.customer_id}** (recall {r.recall_id}): {stage}")
            return
        lines = [f"**Remediation of {r.customer_id}** in recall {r.recall_id} ({r.product}): {r.remedy.value}"]
        if s.opened:
            told = "told now" if s.opened.told_now else "told before"
            linked = ", ".join(s.opened.complaints) or "none"
            lines.append(
                f"**Opened** {fmt_utc(s.opened.opened_at)}, due {fmt_utc(s.opened.due_at)}; customer {told}; "
                f"complaints linked: {linked}"
            )
        lines.append(f"**Status:** {s.status.value}")
        if s.overdue_at:
            lines.append(f"**Overdue since** {fmt_utc(s.overdue_at)}: {r.owner} told")
        if s.remediated_at:
            ref = f" ({s.reference})" if s.reference else ""
            lines.append(f"**Remediated** {fmt_utc(s.remediated_at)} by {s.remediated_by}{ref}: {s.note}")
        else:
            lines.append(f"**Next:** `complaints recall remediate {r.recall_id} {r.customer_id} --as <id> --note ...`")
        workflow.set_current_details("\n\n".join(lines))

"""Step 5: EarlyWarningWorkflow, one customer's risk early-warning case, until it is closed.

Workflow id ``early-warning-<customer_id>``: one case per customer at a time. It is started with
signal-with-start (``complaints/risk.py``): the first ``add_signal`` is the crossing that opens
it; a later one (a new signal, the score again over the threshold) joins the open case.

1. plan it (an activity: the acknowledge and act clocks on the policy's calendar, who works it:
   the staff of the policy's ``risk.roles``, and their managers for a breach), record it, tell
   the workers;
2. wait on named timers for the acknowledge and act clocks: a clock not met when due is breached
   and the workers' managers are told (once each);
3. ``acknowledge``, ``act`` (what was done) and ``close`` (an outcome) are updates whose
   validators say who may (a worker of the case or their manager);
4. closed, the workflow ends; the next crossing opens a new case. A signal that came in while it
   was closing is carried into a new run (continue-as-new) rather than dropped.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import datetime

from temporalio import workflow
from temporalio.common import VersioningBehavior

with workflow.unsafe.imports_passed_through():
    import domain.risk as risk_rules
    from activities.risk import RiskActivities
    from domain.rules import Refused
    from domain.times import fmt_utc
    from models import search_attributes as sa
    from models.risk import (
        RiskScore,
        WarningAction,
        WarningActionResult,
        WarningEntry,
        WarningNotice,
        WarningPlan,
        WarningStart,
        WarningState,
        WarningStatus,
    )
    from workflows.handlers import recheck
    from workflows.options import call
    from workflows.signing import StaffSignatures


def refusal(state: WarningState, action: str, request: WarningAction) -> str | None:
    """Why ``request`` may not ``action`` the case (None: it may). Pure, for the validators."""
    plan = state.plan
    if plan is None:
        return f"the early warning for {state.customer_id} is still being set up; try again in a moment"
    if request.customer_id != state.customer_id:
        return f"this case is {state.customer_id}'s, not {request.customer_id}'s"
    if state.status == WarningStatus.CLOSED:
        return f"the early warning for {state.customer_id} was closed {fmt_utc(state.closed_at)} by {state.closed_by}"
    if request.actor not in plan.workers and request.actor not in plan.escalate_to:
        return (
            f"{request.actor} may not {action} this early warning: the case's workers "
            f"({', '.join(plan.workers) or 'none'}) or their managers ({', '.join(plan.escalate_to) or 'none'}) may"
        )
    if action == "acknowledge" and state.acknowledged_at is not None:
        return f"already acknowledged {fmt_utc(state.acknowledged_at)} by {state.acknowledged_by}"
    if action == "close" and request.outcome is None:
        return "closing needs an outcome"
    if action != "close" and request.outcome is not None:
        return "an outcome is given only when closing"
    return None


@workflow.defn(versioning_behavior=VersioningBehavior.AUTO_UPGRADE)
class EarlyWarningWorkflow:
    @workflow.init
    def __init__(self, start: WarningStart) -> None:
        self._state = WarningState(customer_id=start.customer_id, workflow_id=workflow.info().workflow_id)
        self._pending: list[RiskScore] = list(start.carried)
        self._lock = asyncio.Lock()  # the clocks' steps, joined signals and staff actions one at a time
        self._signing = StaffSignatures(start.signing)

    @workflow.signal
    def add_signal(self, score: RiskScore) -> None:
        """A crossing or a new signal for the customer: opens the case or joins it."""
        self._pending.append(score)

    @workflow.run
    async def run(self, start: WarningStart) -> WarningState:
        state = self._state
        await self._signing.load()
        self._show(f"**Early warning:** {start.customer_id}, waiting for the crossing that opens it")
        await workflow.wait_condition(lambda: bool(self._pending))
        first = self._pending.pop(0)
        state.score = first
        plan: WarningPlan = await call(
            RiskActivities.plan_warning, workflow.now(), summary=f"Plan the early warning for {start.customer_id}"
        )
        state.plan = plan
        self._entry("opened", "system", f"{first.points} points (threshold {first.threshold}): " + _rules(first))
        self._search_attributes()
        await self._record(f"Record the early warning for {start.customer_id}")
        await self._notify(
            "opened",
            "risk_warning_opened",
            plan.workers,
            f"Early warning: {start.customer_id} at {first.points} points (threshold {first.threshold})",
            "\n".join(risk_rules.explain(first))
            + f"\nAcknowledge by {fmt_utc(plan.acknowledge_due)}, act by {fmt_utc(plan.act_due)}: "
            f"complaints risk show {start.customer_id}",
        )
        while not self._closed():
            due = self._next_due()
            timeout = None if due is None else max((due[0] - workflow.now()).total_seconds(), 0.001)
            try:
                await workflow.wait_condition(
                    self._woken(due),
                    timeout=timeout,
                    timeout_summary=None if due is None else f"{due[1].capitalize()} due {fmt_utc(due[0])}",
                )
            except TimeoutError:
                async with self._lock:
                    if due is not None and not self._closed() and self._next_due() == due:
                        await self._breach(due[1])
            if self._pending and not self._closed():
                async with self._lock:
                    await self._join()
        await workflow.wait_condition(workflow.all_handlers_finished)
        if self._pending:  # crossings that came in while it was closing open the next case
            carried = WarningStart(customer_id=start.customer_id, carried=self._pending, signing=self._signing.carry())
            workflow.continue_as_new(carried)
        return state

    # -- the clocks and joined signals --------------------------------------------------------

    def _woken(self, due: tuple[datetime, str] | None) -> Callable[[], bool]:
        """Wake for a signal to join, the case closed, or the clock waited on settled."""
        return lambda: bool(self._pending) or self._closed() or self._next_due() != due

    def _next_due(self) -> tuple[datetime, str] | None:
        s, plan = self._state, self._plan()
        if s.acknowledged_at is None and s.acknowledge_breached_at is None:
            return plan.acknowledge_due, "acknowledge"
        if s.acted_at is None and s.act_breached_at is None:
            return plan.act_due, "act"
        return None

    async def _breach(self, clock: str) -> None:
        s, plan = self._state, self._plan()
        now = workflow.now()
        if clock == "acknowledge":
            s.acknowledge_breached_at = now
        else:
            s.act_breached_at = now
        self._entry(
            f"{clock}_breached", "system", f"not {clock}d by {fmt_utc(now)}; told {', '.join(plan.escalate_to)}"
        )
        await self._record(f"Record the {clock} clock breached")
        await self._notify(
            f"{clock}_breached",
            "risk_warning_breached",
            sorted({*plan.workers, *plan.escalate_to}),
            f"BREACHED: the early warning for {s.customer_id} was not {clock}d by {fmt_utc(now)}",
            f"Opened {fmt_utc(plan.opened_at)} at {s.score.points if s.score else '?'} points. "
            f"complaints risk show {s.customer_id}",
        )

    async def _join(self) -> None:
        s = self._state
        scores, self._pending = self._pending, []
        latest = scores[-1]
        before = s.score.points if s.score else 0
        s.score = latest
        for score in scores:
            self._entry("signal", "system", f"joined: {score.points} points (was {before}): " + _rules(score))
            before = score.points
        await self._record(f"Record {len(scores)} signal(s) joined, now {latest.points} points")

    # -- staff actions ------------------------------------------------------------------------

    @workflow.update
    async def acknowledge(self, request: WarningAction) -> WarningActionResult:
        async with self._lock, self._signing.turn():
            recheck(self._validate_acknowledge, request)
            s = self._state
            s.acknowledged_at, s.acknowledged_by = workflow.now(), request.actor
            s.status = WarningStatus.ACKNOWLEDGED
            return await self._done(request, "acknowledged", f"acknowledged by {request.actor}")

    @acknowledge.validator
    def _validate_acknowledge(self, request: WarningAction) -> None:
        self._refuse("acknowledge", request)

    @workflow.update
    async def act(self, request: WarningAction) -> WarningActionResult:
        async with self._lock, self._signing.turn():
            recheck(self._validate_act, request)
            s = self._state
            now = workflow.now()
            if s.acknowledged_at is None:  # acting is acknowledging too
                s.acknowledged_at, s.acknowledged_by = now, request.actor
            if s.acted_at is None:
                s.acted_at, s.acted_by = now, request.actor
            s.status = WarningStatus.ACTING
            return await self._done(request, "acted", f"action recorded by {request.actor}")

    @act.validator
    def _validate_act(self, request: WarningAction) -> None:
        self._refuse("act on", request)

    @workflow.update
    async def close(self, request: WarningAction) -> WarningActionResult:
        async with self._lock, self._signing.turn():
            recheck(self._validate_close, request)
            s = self._state
            assert request.outcome is not None
            s.closed_at, s.closed_by, s.outcome = workflow.now(), request.actor, request.outcome
            s.status = WarningStatus.CLOSED
            return await self._done(request, "closed", f"closed by {request.actor}: {request.outcome.value}")

    @close.validator
    def _validate_close(self, request: WarningAction) -> None:
        self._refuse("close", request)

    @workflow.signal
    async def refresh_staff_keys(self) -> None:
        """A key was registered or revoked (``complaints keys register|revoke|refresh``)."""
        await self._signing.refresh()

    @workflow.query
    def status(self) -> WarningState:
        return self._state

    # -- helpers ------------------------------------------------------------------------------

    def _refuse(self, action: str, request: WarningAction) -> None:
        problem = refusal(self._state, action, request)
        if problem:
            raise Refused(problem)
        self._signing.check(request)  # who acts is proven (issue 16)

    async def _done(self, request: WarningAction, kind: str, message: str) -> WarningActionResult:
        outcome = f"outcome {request.outcome.value}: " if request.outcome else ""
        self._entry(kind, request.actor, outcome + request.note)
        self._search_attributes()
        await self._record(f"Record the early warning {kind} by {request.actor}")
        s = self._state
        return WarningActionResult(customer_id=s.customer_id, status=s.status, message=f"{s.customer_id}: {message}")

    def _closed(self) -> bool:
        return self._state.status == WarningStatus.CLOSED

    def _plan(self) -> WarningPlan:
        assert self._state.plan is not None, "planned before any step or action"
        return self._state.plan

    def _entry(self, kind: str, by: str, text: str) -> None:
        self._state.history.append(WarningEntry(at=workflow.now(), kind=kind, by=by, text=text[:2000]))
        self._show()

    def _search_attributes(self) -> None:
        workflow.upsert_search_attributes(
            [
                sa.RISK_WARNING.value_set(self._state.status.value),
                sa.CUSTOMER_ID.value_set(self._state.customer_id),
            ]
        )

    async def _record(self, summary: str) -> None:
        await call(RiskActivities.record_warning, self._state, summary=summary)

    async def _notify(self, key: str, kind: str, recipients: list[str], subject: str, body: str) -> None:
        if not recipients:
            return
        run_id = workflow.info().run_id
        await call(
            RiskActivities.notify_warning,
            WarningNotice(
                idempotency_key=f"risk:{run_id}:{key}",
                customer_id=self._state.customer_id,
                kind=kind,
                recipients=recipients,
                subject=subject,
                body=body,
            ),
            summary=f"Notify {', '.join(recipients)}: {key}",
        )

    def _show(self, stage: str | None = None) -> None:
        workflow.set_current_details(stage or details(self._state))


def _rules(score: RiskScore) -> str:
    return "; ".join(f"{f.rule} +{f.points}" for f in score.fired) or "no rule fired"


def details(state: WarningState) -> str:
    """What the risk team reads in the Web UI: whose case, the score and why, the clocks."""
    lines = [f"**Early warning:** customer {state.customer_id}, {state.status.value}"]
    if state.score:
        lines.append(f"**Score:** {state.score.points} (threshold {state.score.threshold})")
        lines += [f"- {f.rule} +{f.points}: {f.why}" for f in state.score.fired]
    plan = state.plan
    if plan:
        ack = (
            f"acknowledged {fmt_utc(state.acknowledged_at)} by {state.acknowledged_by}"
            if state.acknowledged_at
            else f"acknowledge by {fmt_utc(plan.acknowledge_due)}"
        )
        acted = (
            f"acted {fmt_utc(state.acted_at)} by {state.acted_by}"
            if state.acted_at
            else f"act by {fmt_utc(plan.act_due)}"
        )
        lines.append(f"**Clocks:** {ack}; {acted}")
        if state.acknowledge_breached_at or state.act_breached_at:
            lines.append(f"**Breached:** managers told ({', '.join(plan.escalate_to)})")
        lines.append(f"**Worked by:** {', '.join(plan.workers) or 'nobody'}")
    if state.closed_at and state.outcome:
        lines.append(f"**Closed** {fmt_utc(state.closed_at)} by {state.closed_by}: {state.outcome.value}")
    else:
        lines.append(f"**Next:** `complaints risk act|close {state.customer_id} --as <id> ...`")
    return "\n\n".join(lines)

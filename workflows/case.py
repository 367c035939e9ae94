"""The complaint's case file and what every step does with it: record, notify, plan, publish.

``Case`` is a plain object the workflow class builds in ``init``; the step modules are
functions over it. It holds the state (snapshot, roster, pinned rules, the clock board) and
the lock that makes staff actions act one after the other, and it is the one place that
calls the shared activities (by method reference), so histories stay lean: an activity gets
what it needs, never the case file.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Iterable
from contextlib import asynccontextmanager
from datetime import timedelta
from typing import Any

from temporalio import workflow

from activities.classification import ClassificationActivities
from activities.notifications import NotificationActivities
from activities.projection import ProjectionActivities
from activities.staff import StaffActivities
from domain import rules
from domain.clocks import ClockBoard
from domain.rules import Refused
from models.actions import Action, ActionResult
from models.clocks import Clock, PlanClockRequest
from models.complaint import (
    CLOSED_STATUSES,
    ComplaintEvent,
    ComplaintEventBatch,
    ComplaintFacts,
    ComplaintProjection,
    ComplaintSnapshot,
    ComplaintWorkflowInput,
    Status,
    WithdrawRequest,
)
from models.notifications import (
    CustomerAddress,
    CustomerNotification,
    StaffNotification,
)
from models.policy import HandlingRules, Role
from models.signature import SigningMode
from models.staff import HandlerChoice, HandlerChoiceRequest, RosterEntry
from workflows import presentation
from workflows.options import ACTIVITY_TIMEOUT, RETRY
from workflows.signing import SIGNED_ALONE, SignedActions


class Case:
    """One complaint's state and ports. Built in the workflow's ``init``; no I/O of its own."""

    def __init__(self, input: ComplaintWorkflowInput) -> None:
        self.snap = ComplaintSnapshot(
            complaint_id=input.complaint_id,
            workflow_id=workflow.info().workflow_id,
            status=Status.RECEIVED,
            intake=input.intake,
        )
        self.seq = 0
        self.roster: dict[str, RosterEntry] = {}
        self._rules: HandlingRules | None = None
        self.handling = False  # staff may act (intake is done, the roster is loaded)
        self.withdrawal: WithdrawRequest | None = None
        self.continue_as_new = False
        self.revisits_this_run = 0
        self.report_tasks: list[asyncio.Task[None]] = []
        self.investigation_task: asyncio.Task[None] | None = None
        self.investigation_started = False
        # Set by ``adopt_patches`` at the start of every run (old histories replay without them).
        self.serialized = False
        self.lean = False
        self.board = ClockBoard(lambda: self.snap.clocks)
        self._lock = asyncio.Lock()
        self._published: dict[str, Any] = {}
        self._pending: list[ComplaintEvent] = []  # audit events not yet written (lean runs)
        self.signing = SignedActions()
        if input.carried is not None:
            carried = input.carried
            self.snap, self.seq = carried.snapshot, carried.seq
            self.roster = {e.staff_id: e for e in carried.roster}
            self._rules = carried.rules
            self.signing = SignedActions(carried.keys, carried.nonces)
            self.handling = True

    def adopt_patches(self, serialized_lean: bool) -> None:
        self.serialized = self.lean = serialized_lean
        self.board = ClockBoard(lambda: self.snap.clocks, late_is_breach=serialized_lean)

    # -- state ------------------------------------------------------------------------------

    @property
    def rules(self) -> HandlingRules:
        assert self._rules is not None, "the pinned rules come with classification"
        return self._rules

    @rules.setter
    def rules(self, value: HandlingRules | None) -> None:
        self._rules = value

    def closing(self) -> bool:
        return self.withdrawal is not None or self.snap.status in CLOSED_STATUSES

    def investigation_done(self) -> bool:
        return self.investigation_task is None or self.investigation_task.done()

    def with_role(self, *roles: Role) -> list[str]:
        return [e.staff_id for e in self.roster.values() if e.role in roles]

    @asynccontextmanager
    async def exclusive(self) -> AsyncIterator[None]:
        """Staff actions (and the system's own) one after the other, so none acts on stale state."""
        if not self.serialized:
            yield
            return
        async with self._lock:
            try:
                async with self.signing.turn(self.signing_window(), self._signed_alone):
                    yield
            finally:
                await self.flush()

    # -- what validators share ---------------------------------------------------------------

    def actor(self, request: Action, action: str | None = None) -> RosterEntry:
        """The acting member of staff, once their signature holds (``signing``); else ``Refused``.

        Every staff action's validator calls this, and its handler again (``recheck``) inside
        ``exclusive``: there the checked signature is held and, when the action went through,
        its nonce remembered and the signed request written to the audit log. ``action`` is the
        update running, or the signal's name.
        """
        if not self.handling:
            rules.require_open(self.snap)
            raise Refused(f"complaint {self.snap.complaint_id} is still in intake; try again shortly")
        entry = rules.actor_entry(self.roster, request.actor)  # an unknown actor is named as such first
        self.signing.check(self.signing_mode(), self.signing_window(), request, action)
        return entry

    def signing_mode(self) -> SigningMode:
        """The pinned policy's; off until the rules are known and in runs from before lean histories."""
        if self._rules is None or not self.lean:
            return SigningMode.OFF
        return self._rules.signing_mode

    async def _signed_alone(self, actor: str, detail: dict[str, Any]) -> None:
        self._append(SIGNED_ALONE, actor=actor, detail=detail)

    def signing_window(self) -> timedelta:
        return timedelta(seconds=self._rules.signing_window_seconds if self._rules else 300)

    def result(self, message: str) -> ActionResult:
        return ActionResult(complaint_id=self.snap.complaint_id, status=self.snap.status.value, message=message)

    # -- ports: the shared activities ----------------------------------------------------------

    async def call(self, method: Callable[..., Any], arg: Any, *, summary: str) -> Any:
        """A short activity: our own database, the policy, or one notice (outbox, SMTP, SMS).

        In runs since lean histories it is a local activity: one marker in the history, its
        input not stored, and no round trip to the server. Each is idempotent on its key, so a
        retry after a worker dies sends nothing twice. Regulator reports, which retry for
        hours and escalate, stay ordinary activities.
        """
        if self.lean:
            return await workflow.execute_local_activity_method(
                method, arg, start_to_close_timeout=ACTIVITY_TIMEOUT, retry_policy=RETRY, summary=summary
            )
        return await workflow.execute_activity_method(
            method, arg, start_to_close_timeout=ACTIVITY_TIMEOUT, retry_policy=RETRY, summary=summary
        )

    def reserve_seq(self) -> int:
        """The next audit-log number, taken before any await (keys built from it stay unique)."""
        self.seq += 1
        return self.seq

    async def record(
        self, kind: str, *, actor: str = "system", detail: dict[str, Any] | None = None, seq: int | None = None
    ) -> None:
        """Append to the audit log (and the projection): what changed, not the case file.

        In lean runs the event waits for ``flush``, which writes a step's events together:
        at the end of every staff action and system step (``exclusive``), of intake, and
        before the run ends.
        """
        if self.lean:
            self._append(kind, actor=actor, detail=detail, seq=seq)
            return
        seq = seq if seq is not None else self.reserve_seq()
        snap = self.snap
        # A run that started before events were lean sends what it always sent.
        event = ComplaintEvent(
            complaint_id=snap.complaint_id,
            seq=seq,
            kind=kind,
            at=workflow.now(),
            actor=actor,
            detail=detail or {},
            snapshot=snap.model_copy(deep=True),
        )
        await self.call(ProjectionActivities.record_complaint_event, event, summary=f"Record '{kind}' in the case file")

    def _append(self, kind: str, *, actor: str, detail: dict[str, Any] | None, seq: int | None = None) -> None:
        """A lean run's event, pending until ``flush``."""
        seq = seq if seq is not None else self.reserve_seq()
        signed = self.signing.attach(actor)
        self._pending.append(
            ComplaintEvent(
                complaint_id=self.snap.complaint_id,
                seq=seq,
                kind=kind,
                at=workflow.now(),
                actor=actor,
                detail={**(detail or {}), "signed": signed} if signed else detail or {},
                projection=ComplaintProjection.of(self.snap),
                facts=ComplaintFacts.of(self.snap) if seq == 1 else None,
            )
        )

    async def flush(self) -> None:
        """Write the pending audit events (one local activity for the lot)."""
        if not self._pending:
            return
        batch, self._pending = self._pending, []
        kinds = ", ".join(e.kind for e in batch)
        await self.call(
            ProjectionActivities.record_complaint_events,
            ComplaintEventBatch(complaint_id=self.snap.complaint_id, events=batch),
            summary=f"Record {kinds} in the case file",
        )

    async def notify_customer(
        self, key: str, kind: str, context: dict[str, Any], *, once_per_customer: bool = False
    ) -> None:
        """``once_per_customer``: the key is the customer's, not the complaint's (an incident's
        holding reply goes once to a customer however many of their complaints it links)."""
        intake = self.snap.intake
        scope = f"customer:{intake.customer.customer_id}" if once_per_customer else self.snap.complaint_id
        await self.call(
            NotificationActivities.notify_customer,
            CustomerNotification(
                idempotency_key=f"{scope}:{key}",
                complaint_id=self.snap.complaint_id,
                kind=kind,
                policy_version=self.rules.policy_version,
                context=context,
                **({"to": CustomerAddress.of(intake)} if self.lean else {"intake": intake}),
            ),
            summary=f"Send the customer: {kind.replace('_', ' ')}",
        )

    async def notify_staff(self, key: str, recipients: list[str], subject: str, body: str) -> None:
        if not recipients:
            return
        await self.call(
            NotificationActivities.notify_staff,
            StaffNotification(
                idempotency_key=f"{self.snap.complaint_id}:{key}",
                complaint_id=self.snap.complaint_id,
                kind=key.split(":")[0],
                recipients=recipients,
                subject=subject,
                body=body,
            ),
            summary=f"Notify {', '.join(recipients)}",
        )

    async def plan(self, summary: str, **request: Any) -> Clock:
        """A clock under the complaint's pinned policy (see ``PlanClockRequest``)."""
        clock: Clock = await self.call(
            ClassificationActivities.plan_clock,
            PlanClockRequest(complaint_id=self.snap.complaint_id, policy_version=self.rules.policy_version, **request),
            summary=summary,
        )
        return clock

    async def choose_handler(self, summary: str, *, also_exclude: Iterable[str] = ()) -> HandlerChoice:
        """A handler by skills, language and workload; never anyone the complaint implicates."""
        snap = self.snap
        exclude = rules.implicated_staff(snap) | set(also_exclude)
        choice: HandlerChoice = await self.call(
            StaffActivities.choose_handler,
            HandlerChoiceRequest(
                complaint_id=snap.complaint_id,
                category=snap.intake.category.value,
                language=snap.intake.customer.language,
                exclude=sorted(exclude),
                tier=snap.classification.tier.value if snap.classification else None,
                policy_version=self._rules.policy_version if self._rules else None,
            ),
            summary=summary,
        )
        return choice

    async def assign(self, handler: str, team: list[str], *, actor: str, reason: str) -> None:
        """Hand the complaint to a handler (and team): by a manager, the system, or recusal."""
        snap = self.snap
        previous = snap.assignee
        snap.assignee, snap.team = handler, team
        if snap.status == Status.AWAITING_ASSIGNMENT:
            snap.status = Status.IN_HANDLING
        self.publish()
        seq = self.reserve_seq()
        await self.notify_staff(
            f"assigned:{seq}",
            [handler, *team],
            f"Complaint {snap.complaint_id} is yours",
            f"{snap.intake.summary}\nNext deadline: {presentation.fmt_utc(snap.next_deadline)}",
        )
        await self.record(
            "reassigned" if previous else "assigned",
            actor=actor,
            seq=seq,
            detail={"handler": handler, "team": team, "previous": previous, "reason": reason},
        )

    # -- what the Web UI shows -------------------------------------------------------------------

    def publish(self) -> None:
        """Search attributes and current details in step with the state.

        A search attribute is upserted only when its value changed (runs from before that
        upsert the whole set each time, as their histories recorded).
        """
        wanted = presentation.search_attributes(self.snap)
        if self.lean:
            changed = [u for name, u in wanted.items() if self._published.get(name) != u]
            self._published.update(wanted)
        else:
            changed = list(wanted.values())
        if changed:
            workflow.upsert_search_attributes(changed)
        self.describe(self.snap.status.value.replace("_", " ").capitalize())

    def describe(self, stage: str) -> None:
        workflow.set_current_details(presentation.details(self.snap, stage, handling=self.handling))

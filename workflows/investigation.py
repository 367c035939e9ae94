"""InvestigationWorkflow: the internal investigation of one major complaint (step 2).

Started by the complaint, at once, when it becomes major; owned by compliance. Findings,
evidence, the people responsible and the accountability decision are validated updates by
the roles the policy names; staff the investigation implicates take no part in it (回避).
Its own clock warns the lead and escalates a breach to senior management. It cannot be
dropped: there is no cancel action, and the complaint cannot be resolved without its outcome,
which is this workflow's result.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import datetime, timedelta
from typing import Any

from temporalio import workflow
from temporalio.common import VersioningBehavior

with workflow.unsafe.imports_passed_through():
    import workflows.investigation_links as links
    import workflows.presentation as presentation
    from activities.classification import ClassificationActivities
    from activities.investigation import InvestigationActivities
    from activities.notifications import NotificationActivities
    from activities.staff import StaffActivities
    from domain import investigation as checks
    from domain.clocks import ClockBoard, EventKind
    from models.actions import Action, InvestigationOutcomeRequest
    from models.clocks import Clock, PlanClockRequest
    from models.investigation import (
        DEFAULT_ACCOUNTABILITY_DECIDERS,
        AccountabilityDecision,
        AccountabilityRecordRequest,
        AccountabilityRequest,
        AssignInvestigatorRequest,
        ConcludeInvestigationRequest,
        EvidenceItem,
        EvidenceRequest,
        FlaggedComplaint,
        FlagOpenComplaintsRequest,
        InvestigationActionResult,
        InvestigationEvent,
        InvestigationFile,
        InvestigationFinding,
        InvestigationFindingRequest,
        InvestigationInput,
        InvestigationResult,
        InvestigationStage,
        InvestigationStatusQuery,
        ResponsibleNamed,
        ResponsibleRequest,
    )
    from models.notifications import StaffNotification
    from models.policy import Accountability, Role
    from models.signature import SigningMode
    from models.staff import RosterEntry, RosterRequest, StaffKeys
    from workflows.clocks import run_clocks
    from workflows.handlers import recheck
    from workflows.legacy import SERIALIZED_LEAN
    from workflows.options import ACTIVITY_TIMEOUT, RETRY
    from workflows.presentation import fmt_utc
    from workflows.signing import SIGNED_ALONE, SignedActions


@workflow.defn(versioning_behavior=VersioningBehavior.AUTO_UPGRADE)
class InvestigationWorkflow:
    @workflow.init
    def __init__(self, input: InvestigationInput) -> None:
        self._input = input
        self._roster: dict[str, RosterEntry] = {e.staff_id: e for e in input.roster}
        self._file = InvestigationFile(
            investigation_id=workflow.info().workflow_id,
            complaint_id=input.complaint_id,
            scope=input.scope,
            reason=input.reason,
            opened_at=workflow.now(),
            implicated=sorted(set(input.implicated)),
        )
        self._deciders = input.rules.accountability_deciders or DEFAULT_ACCOUNTABILITY_DECIDERS
        self._seq = 0
        self._ready = False
        self._serialized = False  # set by run (investigations started on older code replay without it)
        self._lock = asyncio.Lock()
        self._board = ClockBoard(lambda: [self._file.clock] if self._file.clock else [])
        self._signing = SignedActions(input.keys)

    async def _call(self, method: Callable[..., Any], arg: Any, *, summary: str) -> Any:
        """Our own database or the policy: a local activity in runs since lean histories."""
        if self._serialized:
            return await workflow.execute_local_activity_method(
                method, arg, start_to_close_timeout=ACTIVITY_TIMEOUT, retry_policy=RETRY, summary=summary
            )
        return await workflow.execute_activity_method(
            method, arg, start_to_close_timeout=ACTIVITY_TIMEOUT, retry_policy=RETRY, summary=summary
        )

    @asynccontextmanager
    async def _exclusive(self) -> AsyncIterator[None]:
        """Actions one after the other, so none acts on what another is about to change."""
        if not self._serialized:
            yield
            return
        async with self._lock, self._signing.turn(self._signing_window, self._signed_alone):
            yield

    async def _signed_alone(self, actor: str, detail: dict[str, Any]) -> None:
        await self._record(SIGNED_ALONE, actor=actor, detail=detail)

    @property
    def _signing_window(self) -> timedelta:
        return timedelta(seconds=self._input.rules.signing_window_seconds)

    @workflow.run
    async def run(self, input: InvestigationInput) -> InvestigationResult:
        file = self._file
        self._serialized = workflow.patched(SERIALIZED_LEAN)
        self._board = ClockBoard(
            lambda: [self._file.clock] if self._file.clock else [], late_is_breach=self._serialized
        )
        file.clock = await self._call(
            ClassificationActivities.plan_clock,
            PlanClockRequest(
                complaint_id=input.complaint_id,
                policy_version=input.rules.policy_version,
                started_at=file.opened_at,
                purpose="investigation",
            ),
            summary="Start the investigation clock",
        )
        file.lead = self._available_investigator()
        self._ready = True
        self._publish()
        await self._record(
            "investigation_opened",
            detail={
                "lead": file.lead,
                "due_at": file.clock.due_at.isoformat(),
                "implicated": file.implicated,
                "reason": file.reason,
            },
        )
        compliance = self._with_role(Role.COMPLIANCE, Role.SENIOR_MANAGER)
        await self._notify(
            "opened",
            compliance,
            f"Investigation of {file.complaint_id} opened",
            f"{input.summary}\nLead: {file.lead or 'nobody available: assign one'}; "
            f"due {fmt_utc(file.clock.due_at)}. Recused: {', '.join(file.implicated) or 'nobody'}.",
        )
        await self._tell_complaint()
        await self._run_clock()
        await workflow.wait_condition(workflow.all_handlers_finished)
        decision = file.decision
        assert decision is not None and file.concluded_by and file.concluded_at and file.conclusion
        return InvestigationResult(
            investigation_id=file.investigation_id,
            lead=file.lead,
            concluded_by=file.concluded_by,
            concluded_at=file.concluded_at,
            evidence=len(file.evidence),
            breached=file.breached,
            outcome=InvestigationOutcomeRequest(
                actor=file.concluded_by,
                findings=file.conclusion,
                responsible=file.people_responsible,
                accountability=decision.decision,
                suspected_illegal=file.suspected_illegal,
            ),
        )

    # -- the clock ----------------------------------------------------------------------

    async def _run_clock(self) -> None:
        await run_clocks(
            self._board,
            warning_fraction=lambda: self._input.rules.warning_fraction,
            stop=lambda: self._file.stage != InvestigationStage.OPEN,
            on_warning=self._warn,
            on_breach=self._breach,
            summary=_timer_summary,
        )

    async def _warn(self, clock: Clock) -> None:
        file = self._file
        async with self._exclusive():
            self._board.warn(clock, workflow.now())
            await self._notify(
                "warning",
                [r for r in [file.lead, self._manager_of(file.lead)] if r],
                f"Investigation of {file.complaint_id} due {fmt_utc(clock.due_at)}",
                f"{len(file.findings)} finding(s), {len(file.evidence)} evidence reference(s) so far.",
            )
            self._publish()
            await self._record("investigation_warning", detail={"due_at": clock.due_at.isoformat()})

    async def _breach(self, clock: Clock) -> None:
        file = self._file
        async with self._exclusive():
            self._board.breach(clock, workflow.now())
            self._publish()
            seniors = self._with_role(Role.SENIOR_MANAGER)
            await self._notify(
                "breached",
                [r for r in dict.fromkeys([file.lead, *seniors]) if r],
                f"BREACHED: investigation of {file.complaint_id}",
                f"Was due {fmt_utc(clock.due_at)}; lead {file.lead or 'none'}. It stays open until concluded.",
            )
            await self._record("investigation_breached", detail={"due_at": clock.due_at.isoformat()})
            await self._tell_complaint()

    # -- staff actions (updates with validators) ------------------------------------------

    def _actor(self, request: Action, roles: tuple[Role, ...], action: str) -> RosterEntry:
        """The participant acting, once their signature holds (``workflows.signing``, as a complaint checks it)."""
        entry = checks.require_participant(self._file, self._roster, request.actor, roles, action, ready=self._ready)
        mode = self._input.rules.signing_mode if self._serialized else SigningMode.OFF
        self._signing.check(mode, self._signing_window, request)
        return entry

    def _result(self, message: str, flagged: list[FlaggedComplaint] | None = None) -> InvestigationActionResult:
        return InvestigationActionResult(
            investigation_id=self._file.investigation_id,
            complaint_id=self._file.complaint_id,
            stage=self._file.stage.value,
            message=message,
            flagged=flagged or [],
        )

    @workflow.update
    async def assign_investigator(self, request: AssignInvestigatorRequest) -> InvestigationActionResult:
        async with self._exclusive():
            recheck(self._validate_assign, request)
            previous, self._file.lead = self._file.lead, request.lead
            self._publish()
            self._seq += 1
            seq = self._seq  # taken before the notice goes out, so its key is this action's own
            await self._notify(
                f"lead:{seq}",
                [request.lead],
                f"You lead the investigation of {self._file.complaint_id}",
                f"{self._file.scope}\nDue {fmt_utc(self._file.next_deadline)}. {request.reason}",
            )
            await self._record(
                "investigator_assigned",
                actor=request.actor,
                seq=seq,
                detail={"lead": request.lead, "previous": previous, "reason": request.reason},
            )
            await self._tell_complaint()
            return self._result(f"{request.lead} leads the investigation")

    @assign_investigator.validator
    def _validate_assign(self, request: AssignInvestigatorRequest) -> None:
        self._actor(request, (Role.COMPLIANCE, Role.SENIOR_MANAGER), "assign an investigator")
        checks.check_assign(self._file, self._roster, request)

    @workflow.update
    async def record_finding(self, request: InvestigationFindingRequest) -> InvestigationActionResult:
        async with self._exclusive():
            recheck(self._validate_finding, request)
            self._file.findings.append(
                InvestigationFinding(by=request.actor, at=workflow.now(), summary=request.summary)
            )
            self._publish()
            await self._record("finding_recorded", actor=request.actor, detail={"summary": request.summary})
            return self._result(f"finding {len(self._file.findings)} recorded")

    @record_finding.validator
    def _validate_finding(self, request: InvestigationFindingRequest) -> None:
        self._actor(request, (Role.COMPLIANCE,), "record investigation findings")

    @workflow.update
    async def add_evidence(self, request: EvidenceRequest) -> InvestigationActionResult:
        async with self._exclusive():
            recheck(self._validate_evidence, request)
            self._file.evidence.append(EvidenceItem(by=request.actor, at=workflow.now(), evidence=request.evidence))
            self._publish()
            await self._record(
                "evidence_added",
                actor=request.actor,
                detail={"uri": request.evidence.uri, "sha256": request.evidence.sha256},
            )
            return self._result(f"evidence {len(self._file.evidence)} on file")

    @add_evidence.validator
    def _validate_evidence(self, request: EvidenceRequest) -> None:
        self._actor(request, (Role.COMPLIANCE,), "add evidence")
        checks.check_evidence(self._file, request)

    @workflow.update
    async def name_responsible(self, request: ResponsibleRequest) -> InvestigationActionResult:
        async with self._exclusive():
            recheck(self._validate_responsible, request)
            file = self._file
            file.responsible.append(
                ResponsibleNamed(
                    by=request.actor, at=workflow.now(), staff_ids=list(request.staff_ids), reason=request.reason
                )
            )
            file.implicated = sorted(set(file.implicated) | set(request.staff_ids))
            message = f"named responsible: {', '.join(request.staff_ids)} (now recused)"
            if file.lead in request.staff_ids:
                file.lead = self._available_investigator()
                message += f"; the lead passes to {file.lead or 'nobody: assign one'}"
            self._publish()
            await self._record(
                "responsible_named",
                actor=request.actor,
                detail={"staff_ids": request.staff_ids, "reason": request.reason, "lead": file.lead},
            )
            await self._tell_complaint()
            return self._result(message)

    @name_responsible.validator
    def _validate_responsible(self, request: ResponsibleRequest) -> None:
        self._actor(request, (Role.COMPLIANCE,), "name the people responsible")
        checks.check_responsible(self._file, self._roster, request)

    @workflow.update
    async def decide_accountability(self, request: AccountabilityRequest) -> InvestigationActionResult:
        async with self._exclusive():
            recheck(self._validate_accountability, request)
            previous = self._file.decision
            self._file.accountability.append(
                AccountabilityDecision(
                    by=request.actor, at=workflow.now(), decision=request.decision, reason=request.reason
                )
            )
            self._publish()
            await self._record(
                "accountability_decided",
                actor=request.actor,
                detail={
                    "decision": request.decision,
                    "reason": request.reason,
                    "replaces": previous.decision if previous else None,
                },
            )
            return self._result(
                f"accountability: {request.decision}" + (f" (was {previous.decision})" if previous else "")
            )

    @decide_accountability.validator
    def _validate_accountability(self, request: AccountabilityRequest) -> None:
        self._actor(request, checks.deciders(self._deciders, request.decision), f"decide '{request.decision}'")
        checks.check_accountability(self._file, request)

    @workflow.update
    async def conclude(self, request: ConcludeInvestigationRequest) -> InvestigationActionResult:
        async with self._exclusive():
            recheck(self._validate_conclude, request)
            file, now = self._file, workflow.now()
            decision = file.decision
            assert decision is not None and file.clock is not None
            file.stage, file.concluded_by, file.concluded_at = InvestigationStage.CONCLUDED, request.actor, now
            file.conclusion, file.suspected_illegal = request.summary, request.suspected_illegal
            self._board.settle(file.clock, now, "concluded")
            self._publish()
            await self._record(
                "investigation_concluded",
                actor=request.actor,
                detail={
                    "accountability": decision.decision,
                    "responsible": file.people_responsible,
                    "suspected_illegal": request.suspected_illegal,
                },
            )
            if decision.decision != "none" and file.people_responsible:
                await self._call(
                    InvestigationActivities.record_accountability,
                    AccountabilityRecordRequest(
                        investigation_id=file.investigation_id,
                        complaint_id=file.complaint_id,
                        policy_version=self._input.rules.policy_version,
                        staff_ids=file.people_responsible,
                        decision=decision.decision,
                        decided_on=decision.at,
                        reason=decision.reason,
                    ),
                    summary=f"Service history: {decision.decision} for {', '.join(file.people_responsible)}",
                )
            flagged: list[FlaggedComplaint] = []
            if decision.decision in (Accountability.WARNING, Accountability.DISCIPLINARY) and file.people_responsible:
                # Someone held to account may be handling other customers now: their managers should look.
                flagged = await self._flag(
                    file.people_responsible,
                    "system",
                    f"{decision.decision} decided in investigation {file.investigation_id}",
                )
            return self._result(
                f"investigation concluded: accountability {decision.decision}"
                + (f"; {len(flagged)} other open complaint(s) flagged for review" if flagged else ""),
                flagged,
            )

    @conclude.validator
    def _validate_conclude(self, request: ConcludeInvestigationRequest) -> None:
        self._actor(request, (Role.COMPLIANCE,), "conclude an investigation")
        checks.check_conclude(self._file, evidence_required=self._input.rules.evidence_required)

    @workflow.update
    async def flag_open_complaints(self, request: FlagOpenComplaintsRequest) -> InvestigationActionResult:
        async with self._exclusive():
            recheck(self._validate_flag, request)
            staff = list(request.staff_ids) or list(self._file.implicated)
            flagged = await self._flag(
                staff, request.actor, request.reason or f"implicated in {self._file.investigation_id}"
            )
            return self._result(f"{len(flagged)} open complaint(s) flagged for review", flagged)

    @flag_open_complaints.validator
    def _validate_flag(self, request: FlagOpenComplaintsRequest) -> None:
        self._actor(request, checks.FLAGGERS, "flag complaints for review")
        checks.check_flag(self._file, request)

    @workflow.signal
    async def refresh_staff_keys(self) -> None:
        """A key was registered, rotated or revoked: read the directory's keys again."""
        async with self._exclusive():
            request = RosterRequest(complaint_id=self._file.complaint_id)
            summary = "Reload the staff's signing keys"
            fresh: StaffKeys = await self._call(StaffActivities.load_staff_keys, request, summary=summary)
            self._signing.refresh(fresh.keys)

    @workflow.query
    def status(self) -> InvestigationStatusQuery:
        return InvestigationStatusQuery(file=self._file, events_recorded=self._seq)

    # -- helpers ---------------------------------------------------------------------------

    async def _flag(self, staff_ids: list[str], actor: str, reason: str) -> list[FlaggedComplaint]:
        """Tell each other open complaint of these staff that it needs a manager's review."""
        flagged = await links.flag_open_complaints(self._call, self._file, staff_ids, actor, reason)
        await self._record(
            "complaints_flagged",
            actor=actor,
            detail={
                "staff_ids": sorted(set(staff_ids)),
                "complaints": [f.complaint_id for f in flagged if f.delivered],
            },
        )
        return flagged

    async def _tell_complaint(self) -> None:
        await links.tell_complaint(self._input.complaint_workflow_id, self._file)

    def _available_investigator(self) -> str | None:
        free = [s for s in self._with_role(Role.COMPLIANCE) if s not in self._file.implicated]
        return free[0] if free else None

    def _with_role(self, *roles: Role) -> list[str]:
        return sorted(e.staff_id for e in self._roster.values() if e.role in roles)

    def _manager_of(self, staff_id: str | None) -> str | None:
        entry = self._roster.get(staff_id) if staff_id else None
        return entry.manager_id if entry else None

    def _publish(self) -> None:
        workflow.upsert_search_attributes(presentation.investigation_search_attributes(self._file))
        workflow.set_current_details(presentation.investigation_details(self._file))

    async def _notify(self, key: str, recipients: list[str], subject: str, body: str) -> None:
        if not recipients:
            return
        file = self._file
        await self._call(
            NotificationActivities.notify_staff,
            StaffNotification(
                idempotency_key=f"{file.complaint_id}:investigation:{key}",
                complaint_id=file.complaint_id,
                kind=f"investigation_{key.split(':')[0]}",
                recipients=recipients,
                subject=subject,
                body=body,
            ),
            summary=f"Notify {', '.join(recipients)}",
        )

    async def _record(
        self, kind: str, *, actor: str = "system", detail: dict[str, Any] | None = None, seq: int | None = None
    ) -> None:
        if seq is None:
            self._seq += 1
            seq = self._seq
        signed = self._signing.attach(actor)
        if signed:
            detail = {**(detail or {}), "signed": signed}
        await self._call(
            InvestigationActivities.record_investigation_event,
            InvestigationEvent(
                investigation_id=self._file.investigation_id,
                complaint_id=self._file.complaint_id,
                seq=seq,
                kind=kind,
                at=workflow.now(),
                actor=actor,
                detail=detail or {},
                file=self._file.model_copy(deep=True),
            ),
            summary=f"Record '{kind}' in the investigation file",
        )


def _timer_summary(clock: Clock, kind: EventKind, at: datetime) -> str:
    return f"Investigation {kind} {fmt_utc(at)}"

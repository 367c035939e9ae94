"""Step 2, tiered handling: route by tier, assign a handler, run the SLA clocks (warning, breach
and escalation, pause while waiting for the customer, extension, re-applied policy), escalate.

Simple: a handler resolves it. Complex: legal and management evaluate. Major: compliance
investigates (``step2_investigation``) and regulators hear of it (``step2_regulator``).
"""

from __future__ import annotations

from collections.abc import Awaitable
from datetime import timedelta

from temporalio import workflow

from activities.classification import ClassificationActivities
from activities.staff import StaffActivities
from domain import clocks, rules
from domain.rules import MANAGERS, Refused
from models.actions import (
    ActionResult,
    AssignRequest,
    EscalateSignal,
    ExtensionRequest,
    InformationReceived,
    InformationRequest,
    ReapplyPolicyRequest,
)
from models.case_file import Escalation, InformationRequestRecord
from models.clocks import Clock, ClockState, ReplanRequest, ReplanResult
from models.complaint import Status
from models.intake import Channel
from models.policy import Role, Tier
from models.regulator import ReportReason
from models.signature import SigningMode
from models.staff import RosterRequest, StaffKeys, StaffRoster
from workflows import legacy, metrics, step2_investigation, step2_regulator
from workflows.case import Case
from workflows.clocks import run_clocks
from workflows.handlers import recheck
from workflows.presentation import fmt_utc


async def start(case: Case) -> None:
    """Load the roster, route by tier, open any regulator reports, assign, then keep the clocks."""
    snap = case.snap
    roster: StaffRoster = await case.call(
        StaffActivities.load_staff_roster,
        RosterRequest(complaint_id=snap.complaint_id),
        summary="Load the staff directory",
    )
    case.roster = {e.staff_id: e for e in roster.entries}
    case.signing.refresh(roster.keys)
    cls = snap.classification
    await route_to_tier(case, snap.tier, f"rule {cls.rule_id}: {cls.matched}" if cls else "classified major")
    if snap.tier == Tier.MAJOR and snap.intake.regulators and legacy.newer(case, legacy.REGULATOR_REPORTS):
        reason: ReportReason = (
            "referred_by_regulator" if snap.intake.channel == Channel.REGULATOR_REFERRAL else "lodged_with_regulator"
        )
        for regulator in snap.intake.regulators:
            await step2_regulator.open_thread(case, regulator, reason)
    choice = await case.choose_handler("Choose a handler by skills and workload")
    case.handling = True
    async with case.exclusive():
        if choice.staff_id and not case.closing():
            await case.assign(choice.staff_id, [], actor="system", reason=choice.reason)
        elif not case.closing():
            await case.notify_staff(
                "assignment_needed", case.with_role(*MANAGERS), "Complaint needs a handler", choice.reason
            )
            await case.record("assignment_needed", detail={"reason": choice.reason})
    await keep_clocks(case)


async def keep_clocks(case: Case) -> None:
    """Sleep until the next warning or deadline, or until an action changes the clocks."""
    await run_clocks(
        case.board,
        warning_fraction=lambda: case.rules.warning_fraction,
        stop=lambda: case.closing() or case.continue_as_new,
        on_warning=lambda clock: _exclusively(case, warn(case, clock)),
        on_breach=lambda clock: _exclusively(case, breach(case, clock)),
    )


async def _exclusively(case: Case, action: Awaitable[None]) -> None:
    async with case.exclusive():
        await action


async def warn(case: Case, clock: Clock) -> None:
    snap = case.snap
    case.board.warn(clock, workflow.now())
    metrics.clock("warning", clock.name)
    manager = rules.escalation_target(snap, case.roster, 1)
    recipients = [r for r in dict.fromkeys([snap.assignee, manager]) if r]
    await case.notify_staff(
        f"sla_warning:{clock.name}:{clock.extensions_used}",
        recipients,
        f"{clock.label} due {fmt_utc(clock.due_at)}",
        f"{snap.complaint_id}: {clock.label} falls due at {fmt_utc(clock.due_at)}.",
    )
    case.publish()
    await case.record("sla_warning", detail={"clock": clock.name, "due_at": clock.due_at.isoformat()})


async def breach(case: Case, clock: Clock) -> None:
    snap = case.snap
    case.board.breach(clock, workflow.now())
    metrics.clock("breach", clock.name)
    snap.escalation_level += 1
    snap.escalated_to = rules.escalation_target(snap, case.roster, snap.escalation_level)
    case.publish()
    recipients = [r for r in dict.fromkeys([snap.escalated_to, snap.assignee]) if r]
    await case.notify_staff(
        f"sla_breached:{clock.name}:{clock.extensions_used}",
        recipients,
        f"BREACHED: {clock.label} ({snap.complaint_id})",
        f"{clock.label} was due {fmt_utc(clock.due_at)}. Escalated to {snap.escalated_to or 'management'} "
        f"(level {snap.escalation_level}).",
    )
    await case.record(
        "sla_breached",
        detail={
            "clock": clock.name,
            "due_at": clock.due_at.isoformat(),
            "escalated_to": snap.escalated_to,
            "escalation_level": snap.escalation_level,
        },
    )


async def route_to_tier(case: Case, tier: Tier | None, reason: str) -> None:
    """Complex: legal and management evaluate; major: compliance investigates, management knows."""
    snap = case.snap
    if tier == Tier.MAJOR and legacy.newer(case, legacy.INVESTIGATION_WORKFLOW):
        await step2_investigation.start(case, reason)
    elif tier == Tier.MAJOR:
        await legacy.announce_major(case)
    elif tier == Tier.COMPLEX:
        await case.notify_staff(
            "complex_complaint",
            case.with_role(Role.LEGAL, Role.MANAGER),
            f"Complex complaint {snap.complaint_id}: legal and manager evaluation needed",
            snap.intake.summary,
        )


# -- staff actions ---------------------------------------------------------------------------


def validate_assign(case: Case, request: AssignRequest) -> None:
    snap, entry = case.snap, case.actor(request)
    rules.require_open(snap)
    rules.require_role(entry, MANAGERS, "assign a complaint")
    handler = rules.actor_entry(case.roster, request.handler_id)
    rules.require_role(handler, (Role.HANDLER,), "handle a complaint")
    for member in [request.handler_id, *request.team]:
        rules.actor_entry(case.roster, member)
        rules.require_not_implicated(snap, member)


async def assign(case: Case, request: AssignRequest) -> ActionResult:
    async with case.exclusive():
        recheck(lambda r: validate_assign(case, r), request)
        await case.assign(request.handler_id, list(request.team), actor=request.actor, reason=request.reason)
        return case.result(f"assigned to {request.handler_id}")


def validate_information_request(case: Case, request: InformationRequest) -> None:
    entry = case.actor(request)
    rules.require_status(case.snap, (Status.IN_HANDLING,), "request information from the customer")
    rules.require_holder(case.snap, entry, "request information from the customer")


async def request_information(case: Case, request: InformationRequest) -> ActionResult:
    async with case.exclusive():
        recheck(lambda r: validate_information_request(case, r), request)
        snap, now = case.snap, workflow.now()
        snap.status = Status.AWAITING_CUSTOMER_INFO
        snap.information_requests.append(
            InformationRequestRecord(requested_by=request.actor, requested_at=now, requested=request.requested)
        )
        paused = case.rules.pause_while_awaiting_customer
        if paused:
            # Reports owed to a regulator run on while the customer is silent (older runs paused them).
            reports_run_on = workflow.patched(legacy.REPORTS_RUN_WHILE_WAITING)
            case.board.pause(now, keep=clocks.runs_while_waiting if reports_run_on else clocks.only_the_acknowledgement)
        case.publish()
        await case.notify_customer(
            f"information_request:{len(snap.information_requests)}",
            "information_request",
            {"requested": request.requested, "paused": paused},
        )
        await case.record(
            "information_requested",
            actor=request.actor,
            detail={"requested": request.requested, "clocks_paused": paused},
        )
        return case.result("information requested" + (", clocks paused" if paused else ""))


def validate_information_received(case: Case, request: InformationReceived) -> None:
    entry = case.actor(request)
    rules.require_status(case.snap, (Status.AWAITING_CUSTOMER_INFO,), "record the customer's information")
    rules.require_holder(case.snap, entry, "record the customer's information")


async def information_received(case: Case, request: InformationReceived) -> ActionResult:
    async with case.exclusive():
        recheck(lambda r: validate_information_received(case, r), request)
        snap, now = case.snap, workflow.now()
        snap.status = Status.IN_HANDLING
        open_request = snap.information_requests[-1]
        open_request.received_at, open_request.note = now, request.note
        moved = case.board.resume(now)
        case.publish()
        await case.record(
            "information_received", actor=request.actor, detail={"note": request.note, "deadlines_moved_seconds": moved}
        )
        return case.result(f"information received; deadlines moved by {moved:.0f} s")


def decision_clock(case: Case) -> Clock | None:
    return case.board.latest("regulatory_decision")


def validate_extension(case: Case, request: ExtensionRequest) -> None:
    snap, entry = case.snap, case.actor(request)
    rules.require_open(snap)
    clock = decision_clock(case)
    if clock is None or clock.state not in (ClockState.RUNNING, ClockState.PAUSED):
        raise Refused("the regulatory decision clock is not running, so there is nothing to extend")
    if clock.extensions_used >= len(case.rules.extensions):
        raise Refused(f"no further extension: the rule pack allows {len(case.rules.extensions)}")
    spec = case.rules.extensions[clock.extensions_used]
    rules.require_role(entry, spec.approver_roles, f"approve '{spec.label}'")
    rules.require_not_implicated(snap, request.actor)


async def extend(case: Case, request: ExtensionRequest) -> ActionResult:
    async with case.exclusive():
        recheck(lambda r: validate_extension(case, r), request)
        clock = decision_clock(case)
        assert clock is not None
        index = clock.extensions_used
        planned = await case.plan(
            f"Compute the extended deadline ({case.rules.extensions[index].label})",
            started_at=clock.started_at,
            extension_index=index,
        )
        clock.due_at = planned.due_at + timedelta(seconds=clock.paused_seconds)
        clock.extended, clock.limit, clock.warned_at = planned.label, planned.limit, None
        clock.extensions_used += 1
        case.board.changed = True
        case.publish()
        await case.notify_customer(
            f"extension:{index}",
            "extension",
            {"label": planned.label, "new_due": clock.due_at.isoformat(), "reason": request.reason},
        )
        await case.record(
            "deadline_extended",
            actor=request.actor,
            detail={"extension": planned.label, "due_at": clock.due_at.isoformat(), "reason": request.reason},
        )
        return case.result(f"{planned.label}: decision now due {fmt_utc(clock.due_at)}")


def validate_reapply(case: Case, request: ReapplyPolicyRequest) -> None:
    entry = case.actor(request)
    rules.require_open(case.snap)
    rules.require_role(entry, MANAGERS, "re-apply the policy")


async def reapply_policy(case: Case, request: ReapplyPolicyRequest) -> ActionResult:
    async with case.exclusive():
        recheck(lambda r: validate_reapply(case, r), request)
        snap = case.snap
        assert snap.tier is not None and snap.classification is not None
        result: ReplanResult = await case.call(
            ClassificationActivities.replan_clocks,
            ReplanRequest(
                complaint_id=snap.complaint_id, tier=snap.tier, clocks=list(snap.clocks), flags=list(snap.intake.flags)
            ),
            summary="Re-apply the policy in force to the clocks",
        )
        previous = case.rules.policy_version
        signing_was = case.signing_mode()
        case.rules = result.rules
        if signing_was is SigningMode.OFF and case.signing_mode() is not SigningMode.OFF:
            if workflow.patched(legacy.SIGNING_KEYS_ON_REAPPLY):  # signing on from now: its keys too
                case.signing.refresh((await _load_keys(case)).keys)
        snap.clocks = list(result.clocks)
        snap.classification = snap.classification.model_copy(update={"policy_version": result.rules.policy_version})
        case.board.changed = True
        case.publish()
        await case.record(
            "policy_reapplied",
            actor=request.actor,
            detail={"from": previous, "to": result.rules.policy_version, "reason": request.reason},
        )
        return case.result(f"policy {result.rules.policy_version} applied (was {previous})")


async def refresh_keys(case: Case) -> None:
    """A key was registered, rotated or revoked (``complaints keys``): read the directory's keys again."""
    await workflow.wait_condition(lambda: case.handling or case.closing())
    if case.closing():
        return
    async with case.exclusive():
        case.signing.refresh((await _load_keys(case)).keys)


async def _load_keys(case: Case) -> StaffKeys:
    keys: StaffKeys = await case.call(
        StaffActivities.load_staff_keys,
        RosterRequest(complaint_id=case.snap.complaint_id),
        summary="Reload the staff's signing keys",
    )
    return keys


async def escalate(case: Case, request: EscalateSignal) -> None:
    """Raise the tier and re-route. A signal cannot be refused, so a bad one is recorded as refused."""
    await workflow.wait_condition(lambda: case.handling or case.closing())
    async with case.exclusive():
        snap = case.snap
        try:
            entry = case.actor(request, "escalate")
            rules.require_open(snap)
            if entry.role in (Role.RELATIONSHIP_MANAGER,):
                raise Refused(f"{entry.staff_id} is {entry.role.value} and cannot escalate complaints")
            if snap.tier == Tier.MAJOR:
                raise Refused("the complaint is already major")
        except Refused as refusal:
            case.signing.drop()
            await case.record("escalation_refused", actor=request.actor, detail={"reason": str(refusal)})
            return
        assert snap.classification is not None
        old, new = snap.classification.tier, rules.raised_tier(snap.classification.tier, request.to_tier)
        now = workflow.now()
        clock = await case.plan(f"Start the {new.value}-tier clock", started_at=now, tier=new)
        # Tier, escalation record and clocks change together, so no query sees half of it.
        snap.classification = snap.classification.model_copy(update={"tier": new})
        snap.escalations.append(Escalation(at=now, by=request.actor, reason=request.reason, from_tier=old, to_tier=new))
        for existing in case.board.named([f"{old.value}_first_response"]):
            case.board.stop(existing)
        case.board.plan(clock)
        case.publish()
        await route_to_tier(case, new, f"escalated by {request.actor}: {request.reason}")
        await case.record(
            "escalated",
            actor=request.actor,
            detail={"from_tier": old.value, "to_tier": new.value, "reason": request.reason},
        )

"""What the complaint allows, who may act, and when clocks warn: pure functions.

Validators call these and raise ``Refused`` with a sentence; nothing here does I/O, so
it is safe in the workflow sandbox and testable without a server.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from decimal import Decimal

from models.complaint import CLOSED_STATUSES, ComplaintSnapshot, Status
from models.intake import Money
from models.policy import TIER_RANK, HandlingRules, Role, Tier
from models.staff import RosterEntry

MANAGERS = (Role.MANAGER, Role.SENIOR_MANAGER)
HANDLING = (Status.IN_HANDLING, Status.AWAITING_CUSTOMER_INFO)
# Who makes the follow-up call when no colleague outside the handling was free.
NO_INDEPENDENT_CALLER = "a manager (nobody independent of the handling was free)"


class Refused(ValueError):
    """An action the complaint does not allow now; the message says why."""


class UnknownStaff(Refused):
    """A staff id the loaded directory does not hold (the actor, or someone the action names)."""


def _names(items: Iterable[object]) -> str:
    return ", ".join(str(getattr(i, "value", i)) for i in items)


def actor_entry(roster: Mapping[str, RosterEntry], actor: str) -> RosterEntry:
    entry = roster.get(actor)
    if entry is None:
        raise UnknownStaff(f"{actor} is not an active member of the staff directory")
    return entry


def require_open(snap: ComplaintSnapshot) -> None:
    if snap.status in CLOSED_STATUSES:
        raise Refused(f"complaint {snap.complaint_id} is closed ({snap.status.value})")


def require_status(snap: ComplaintSnapshot, allowed: Iterable[Status], action: str) -> None:
    require_open(snap)
    allowed = tuple(allowed)
    if snap.status not in allowed:
        raise Refused(f"cannot {action} while the complaint is {snap.status.value} (only when {_names(allowed)})")


def require_role(entry: RosterEntry, roles: Iterable[Role], action: str) -> None:
    roles = tuple(roles)
    if entry.role not in roles:
        raise Refused(f"{entry.staff_id} is {entry.role.value}; to {action} takes {_names(roles)}")


def implicated_staff(snap: ComplaintSnapshot) -> set[str]:
    """Staff the complaint is about: they never handle, evaluate or approve it (回避)."""
    named = {getattr(snap.intake.details, "staff_id", None)}
    if snap.investigation:
        named |= set(snap.investigation.implicated)
        if snap.investigation.outcome:
            named |= set(snap.investigation.outcome.responsible)
    return {n for n in named if n}


def require_not_implicated(snap: ComplaintSnapshot, staff_id: str) -> None:
    if staff_id in implicated_staff(snap):
        raise Refused(f"{staff_id} is named in complaint {snap.complaint_id} and must recuse themselves")


def require_holder(snap: ComplaintSnapshot, entry: RosterEntry, action: str) -> None:
    require_not_implicated(snap, entry.staff_id)
    if entry.staff_id != snap.assignee and entry.staff_id not in snap.team:
        holder = snap.assignee or "nobody yet"
        raise Refused(f"only the handler ({holder}) or the complaint's team may {action}")


def require_caller_or_manager(snap: ComplaintSnapshot, entry: RosterEntry, action: str) -> None:
    """After the decision: the follow-up caller, the complaint's handler or team, or a manager."""
    callers = {snap.assignee, *snap.team, snap.follow_up.caller if snap.follow_up else None}
    if entry.staff_id not in callers and entry.role not in MANAGERS:
        raise Refused(f"only the follow-up caller, the complaint's team or a manager may {action}")


def require_follow_up_caller(snap: ComplaintSnapshot, entry: RosterEntry, *, different_caller: bool) -> None:
    """Who records the follow-up call.

    With the policy's ``different_caller`` the call is independent of the handling: the chosen
    caller makes it, or a manager takes it over; the handler and the complaint's team never
    (a manager among them neither), nor anyone the complaint implicates. Without it, as after
    the decision in general: the caller, the handler or team, or a manager.
    """
    action = "record the follow-up call"
    if not different_caller:
        require_caller_or_manager(snap, entry, action)
        return
    require_not_implicated(snap, entry.staff_id)
    caller = snap.follow_up.caller if snap.follow_up else None
    who = f"the chosen caller ({caller}) or a manager taking over" if caller else NO_INDEPENDENT_CALLER
    if entry.staff_id == snap.assignee or entry.staff_id in snap.team:
        relation = "handles" if entry.staff_id == snap.assignee else "is on the team of"
        raise Refused(
            f"{entry.staff_id} {relation} complaint {snap.complaint_id}; the policy wants the follow-up call "
            f"made by someone independent of the handling: {who}"
        )
    if entry.staff_id != caller and entry.role not in MANAGERS:
        raise Refused(f"only {who} may {action}")


def follow_up_taken_over_from(snap: ComplaintSnapshot, entry: RosterEntry) -> str | None:
    """The chosen caller a manager takes the follow-up call over from (None: the caller calls,
    or nobody was chosen and a manager calls as they were asked to)."""
    caller = snap.follow_up.caller if snap.follow_up else None
    if caller and entry.role in MANAGERS and entry.staff_id != caller:
        return caller
    return None


def missing_before_customer(snap: ComplaintSnapshot) -> list[str]:
    """What must be on file before anything goes to the customer, by tier."""
    missing: list[str] = []
    if snap.tier in (Tier.COMPLEX, Tier.MAJOR):
        if snap.legal_evaluation is None:
            missing.append("legal evaluation")
        if snap.manager_evaluation is None:
            missing.append("manager evaluation")
    if snap.tier == Tier.MAJOR and (snap.investigation is None or snap.investigation.outcome is None):
        missing.append("internal investigation outcome")
    return missing


def require_ready_for_customer(snap: ComplaintSnapshot, action: str) -> None:
    missing = missing_before_customer(snap)
    if missing:
        raise Refused(
            f"cannot {action} for a {snap.tier.value if snap.tier else ''} complaint before the {', '.join(missing)}"
        )


def require_policy_currency(remedies: Mapping[str, Money | None], currency: str) -> None:
    """Remedies are in the policy's currency: the approval matrix converts nothing, so a remedy
    in another currency would otherwise count as 0 against it and need no more than a manager."""
    for field, money in remedies.items():
        if money is not None and money.currency != currency:
            raise Refused(
                f"{field}.currency: {money.currency} is not the policy's currency; remedies are "
                f"proposed and approved in {currency}"
            )


def approver_roles(rules: HandlingRules, total: Decimal) -> list[Role]:
    for level in rules.approval_matrix:
        if level.up_to is None or total <= level.up_to:
            return list(level.approver_roles)
    raise AssertionError("policy validation guarantees an unbounded last level")  # pragma: no cover


def raised_tier(current: Tier, requested: Tier | None) -> Tier:
    """One level up, or the requested tier when that is higher; never down."""
    order = sorted(TIER_RANK, key=TIER_RANK.__getitem__)
    one_up = order[min(TIER_RANK[current] + 1, len(order) - 1)]
    if requested is not None and TIER_RANK[requested] > TIER_RANK[one_up]:
        return requested
    return one_up


def escalation_target(snap: ComplaintSnapshot, roster: Mapping[str, RosterEntry], level: int) -> str | None:
    """Who holds the complaint at an escalation level: the handler's manager, then theirs."""
    holder = snap.assignee
    for _ in range(level):
        entry = roster.get(holder) if holder else None
        holder = entry.manager_id if entry and entry.manager_id else None
        if holder is None:
            seniors = sorted(e.staff_id for e in roster.values() if e.role == Role.SENIOR_MANAGER)
            return seniors[0] if seniors else None
    return holder

"""The pure rules validators call: who may act, the approval limit, escalation, warnings (no server)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from complaints.config import PROJECT_ROOT
from domain import rules
from domain.classification import handling_rules
from domain.clocks import warning_at
from domain.policy import load_policy
from domain.rules import Refused
from models.actions import InvestigationOutcomeRequest
from models.case_file import Evaluation, FollowUp, Investigation
from models.clocks import Clock
from models.complaint import Classification, ComplaintSnapshot, Status
from models.intake import ComplaintIntake
from models.policy import Role, Tier
from models.staff import RosterEntry
from tests.factories import CATEGORY_DETAILS, intake_payload

POLICIES = {name: load_policy(PROJECT_ROOT / "policies" / f"{name}.yaml") for name in ("standard", "compressed")}
T0 = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)


def entry(staff_id: str, role: Role, manager_id: str | None = None) -> RosterEntry:
    return RosterEntry(staff_id=staff_id, name=staff_id, role=role, team="t", manager_id=manager_id)


def snapshot(
    category: str = "fees_and_interest", *, named: str | None = None, tier: Tier | None = None, **fields: Any
) -> ComplaintSnapshot:
    details = {**CATEGORY_DETAILS[category], **({"staff_id": named} if named else {})}
    intake = ComplaintIntake.model_validate(intake_payload(category, details=details))
    classification = (
        None
        if tier is None
        else Classification(
            category=intake.category, tier=tier, rule_id="r", rule_description="d", matched="m", policy_version="v"
        )
    )
    fields.setdefault("status", Status.IN_HANDLING)
    return ComplaintSnapshot(
        complaint_id="CMP-1", workflow_id="complaint-CMP-1", intake=intake, classification=classification, **fields
    )


def evaluation() -> Evaluation:
    return Evaluation(by="x", at=T0, opinion="ok")


def investigation(*, implicated: tuple[str, ...] = (), responsible: list[str] | None = None) -> Investigation:
    outcome = (
        None
        if responsible is None
        else InvestigationOutcomeRequest(
            actor="S-CMP-001", findings="f", responsible=responsible, accountability="warning"
        )
    )
    return Investigation(opened_by="S-CMP-001", opened_at=T0, scope="s", implicated=list(implicated), outcome=outcome)


# -- the approval limit ------------------------------------------------------------------


@pytest.mark.parametrize("policy", sorted(POLICIES))
def test_the_approval_limit_is_inclusive_at_50000(policy: str) -> None:
    handling = handling_rules(POLICIES[policy])
    assert [level.up_to for level in handling.approval_matrix] == [Decimal(50000), None]
    lower, upper = [Role.MANAGER, Role.SENIOR_MANAGER], [Role.SENIOR_MANAGER]

    assert rules.approver_roles(handling, Decimal("0")) == lower
    assert rules.approver_roles(handling, Decimal("49999.99")) == lower
    assert rules.approver_roles(handling, Decimal("50000")) == lower, "exactly the limit stays at the lower level"
    assert rules.approver_roles(handling, Decimal("50000.00")) == lower
    assert rules.approver_roles(handling, Decimal("50000.01")) == upper, "a cent above goes to the next level"
    assert rules.approver_roles(handling, Decimal("186000")) == upper


# -- warnings ------------------------------------------------------------------------------


@pytest.mark.parametrize("policy", sorted(POLICIES))
def test_the_warning_comes_at_the_policys_fraction_of_the_time(policy: str) -> None:
    fraction = POLICIES[policy].warning_fraction
    assert fraction == 0.8
    clock = Clock(name="c", label="l", limit="100 s", source="s", started_at=T0, due_at=T0 + timedelta(seconds=100))

    assert warning_at(clock, fraction) == T0 + timedelta(seconds=80)


def test_paused_time_is_not_counted_towards_the_warning() -> None:
    # 100 s of budget, paused for 20 s: the due time moved to 120 s, the warning to 100 s.
    clock = Clock(
        name="c",
        label="l",
        limit="100 s",
        source="s",
        started_at=T0,
        due_at=T0 + timedelta(seconds=120),
        paused_seconds=20,
    )

    assert warning_at(clock, 0.8) == T0 + timedelta(seconds=100)
    assert warning_at(clock, 0.5) == T0 + timedelta(seconds=70)
    assert warning_at(clock, 1.0) == clock.due_at


# -- escalation ----------------------------------------------------------------------------

ROSTER = {
    e.staff_id: e
    for e in [
        entry("H-1", Role.HANDLER, manager_id="M-1"),
        entry("M-1", Role.MANAGER, manager_id="M-2"),
        entry("M-2", Role.MANAGER),
        entry("SM-B", Role.SENIOR_MANAGER),
        entry("SM-A", Role.SENIOR_MANAGER),
    ]
}


@pytest.mark.parametrize(("level", "target"), [(0, "H-1"), (1, "M-1"), (2, "M-2"), (3, "SM-A"), (4, "SM-A")])
def test_escalation_climbs_the_chain_then_falls_back_to_a_senior_manager(level: int, target: str) -> None:
    assert rules.escalation_target(snapshot(assignee="H-1"), ROSTER, level) == target


def test_escalation_without_a_handler_or_a_chain() -> None:
    assert rules.escalation_target(snapshot(assignee=None), ROSTER, 1) == "SM-A"
    assert rules.escalation_target(snapshot(assignee="GONE"), ROSTER, 1) == "SM-A", "a handler no longer on the roster"
    no_seniors = {k: v for k, v in ROSTER.items() if v.role != Role.SENIOR_MANAGER}
    assert rules.escalation_target(snapshot(assignee="H-1"), no_seniors, 3) is None
    assert rules.escalation_target(snapshot(assignee="H-1"), no_seniors, 2) == "M-2"


# -- recusal and who may act ---------------------------------------------------------------


def test_staff_named_by_the_complaint_or_its_investigation_are_implicated() -> None:
    assert rules.implicated_staff(snapshot()) == set()
    assert rules.implicated_staff(snapshot("service_attitude", named="S-MGR-001")) == {"S-MGR-001"}
    named = snapshot("service_attitude", named="S-RM-007", investigation=investigation(implicated=["S-HND-001"]))
    assert rules.implicated_staff(named) == {"S-RM-007", "S-HND-001"}
    concluded = snapshot(investigation=investigation(implicated=["S-HND-001"], responsible=["S-HND-002"]))
    assert rules.implicated_staff(concluded) == {"S-HND-001", "S-HND-002"}


def test_an_implicated_staff_member_is_refused_with_recusal() -> None:
    snap = snapshot("service_attitude", named="S-LEG-001")
    with pytest.raises(Refused, match=r"^S-LEG-001 is named in complaint CMP-1 and must recuse themselves$"):
        rules.require_not_implicated(snap, "S-LEG-001")
    rules.require_not_implicated(snap, "S-LEG-002")
    with pytest.raises(Refused, match="S-HND-002 is named"):
        rules.require_not_implicated(snapshot(investigation=investigation(responsible=["S-HND-002"])), "S-HND-002")


def test_the_holder_is_the_handler_or_the_team_and_never_someone_implicated() -> None:
    snap = snapshot("service_attitude", named="H-9", assignee="H-1", team=["T-1"])
    rules.require_holder(snap, entry("H-1", Role.HANDLER), "act")
    rules.require_holder(snap, entry("T-1", Role.LEGAL), "act")
    with pytest.raises(Refused, match=r"^only the handler \(H-1\) or the complaint's team may act$"):
        rules.require_holder(snap, entry("H-2", Role.HANDLER), "act")
    with pytest.raises(Refused, match=r"^only the handler \(nobody yet\) or the complaint's team may act$"):
        rules.require_holder(snapshot(), entry("H-2", Role.HANDLER), "act")
    with pytest.raises(Refused, match="must recuse"):
        rules.require_holder(snapshot("service_attitude", named="H-1", assignee="H-1"), entry("H-1", Role.HANDLER), "x")


def test_after_the_decision_the_caller_the_team_or_a_manager_may_act() -> None:
    follow_up = FollowUp(caller="C-1", scheduled_at=T0)
    snap = snapshot(assignee="H-1", team=["T-1"], follow_up=follow_up)
    for staff_id, role in [
        ("H-1", Role.HANDLER),
        ("T-1", Role.LEGAL),
        ("C-1", Role.HANDLER),
        ("M-9", Role.MANAGER),
        ("SM-9", Role.SENIOR_MANAGER),
    ]:
        rules.require_caller_or_manager(snap, entry(staff_id, role), "record the call")
    with pytest.raises(
        Refused, match=r"^only the follow-up caller, the complaint's team or a manager may record the call$"
    ):
        rules.require_caller_or_manager(snap, entry("H-2", Role.HANDLER), "record the call")
    with pytest.raises(Refused, match="only the follow-up caller"):
        rules.require_caller_or_manager(snapshot(assignee="H-1"), entry("C-1", Role.HANDLER), "record the call")


def test_with_a_different_caller_the_chosen_caller_or_a_manager_calls_never_the_handling() -> None:
    follow_up = FollowUp(caller="C-1", scheduled_at=T0)
    snap = snapshot(assignee="H-1", team=["T-1", "SM-1"], follow_up=follow_up)

    def check(staff_id: str, role: Role) -> None:
        rules.require_follow_up_caller(snap, entry(staff_id, role), different_caller=True)

    check("C-1", Role.HANDLER)
    check("M-9", Role.MANAGER)
    check("SM-9", Role.SENIOR_MANAGER)
    with pytest.raises(Refused, match=r"^H-1 handles complaint CMP-1; .*the chosen caller \(C-1\) or a manager"):
        check("H-1", Role.HANDLER)
    with pytest.raises(Refused, match=r"^T-1 is on the team of complaint CMP-1; .*independent"):
        check("T-1", Role.LEGAL)
    with pytest.raises(Refused, match=r"^SM-1 is on the team of complaint CMP-1"):
        check("SM-1", Role.SENIOR_MANAGER)  # a manager on the team is not independent either
    with pytest.raises(Refused, match=r"^only the chosen caller \(C-1\) or a manager taking over may record"):
        check("H-2", Role.HANDLER)
    nobody_free = snapshot(assignee="H-1", team=["T-1"], follow_up=FollowUp(caller=None, scheduled_at=T0))
    rules.require_follow_up_caller(nobody_free, entry("M-9", Role.MANAGER), different_caller=True)
    with pytest.raises(Refused, match=r"^H-1 handles .*: a manager \(nobody independent of the handling was free\)$"):
        rules.require_follow_up_caller(nobody_free, entry("H-1", Role.HANDLER), different_caller=True)
    with pytest.raises(Refused, match=r"^only a manager \(nobody independent of the handling was free\) may"):
        rules.require_follow_up_caller(nobody_free, entry("H-2", Role.HANDLER), different_caller=True)
    named = snapshot("service_attitude", named="M-9", assignee="H-1", follow_up=follow_up)
    with pytest.raises(Refused, match="M-9 is named in complaint CMP-1 and must recuse themselves"):
        rules.require_follow_up_caller(named, entry("M-9", Role.MANAGER), different_caller=True)


def test_without_a_different_caller_the_handler_may_call_as_before() -> None:
    snap = snapshot(assignee="H-1", team=["T-1"], follow_up=FollowUp(caller="H-1", scheduled_at=T0))
    for staff_id, role in [("H-1", Role.HANDLER), ("T-1", Role.LEGAL), ("M-9", Role.MANAGER)]:
        rules.require_follow_up_caller(snap, entry(staff_id, role), different_caller=False)
    with pytest.raises(Refused, match="only the follow-up caller"):
        rules.require_follow_up_caller(snap, entry("H-2", Role.HANDLER), different_caller=False)


def test_a_manager_who_is_not_the_caller_takes_the_call_over() -> None:
    snap = snapshot(assignee="H-1", follow_up=FollowUp(caller="C-1", scheduled_at=T0))
    assert rules.follow_up_taken_over_from(snap, entry("M-9", Role.MANAGER)) == "C-1"
    assert rules.follow_up_taken_over_from(snap, entry("C-1", Role.HANDLER)) is None
    assert rules.follow_up_taken_over_from(snap, entry("T-1", Role.LEGAL)) is None
    manager_calls = snapshot(assignee="H-1", follow_up=FollowUp(caller="M-9", scheduled_at=T0))
    assert rules.follow_up_taken_over_from(manager_calls, entry("M-9", Role.MANAGER)) is None
    nobody = snapshot(assignee="H-1", follow_up=FollowUp(caller=None, scheduled_at=T0))
    assert rules.follow_up_taken_over_from(nobody, entry("M-9", Role.MANAGER)) is None, "asked to call, not taking over"


def test_actor_entry_status_and_role() -> None:
    assert rules.actor_entry(ROSTER, "M-1") is ROSTER["M-1"]
    with pytest.raises(Refused, match=r"^NOBODY is not an active member of the staff directory$"):
        rules.actor_entry(ROSTER, "NOBODY")

    rules.require_open(snapshot())
    for closed in (Status.RESOLVED, Status.WITHDRAWN, Status.CLOSED):
        with pytest.raises(Refused, match=rf"^complaint CMP-1 is closed \({closed.value}\)$"):
            rules.require_open(snapshot(status=closed))
    rules.require_status(snapshot(), rules.HANDLING, "act")
    with pytest.raises(
        Refused,
        match=r"^cannot act while the complaint is awaiting_approval "
        r"\(only when in_handling, awaiting_customer_info\)$",
    ):
        rules.require_status(snapshot(status=Status.AWAITING_APPROVAL), rules.HANDLING, "act")
    with pytest.raises(Refused, match="is closed"):
        rules.require_status(snapshot(status=Status.CLOSED), [Status.CLOSED], "act")

    rules.require_role(ROSTER["M-1"], rules.MANAGERS, "approve")
    with pytest.raises(Refused, match=r"^H-1 is handler; to approve takes manager, senior_manager$"):
        rules.require_role(ROSTER["H-1"], rules.MANAGERS, "approve")


# -- what must be on file before the customer hears ------------------------------------------


def test_complex_and_major_complaints_need_both_evaluations_and_major_the_investigation() -> None:
    assert rules.missing_before_customer(snapshot(tier=Tier.SIMPLE)) == []
    assert rules.missing_before_customer(snapshot(tier=None)) == []
    assert rules.missing_before_customer(snapshot(tier=Tier.COMPLEX)) == ["legal evaluation", "manager evaluation"]
    assert rules.missing_before_customer(snapshot(tier=Tier.COMPLEX, legal_evaluation=evaluation())) == [
        "manager evaluation"
    ]
    assert rules.missing_before_customer(snapshot(tier=Tier.COMPLEX, manager_evaluation=evaluation())) == [
        "legal evaluation"
    ]
    both = {"legal_evaluation": evaluation(), "manager_evaluation": evaluation()}
    assert rules.missing_before_customer(snapshot(tier=Tier.COMPLEX, **both)) == []
    assert rules.missing_before_customer(snapshot(tier=Tier.MAJOR, **both)) == ["internal investigation outcome"]
    assert rules.missing_before_customer(snapshot(tier=Tier.MAJOR, investigation=investigation(), **both)) == [
        "internal investigation outcome"
    ]
    assert (
        rules.missing_before_customer(snapshot(tier=Tier.MAJOR, investigation=investigation(responsible=[]), **both))
        == []
    )
    assert rules.missing_before_customer(snapshot(tier=Tier.MAJOR)) == [
        "legal evaluation",
        "manager evaluation",
        "internal investigation outcome",
    ]


def test_require_ready_for_customer_names_what_is_missing() -> None:
    rules.require_ready_for_customer(snapshot(tier=Tier.SIMPLE), "send feedback")
    with pytest.raises(
        Refused,
        match=r"^cannot send feedback for a complex complaint before the legal evaluation, "
        r"manager evaluation$",
    ):
        rules.require_ready_for_customer(snapshot(tier=Tier.COMPLEX), "send feedback")


# -- escalating the tier ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("current", "requested", "raised"),
    [
        (Tier.SIMPLE, None, Tier.COMPLEX),
        (Tier.COMPLEX, None, Tier.MAJOR),
        (Tier.MAJOR, None, Tier.MAJOR),
        (Tier.SIMPLE, Tier.MAJOR, Tier.MAJOR),
        (Tier.SIMPLE, Tier.COMPLEX, Tier.COMPLEX),
        (Tier.SIMPLE, Tier.SIMPLE, Tier.COMPLEX),
        (Tier.COMPLEX, Tier.SIMPLE, Tier.MAJOR),
    ],
)
def test_raised_tier_goes_one_up_or_to_a_higher_request_never_down(
    current: Tier, requested: Tier | None, raised: Tier
) -> None:
    assert rules.raised_tier(current, requested) == raised

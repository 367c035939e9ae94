"""What a manager sees in the Web UI: search attributes and the details markdown (pure; no server)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest

from models.actions import InvestigationOutcomeRequest
from models.case_file import (
    Closure,
    Evaluation,
    FollowUp,
    FollowUpCall,
    Investigation,
    LookBack,
    ReviewFlag,
    Revisit,
)
from models.clocks import Clock, ClockState
from models.complaint import Classification, ComplaintSnapshot, Status
from models.intake import ComplaintIntake
from models.investigation import (
    AccountabilityDecision,
    EvidenceItem,
    FlaggedComplaint,
    InvestigationFile,
    InvestigationFinding,
    InvestigationStage,
    ResponsibleNamed,
)
from models.policy import Accountability, Tier
from models.staff import StaffRecord
from tests.factories import intake_payload
from workflows.presentation import (
    complaint_summary,
    details,
    fmt_utc,
    investigation_details,
    investigation_search_attributes,
    search_attributes,
)

T0 = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)
EVIDENCE = {"uri": "dms://1", "sha256": "0" * 64}


def at(hours: float) -> datetime:
    return T0 + timedelta(hours=hours)


def clock(name: str, due: float, state: ClockState = ClockState.RUNNING) -> Clock:
    label = name.replace("_", " ").capitalize()
    return Clock(
        name=name, label=label, limit=f"{due} hours", source="test", started_at=T0, due_at=at(due), state=state
    )


def classification(tier: Tier = Tier.COMPLEX) -> Classification:
    return Classification(
        category="fees_and_interest",
        tier=tier,
        rule_id="large-amount",
        rule_description="d",
        matched="amount 1000000 CNY >= 1000000",
        policy_version="2026.11-standard",
    )


def snapshot(status: Status = Status.IN_HANDLING, **fields: Any) -> ComplaintSnapshot:
    intake = ComplaintIntake.model_validate(intake_payload(summary="Charged twice"))
    return ComplaintSnapshot(
        complaint_id="CMP-1", workflow_id="complaint-CMP-1", status=status, intake=intake, **fields
    )


def flag(staff_id: str = "S-7", *, reviewed: bool = False) -> ReviewFlag:
    return ReviewFlag(
        investigation_id="investigation-CMP-9",
        staff_id=staff_id,
        relation="handler",
        flagged_by="C-1",
        flagged_at=T0,
        reason="named",
        reviewed_at=at(1) if reviewed else None,
    )


def attributes(snap: ComplaintSnapshot) -> dict[str, Any]:
    """Search attribute name -> value set (None: unset), in upsert order."""
    return {name: update.value for name, update in search_attributes(snap).items()}


def lines(snap: ComplaintSnapshot, *, handling: bool = True) -> list[str]:
    return details(snap, "Handling", handling=handling).split("\n\n")


def line(snap: ComplaintSnapshot, heading: str, *, handling: bool = True) -> str | None:
    """The details line under ``**heading:**``, or None when there is none."""
    found = [x for x in lines(snap, handling=handling) if x.startswith(f"**{heading}:**")]
    assert len(found) <= 1
    return found[0] if found else None


# -- search attributes ------------------------------------------------------------------------------------


def test_a_new_complaint_has_status_breach_and_an_unset_deadline() -> None:
    assert attributes(snapshot(Status.RECEIVED)) == {
        "ComplaintStatus": "received",
        "ComplaintSlaBreached": False,
        "ComplaintNextDeadline": None,
    }


def test_the_keys_come_in_upsert_order_once_classified_and_held() -> None:
    snap = snapshot(classification=classification(), assignee="H-1", review_flags=[flag()])
    assert list(attributes(snap)) == [
        "ComplaintStatus",
        "ComplaintSlaBreached",
        "ComplaintNextDeadline",
        "ComplaintTier",
        "ComplaintAssignee",
        "ComplaintUnderReview",
    ]


def test_tier_and_assignee_are_set_from_the_case_file() -> None:
    values = attributes(snapshot(classification=classification(Tier.MAJOR), assignee="H-1"))
    assert (values["ComplaintTier"], values["ComplaintAssignee"]) == ("major", "H-1")


def test_during_follow_up_the_assignee_attribute_is_the_caller() -> None:
    snap = snapshot(Status.FOLLOW_UP, assignee="H-1", follow_up=FollowUp(caller="C-2", scheduled_at=T0))
    assert attributes(snap)["ComplaintAssignee"] == "C-2"


def test_the_next_deadline_is_the_earliest_running_clock() -> None:
    snap = snapshot(
        clocks=[
            clock("regulatory_decision", 360),
            clock("acknowledgement", 3, ClockState.MET),
            clock("simple_first_response", 24),
        ]
    )
    assert attributes(snap)["ComplaintNextDeadline"] == at(24)


def test_the_next_deadline_is_unset_when_no_clock_runs() -> None:
    snap = snapshot(
        clocks=[clock("acknowledgement", 3, ClockState.MET), clock("regulatory_decision", 360, ClockState.PAUSED)]
    )
    assert attributes(snap)["ComplaintNextDeadline"] is None


def test_a_breached_clock_sets_sla_breached() -> None:
    snap = snapshot(clocks=[clock("acknowledgement", 3, ClockState.BREACHED)])
    assert attributes(snap)["ComplaintSlaBreached"] is True


def test_under_review_appears_only_once_a_review_flag_exists() -> None:
    assert "ComplaintUnderReview" not in attributes(snapshot(assignee="H-1"))
    assert attributes(snapshot(review_flags=[flag()]))["ComplaintUnderReview"] is True
    assert attributes(snapshot(review_flags=[flag(reviewed=True)]))["ComplaintUnderReview"] is False


# -- the details markdown ------------------------------------------------------------------------------------


def test_details_of_a_new_complaint() -> None:
    assert details(snapshot(Status.RECEIVED), "Received", handling=False) == (
        "**Stage:** Received\n\n**Held by:** unassigned"
    )


def test_details_of_a_complaint_in_handling_in_order() -> None:
    snap = snapshot(
        classification=classification(),
        assignee="H-1",
        team=["L-1", "F-1"],
        clocks=[clock("acknowledgement", 3, ClockState.MET), clock("complex_first_response", 24)],
    )
    assert details(snap, "Handling", handling=True) == "\n\n".join(
        [
            "**Stage:** Handling",
            "**Tier:** complex (rule `large-amount`: amount 1000000 CNY >= 1000000; policy 2026.11-standard)",
            "**Held by:** H-1 with L-1, F-1",
            "**Waiting for:** legal evaluation, manager evaluation",
            "**Next deadline:** Complex first response, 2026-11-24 02:00 UTC",
            "**Clocks:**\n\n- Acknowledgement (3 hours): met, due 2026-11-23 05:00 UTC\n"
            "- Complex first response (24 hours): running, due 2026-11-24 02:00 UTC",
        ]
    )


def test_escalation_names_who_and_the_level() -> None:
    assert line(snapshot(escalated_to="M-1", escalation_level=2), "Escalated to") == "**Escalated to:** M-1 (level 2)"
    assert line(snapshot(), "Escalated to") is None


def test_waiting_for_lists_what_is_missing_only_while_handling_an_open_complaint() -> None:
    complex_ = snapshot(
        classification=classification(Tier.COMPLEX), legal_evaluation=Evaluation(by="L", at=T0, opinion="ok")
    )
    assert line(complex_, "Waiting for") == "**Waiting for:** manager evaluation"
    assert line(complex_, "Waiting for", handling=False) is None
    closed = snapshot(Status.WITHDRAWN, classification=classification(Tier.COMPLEX))
    assert line(closed, "Waiting for") is None
    assert line(snapshot(classification=classification(Tier.SIMPLE)), "Waiting for") is None


def investigation(**fields: Any) -> Investigation:
    return Investigation(opened_by="C-1", opened_at=T0, scope="all", **fields)


def test_an_investigation_line_needs_its_workflow() -> None:
    assert line(snapshot(investigation=investigation()), "Investigation") is None


def test_an_open_investigation_says_who_leads_it() -> None:
    open_ = investigation(workflow_id="investigation-CMP-1")
    assert line(snapshot(investigation=open_), "Investigation") == (
        "**Investigation:** `investigation-CMP-1` open, led by nobody yet"
    )
    led = investigation(workflow_id="investigation-CMP-1", lead="C-2", implicated=["S-1", "S-2"])
    assert line(snapshot(investigation=led), "Investigation") == (
        "**Investigation:** `investigation-CMP-1` open, led by C-2; recused: S-1, S-2"
    )


def test_a_concluded_investigation_gives_the_accountability() -> None:
    outcome = InvestigationOutcomeRequest(actor="C-2", findings="f", accountability=Accountability.WARNING)
    done = investigation(workflow_id="investigation-CMP-1", lead="C-2", outcome=outcome)
    assert line(snapshot(investigation=done), "Investigation") == (
        "**Investigation:** `investigation-CMP-1` concluded, accountability warning"
    )


def test_each_open_review_flag_has_a_line() -> None:
    snap = snapshot(review_flags=[flag("S-7"), flag("S-8", reviewed=True), flag("S-9")])
    assert [x for x in lines(snap) if x.startswith("**Under review:**")] == [
        "**Under review:** S-7 (handler) is implicated in `investigation-CMP-9`",
        "**Under review:** S-9 (handler) is implicated in `investigation-CMP-9`",
    ]


def test_the_follow_up_call_line_only_during_follow_up() -> None:
    called = FollowUp(caller="C-2", scheduled_at=T0, calls=[FollowUpCall(by="C-2", at=T0, reached=False)])
    assert line(snapshot(Status.FOLLOW_UP, follow_up=called), "Follow-up call") == (
        "**Follow-up call:** by C-2, attempt 2"
    )
    assert line(snapshot(Status.LOOK_BACK, follow_up=called), "Follow-up call") is None
    nobody = FollowUp(caller=None, scheduled_at=T0)
    assert line(snapshot(Status.FOLLOW_UP, follow_up=nobody), "Follow-up call") == (
        "**Follow-up call:** by a manager (nobody independent of the handling was free), attempt 1"
    )


def test_the_look_back_line_only_during_look_back() -> None:
    revisit = Revisit(number=1, by="H-1", at=T0, situation="fine", commitments_kept=True)
    look_back = LookBack(planned=3, revisits=[revisit])
    assert line(snapshot(Status.LOOK_BACK, look_back=look_back), "Look-back") == "**Look-back:** 1 of 3 revisits done"
    assert line(snapshot(Status.FOLLOW_UP, look_back=look_back), "Look-back") is None


def test_reopened_only_once_reopened() -> None:
    assert line(snapshot(reopened_count=2), "Reopened") == "**Reopened:** 2 time(s)"
    assert line(snapshot(), "Reopened") is None


@pytest.mark.parametrize(("satisfaction", "shown"), [(4, "4"), (None, "—")])
def test_the_closure_line(satisfaction: int | None, shown: str) -> None:
    closure = Closure(
        outcome="satisfied",
        closed_at=T0,
        total_seconds=1.0,
        satisfaction=satisfaction,
        root_cause="pricing_error",
        reopened=0,
    )
    assert line(snapshot(Status.CLOSED, closure=closure), "Closed") == (
        f"**Closed:** satisfied; satisfaction {shown}; root cause pricing_error"
    )


def test_no_running_clock_no_next_deadline_line() -> None:
    assert line(snapshot(clocks=[clock("acknowledgement", 3, ClockState.MET)]), "Next deadline") is None


def test_the_staff_named_line_only_when_the_record_was_found() -> None:
    found = StaffRecord(
        staff_id="S-7", found=True, name="Wang Wei", role="relationship_manager", service_quality_score=3.5
    )
    assert line(snapshot(staff_record=found), "Staff named") == (
        "**Staff named:** Wang Wei (relationship_manager), service-quality score 3.5"
    )
    assert line(snapshot(staff_record=StaffRecord(staff_id="S-7", found=False)), "Staff named") is None


def test_times_are_written_in_utc_whatever_their_offset() -> None:
    # Business-day deadlines fall due at 18:00 Shanghai time, which is 10:00 UTC.
    assert fmt_utc(datetime(2026, 11, 24, 18, 0, tzinfo=timezone(timedelta(hours=8)))) == "2026-11-24 10:00 UTC"


def test_no_time_is_a_dash() -> None:
    assert fmt_utc(None) == "—"


# -- the investigation child ------------------------------------------------------------------------------------


def test_complaint_summary_names_the_complaint_customer_and_reason() -> None:
    snap = snapshot()
    summary, text = complaint_summary(snap, "rule several-regulators")
    assert summary == "Investigation of CMP-1: Charged twice"
    assert text == "Major complaint CMP-1, customer Chen Hua.\n\nWhy major: rule several-regulators"


def test_complaint_summary_cuts_a_long_summary_at_120_characters() -> None:
    snap = snapshot().model_copy(update={"intake": snapshot().intake.model_copy(update={"summary": "x" * 200})})
    assert complaint_summary(snap, "r")[0] == "Investigation of CMP-1: " + "x" * 120


def investigation_file(**fields: Any) -> InvestigationFile:
    return InvestigationFile(
        investigation_id="investigation-CMP-1",
        complaint_id="CMP-1",
        scope="all",
        reason="several regulators",
        opened_at=T0,
        **fields,
    )


def test_a_new_investigation_file_in_detail() -> None:
    assert investigation_details(investigation_file()) == "\n\n".join(
        [
            "**Stage:** investigating",
            "**Complaint:** CMP-1 (several regulators)",
            "**Lead:** nobody: compliance must assign one",
            "**Recused:** nobody",
            "**On file:** 0 finding(s), 0 evidence reference(s), responsible: none named",
        ]
    )


def test_a_concluded_investigation_file_in_detail() -> None:
    file = investigation_file(
        stage=InvestigationStage.CONCLUDED,
        lead="C-2",
        implicated=["S-1", "S-2"],
        clock=clock("investigation", 80, ClockState.MET),
        findings=[InvestigationFinding(by="C-2", at=T0, summary="f")],
        evidence=[EvidenceItem(by="C-2", at=T0, evidence=EVIDENCE)] * 2,
        responsible=[
            ResponsibleNamed(by="C-2", at=T0, staff_ids=["S-2", "S-1"], reason="r"),
            ResponsibleNamed(by="C-2", at=T0, staff_ids=["S-1"], reason="r"),
        ],
        accountability=[
            AccountabilityDecision(by="C-2", at=T0, decision=Accountability.TRAINING, reason="r"),
            AccountabilityDecision(by="M-1", at=T0, decision=Accountability.WARNING, reason="r"),
        ],
        flagged=[
            FlaggedComplaint(complaint_id="CMP-3", staff_id="S-1", relation="handler", delivered=True),
            FlaggedComplaint(complaint_id="CMP-2", staff_id="S-1", relation="team", delivered=True),
            FlaggedComplaint(complaint_id="CMP-3", staff_id="S-2", relation="team", delivered=True),
            FlaggedComplaint(complaint_id="CMP-4", staff_id="S-2", relation="team", delivered=False),
        ],
        concluded_by="C-2",
        concluded_at=at(5),
        suspected_illegal=True,
    )
    assert investigation_details(file) == "\n\n".join(
        [
            "**Stage:** investigation concluded",
            "**Complaint:** CMP-1 (several regulators)",
            "**Lead:** C-2",
            "**Recused:** S-1, S-2",
            "**Clock:** Investigation (80 hours): met, due 2026-11-26 10:00 UTC",
            "**On file:** 1 finding(s), 2 evidence reference(s), responsible: S-1, S-2",
            "**Accountability:** warning (by M-1)",
            "**Flagged for review:** CMP-2, CMP-3",
            "**Concluded:** 2026-11-23 07:00 UTC by C-2; suspected illegal conduct: reported to the regulator",
        ]
    )


def test_no_flagged_line_when_no_flag_was_delivered() -> None:
    undelivered = FlaggedComplaint(complaint_id="CMP-4", staff_id="S-2", relation="team", delivered=False)
    assert "Flagged for review" not in investigation_details(investigation_file(flagged=[undelivered]))


def test_a_conclusion_without_suspected_illegal_conduct_says_no_more() -> None:
    file = investigation_file(concluded_by="C-2", concluded_at=at(5))
    assert investigation_details(file).endswith("**Concluded:** 2026-11-23 07:00 UTC by C-2")


def investigation_attributes(file: InvestigationFile) -> list[tuple[str, Any]]:
    return [(u.key.name, u.value) for u in investigation_search_attributes(file)]


def test_a_new_investigation_has_no_deadline_or_lead_attribute() -> None:
    assert investigation_attributes(investigation_file()) == [
        ("ComplaintStatus", "investigating"),
        ("ComplaintSlaBreached", False),
        ("ComplaintNextDeadline", None),
        ("ComplaintAssignee", None),
    ]


def test_a_led_investigation_with_a_running_clock() -> None:
    file = investigation_file(lead="C-2", clock=clock("investigation", 80))
    assert investigation_attributes(file) == [
        ("ComplaintStatus", "investigating"),
        ("ComplaintSlaBreached", False),
        ("ComplaintNextDeadline", at(80)),
        ("ComplaintAssignee", "C-2"),
    ]


def test_a_breached_investigation_clock_has_no_next_deadline() -> None:
    breached = clock("investigation", 80, ClockState.BREACHED).model_copy(update={"breached_at": at(80)})
    file = investigation_file(stage=InvestigationStage.CONCLUDED, lead="C-2", clock=breached)
    assert investigation_attributes(file)[:3] == [
        ("ComplaintStatus", "investigation_concluded"),
        ("ComplaintSlaBreached", True),
        ("ComplaintNextDeadline", None),
    ]

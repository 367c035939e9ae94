"""Training rules over the policy and its versioned catalogue: which file, which courses a role
needs, when a course falls due and is reminded, when it renews, and for which complaints an
overdue course keeps a handler from being chosen."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from complaints.config import PROJECT_ROOT
from domain import training
from domain.policy import PolicyError, load_policy
from models.performance import (
    CompleteTrainingRequest,
    Course,
    TrainingAssignment,
    TrainingPlan,
    TrainingSource,
    TrainingState,
    TrainingStatus,
)
from models.policy import Policy, TimeLimit, TimeUnit
from models.roles import Role
from workflows.step4_training import details, refusal

SHANGHAI = ZoneInfo("Asia/Shanghai")
STANDARD = load_policy(PROJECT_ROOT / "policies" / "standard.yaml")
COMPRESSED = load_policy(PROJECT_ROOT / "policies" / "compressed.yaml")


def with_training(policy: Policy, **changes: object) -> Policy:
    """The policy with its ``performance.training`` section changed."""
    section = policy.performance.training.model_copy(update=changes)
    return policy.model_copy(update={"performance": policy.performance.model_copy(update={"training": section})})


def course(**changes: object) -> Course:
    base = training.load_catalogue(STANDARD).course("complaint-procedure")
    assert base is not None
    return base.model_copy(update=changes)


def test_the_policy_names_its_catalogue_file() -> None:
    standard, compressed = training.load_catalogue(STANDARD), training.load_catalogue(COMPRESSED)
    assert standard.version == "2026.11"
    assert compressed.version == "2026.11-compressed"
    assert {c.code for c in standard.courses} == {c.code for c in compressed.courses}
    assert training.catalogue_path(STANDARD) == PROJECT_ROOT / "policies" / "training" / "catalogue-2026.11.yaml"


def test_a_missing_catalogue_is_an_error_naming_the_file() -> None:
    policy = with_training(STANDARD, catalogue="training/catalogue-1999.01.yaml")
    with pytest.raises(PolicyError, match=r"catalogue-1999\.01\.yaml"):
        training.load_catalogue(policy)


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("version: x\nsource: y\ncourses: [", "not valid YAML"),
        ("version: x\nsource: y\ncourses: []", "courses"),
        (
            "version: x\nsource: y\ncourses:\n"
            "  - {code: a, title: A, topic: t, due: {amount: 1, unit: seconds}}\n"
            "  - {code: a, title: B, topic: t, due: {amount: 1, unit: seconds}}\n",
            "codes must be unique",
        ),
    ],
)
def test_an_invalid_catalogue_is_an_error_naming_the_file(tmp_path: Path, text: str, problem: str) -> None:
    path = tmp_path / "broken.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(PolicyError, match=problem) as raised:
        training.load_catalogue(with_training(STANDARD, catalogue=str(path)))
    assert str(path) in str(raised.value)


def test_each_role_needs_the_courses_the_catalogue_names_for_it() -> None:
    catalogue = training.load_catalogue(STANDARD)
    codes = lambda role: [c.code for c in training.courses_for_role(catalogue, role)]  # noqa: E731
    assert codes(Role.HANDLER) == [
        "complaint-procedure",
        "regulation-updates",
        "loan-products",
        "fair-collection",
        "empathy",
        "data-protection",
    ]
    assert codes("relationship_manager") == ["complaint-procedure", "loan-products", "empathy"]
    assert codes(Role.FINANCE) == []


def test_due_counts_on_the_policys_calendar() -> None:
    assigned = datetime(2026, 9, 30, 16, 20, tzinfo=SHANGHAI)
    assert training.due_at(course(), assigned, STANDARD) == assigned + timedelta(days=30)
    # Five business days from 30 Sep skip the National Day holiday and count the working Saturday.
    business = course(due=TimeLimit(amount=5, unit=TimeUnit.BUSINESS_DAYS))
    assert training.due_at(business, assigned, STANDARD) == datetime(2026, 10, 13, 18, 0, tzinfo=SHANGHAI)
    compressed = training.load_catalogue(COMPRESSED).course("complaint-procedure")
    assert compressed is not None
    assert training.due_at(compressed, assigned, COMPRESSED) == assigned + timedelta(seconds=20)


def test_the_reminder_comes_at_the_policys_fraction_of_the_way() -> None:
    assigned = datetime(2026, 11, 1, tzinfo=UTC)
    due = assigned + timedelta(days=30)
    assert training.reminder_at(assigned, due, 0.8) == assigned + timedelta(days=24)
    assert training.reminder_at(assigned, assigned + timedelta(seconds=20), 0.5) == assigned + timedelta(seconds=10)
    assert STANDARD.performance.training.reminder_fraction == 0.8


def test_joining_and_renewal_renew_other_sources_do_not() -> None:
    assigned = datetime(2026, 11, 1, tzinfo=UTC)
    yearly = course()
    assert training.renewal_after(yearly, TrainingSource.JOINING, assigned, STANDARD) == timedelta(days=365)
    assert training.renewal_after(yearly, TrainingSource.RENEWAL, assigned, STANDARD) == timedelta(days=365)
    for source in (TrainingSource.INVESTIGATION, TrainingSource.THRESHOLD, TrainingSource.MANUAL):
        assert training.renewal_after(yearly, source, assigned, STANDARD) is None
    assert training.renewal_after(course(renew_every=None), TrainingSource.JOINING, assigned, STANDARD) is None


def test_a_course_is_mandatory_for_its_categories_or_for_all_when_it_names_none() -> None:
    catalogue = training.load_catalogue(STANDARD)
    collection, procedure = catalogue.course("fair-collection"), catalogue.course("complaint-procedure")
    assert collection is not None and procedure is not None
    assert training.mandatory_for(collection, "repayment_collection")
    assert not training.mandatory_for(collection, "privacy")
    assert all(training.mandatory_for(procedure, c) for c in ("privacy", "other", "fees_and_interest"))
    overdue = ["fair-collection", "empathy", "retired-course"]
    assert training.blocking_courses(catalogue, overdue, "repayment_collection") == ["fair-collection"]
    assert training.blocking_courses(catalogue, overdue, "service_attitude") == ["empathy"]
    assert training.blocking_courses(catalogue, overdue, "privacy") == []


def test_routing_skips_only_complex_and_major_and_only_by_the_switch() -> None:
    assert STANDARD.performance.training.routing_skips_overdue
    assert training.skips_handlers(STANDARD, "complex") and training.skips_handlers(STANDARD, "major")
    assert not training.skips_handlers(STANDARD, "simple")
    assert not training.skips_handlers(STANDARD, None)
    off = with_training(STANDARD, routing_skips_overdue=False)
    assert not training.skips_handlers(off, "major")


def test_the_investigation_course_is_the_policys() -> None:
    assert STANDARD.performance.training.investigation_course == "complaint-procedure"
    assert training.load_catalogue(STANDARD).course(STANDARD.performance.training.investigation_course)


def test_assignment_ids_come_from_their_cause() -> None:
    assert training.joining_assignment_id("S-HND-001", "empathy") == "S-HND-001-empathy"
    assert (
        training.investigation_assignment_id("investigation-CMP-1", "S-HND-001", "complaint-procedure")
        == "investigation-CMP-1-S-HND-001-complaint-procedure"
    )
    assert training.renewal_assignment_id("S-HND-001-empathy") == "S-HND-001-empathy-r1"
    assert training.renewal_assignment_id("S-HND-001-empathy-r1") == "S-HND-001-empathy-r2"
    assert training.renewal_assignment_id("S-HND-001-empathy-r9") == "S-HND-001-empathy-r10"
    assert training.workflow_id("S-HND-001-empathy") == "training-S-HND-001-empathy"


# ---- who may record completion (the assignment workflow's validator, a pure function) ------------


def state(**changes: object) -> TrainingState:
    at = datetime(2026, 11, 1, tzinfo=UTC)
    assignment = TrainingAssignment(
        assignment_id="S-HND-001-empathy",
        staff_id="S-HND-001",
        course="empathy",
        source=TrainingSource.JOINING,
        reason="Joining",
        assigned_by="system",
        assigned_at=at,
    )
    plan = TrainingPlan(
        assignment_id=assignment.assignment_id,
        staff_id="S-HND-001",
        trainee_name="Li Na",
        course="empathy",
        course_title="Empathy",
        catalogue_version="2026.11",
        assigned_at=at,
        due_at=at + timedelta(days=30),
        reminder_at=at + timedelta(days=24),
        manager_id="S-MGR-001",
        escalate_to=["S-MGR-001"],
        completers=["S-CMP-001"],
    )
    values: dict[str, object] = {
        "assignment": assignment,
        "workflow_id": "training-S-HND-001-empathy",
        "status": TrainingStatus.ASSIGNED,
        "plan": plan,
    }
    return TrainingState.model_validate({**values, **changes})


def ask(actor: str, assignment_id: str = "S-HND-001-empathy") -> CompleteTrainingRequest:
    return CompleteTrainingRequest(assignment_id=assignment_id, actor=actor)


@pytest.mark.parametrize("actor", ["S-HND-001", "S-MGR-001", "S-CMP-001"])
def test_the_trainee_their_manager_or_compliance_may_record_completion(actor: str) -> None:
    assert refusal(state(), ask(actor)) is None
    assert refusal(state(status=TrainingStatus.OVERDUE), ask(actor)) is None


def test_anyone_else_a_second_completion_or_an_old_assignment_is_refused() -> None:
    assert refusal(state(), ask("S-HND-002")) == (
        "S-HND-002 may not record S-HND-001's training: the trainee, their manager (S-MGR-001), or compliance may"
    )
    done = state(
        status=TrainingStatus.COMPLETED, completed_at=datetime(2026, 11, 5, 2, tzinfo=UTC), completed_by="S-HND-001"
    )
    assert refusal(done, ask("S-MGR-001")) == (
        "assignment S-HND-001-empathy was already completed 2026-11-05 02:00 UTC by S-HND-001"
    )
    assert refusal(state(), ask("S-HND-001", "S-HND-001-empathy-r1")) == (
        "assignment S-HND-001-empathy-r1 is no longer open: this workflow now runs S-HND-001-empathy"
    )
    assert refusal(state(plan=None), ask("S-HND-001")) == (
        "assignment S-HND-001-empathy is still being set up; try again in a moment"
    )


def test_what_a_manager_reads_in_the_web_ui() -> None:
    overdue = state(status=TrainingStatus.OVERDUE, overdue_at=datetime(2026, 12, 1, tzinfo=UTC))
    text = details(overdue)
    assert "**Trainee:** S-HND-001 (Li Na); manager S-MGR-001" in text
    assert "**Status:** overdue; due 2026-12-01 00:00 UTC" in text
    assert "**Overdue since** 2026-12-01 00:00 UTC: told S-MGR-001" in text
    assert "complaints training complete S-HND-001-empathy --as <id>" in text

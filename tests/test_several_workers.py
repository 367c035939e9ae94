"""Several workers on one task queue (issue 17): one of three is SIGKILLed in the middle of a batch.

Three real ``worker.py`` processes (as ``make run WORKERS=3`` runs them, each with its own metrics
port) share the test's task queue and database. 21 simple complaints and 3 major ones lodged with
a regulator are worked from intake to closure. Once half the simple ones are approved (each then
waits for the kill before the customer's answer, so none has closed) and the majors' reports are
in flight (the regulator holds its answers), a worker holding a report is SIGKILLed. Every
complaint still closes, each report is filed once under its one key, and no notification is sent
twice. The other workers take over the killed one's cached workflows once their tasks time out on
its sticky queue (``sticky_queue_schedule_to_start_timeout``, the SDK's 10 s) and its report
once the activity times out (the report's retry window, 10 s on the compressed policy).
"""

from __future__ import annotations

import asyncio
import signal
import socket
import subprocess
import time
import urllib.request
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine
from contextlib import asynccontextmanager
from decimal import Decimal
from functools import partial
from typing import Any, TypeVar

import psutil
import pytest
from sqlalchemy import Engine
from sqlmodel import Session, select
from temporalio.api.enums.v1 import TaskQueueType, TimeoutType
from temporalio.api.taskqueue.v1 import TaskQueue
from temporalio.api.workflowservice.v1 import DescribeTaskQueueRequest
from temporalio.client import Client

from complaints.actions import ComplaintActions
from complaints.intake import ActionRefused, ComplaintIntakeClient, FilingOutcome
from complaints.telemetry import instance_address
from db.tables import OutboxMessage
from models.actions import (
    ApprovalDecision,
    CustomerAnswer,
    FollowUpCallRequest,
    LegalEvaluationRequest,
    LookBackRequest,
    ManagerEvaluationRequest,
    ProposalRequest,
    RootCauseRequest,
)
from models.complaint import ComplaintSnapshot, Status
from models.intake import Money
from tests.factories import intake_payload
from tests.helpers import (
    conclude_investigation,
    eventually,
    start_worker_process,
    status_once,
    worker_process_env,
)
from tests.regulator_server import RegulatorServer

T = TypeVar("T")
WORKERS = 3
SIMPLE = 21
MAJOR = 3
MANAGER, SENIOR = "S-MGR-001", "S-SM-001"
# Notifications of a complaint worked this way, by kind (staff notices: one a recipient); each has
# its own idempotency key, so a retried activity or a replayed workflow cannot add one.
SIMPLE_SENT = {
    "acknowledgement": 1,
    "assigned": 1,
    "approval_needed": 1,
    "resolution_proposal": 1,
    "final_response": 1,
    "follow_up": 1,
}
MAJOR_SENT = SIMPLE_SENT | {"investigation_opened": 3, "investigation_concluded": 1, "look_back": 3}
# Sent only if a clock fired or a report was slow (the kill may cause either): once per clock or
# regulator and recipient, which the unique keys already hold; their number is the machine's speed.
ON_TIMING = {"sla_warning", "sla_breached", "regulator_report_failing"}


def test_the_nth_worker_serves_metrics_at_the_port_plus_n_minus_one() -> None:
    assert [instance_address("127.0.0.1:9464", n) for n in (1, 2, 3)] == [
        "127.0.0.1:9464",
        "127.0.0.1:9465",
        "127.0.0.1:9466",
    ]
    assert instance_address("[::1]:9464", 2) == "[::1]:9465"
    for address, instance in (("127.0.0.1", 1), ("127.0.0.1:x", 1), ("127.0.0.1:9464", 0)):
        with pytest.raises(ValueError):
            instance_address(address, instance)


def free_ports_in_a_row(count: int) -> int:
    """The first of ``count`` consecutive free ports on loopback (as ``make run WORKERS=n`` uses)."""
    for _ in range(50):
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            base = int(probe.getsockname()[1])
        if base + count > 65535:
            continue
        held: list[socket.socket] = []
        try:
            for port in range(base, base + count):
                s = socket.socket()
                held.append(s)
                s.bind(("127.0.0.1", port))
            return base
        except OSError:
            continue
        finally:
            for s in held:
                s.close()
    raise AssertionError(f"no {count} free ports in a row")


@asynccontextmanager
async def three_workers(
    client: Client, database_url: str, task_queue: str, regulator_url: str
) -> AsyncIterator[list[subprocess.Popen[bytes]]]:
    """``worker.py`` three times on one task queue, the n-th serving metrics at the base port + n - 1."""
    base = free_ports_in_a_row(WORKERS)
    workers = [
        start_worker_process(
            worker_process_env(
                client,
                database_url,
                task_queue,
                COMPLAINTS_REGULATOR_ENDPOINT=regulator_url,
                COMPLAINTS_METRICS_ADDRESS=f"127.0.0.1:{base}",
                COMPLAINTS_WORKER_INSTANCE=str(n),
            )
        )
        for n in range(1, WORKERS + 1)
    ]
    try:
        await eventually(
            lambda: polling_pids(client, task_queue, {w.pid for w in workers}),
            timeout=120,
            what=f"{WORKERS} worker processes polling {task_queue}",
        )
        for n in range(1, WORKERS + 1):  # each serves its own metrics endpoint: no collision

            async def serving(at: str = f"127.0.0.1:{base + n - 1}") -> bool:
                return f'task_queue="{task_queue}"' in await asyncio.to_thread(scrape, at)

            await eventually(serving, timeout=30, what=f"worker {n}'s metrics for {task_queue}")
        yield workers
    finally:
        for worker in workers:
            if worker.poll() is None:
                worker.terminate()
        for worker in workers:
            worker.wait(timeout=30)


async def polling_pids(client: Client, task_queue: str, pids: set[int]) -> bool:
    """Whether every one of ``pids`` polls both the workflow and the activity task queue."""
    for kind in (TaskQueueType.TASK_QUEUE_TYPE_WORKFLOW, TaskQueueType.TASK_QUEUE_TYPE_ACTIVITY):
        answer = await client.workflow_service.describe_task_queue(
            DescribeTaskQueueRequest(
                namespace=client.namespace, task_queue=TaskQueue(name=task_queue), task_queue_type=kind
            )
        )
        polling = {int(p.identity.split("@")[0]) for p in answer.pollers if p.identity.split("@")[0].isdigit()}
        if not pids <= polling:
            return False
    return True


def scrape(address: str) -> str:
    with urllib.request.urlopen(f"http://{address}/metrics", timeout=10) as answer:
        return str(answer.read().decode())


def holding_a_report(workers: list[subprocess.Popen[bytes]], regulator_port: int) -> subprocess.Popen[bytes] | None:
    """A worker with a request open to the regulator (the server holds its answer), if any."""
    for worker in workers:
        for conn in psutil.Process(worker.pid).net_connections(kind="tcp"):
            if conn.raddr and conn.raddr.port == regulator_port and conn.status == psutil.CONN_ESTABLISHED:
                return worker
    return None


async def until_accepted(attempt: Callable[[], Awaitable[Any]], what: str, timeout: float = 120) -> Any:
    """Run a staff action once the workflow will take it (a look-back revisit opens every 2 s)."""

    async def probe() -> Any:
        try:
            return await attempt()
        except ActionRefused as refused:
            if "opens" in str(refused) or "no look-back revisit is open" in str(refused):
                return None
            raise

    return await eventually(probe, timeout=timeout, what=what)


class Batch:
    """Drives each complaint from intake to closure with the fewest staff actions."""

    def __init__(self, client: Client, task_queue: str) -> None:
        self.intake = ComplaintIntakeClient(client, task_queue=task_queue)
        self.actions = ComplaintActions(client)
        self.client = client
        self.waiting = 0  # simple complaints approved, waiting for the kill
        self.killed = asyncio.Event()
        self.results: dict[str, ComplaintSnapshot] = {}
        self.tasks: list[asyncio.Task[str]] = []

    def start(self, driver: Callable[[], Coroutine[Any, Any, str]], count: int) -> list[asyncio.Task[str]]:
        started = [asyncio.create_task(driver()) for _ in range(count)]
        self.tasks += started
        return started

    def probe(self, condition: Callable[[], T | None]) -> Callable[[], Awaitable[T | None]]:
        """``condition`` for ``eventually``; a complaint's driver that failed fails it at once."""

        async def check() -> T | None:
            for task in self.tasks:
                if task.done() and task.exception() is not None:
                    task.result()
            return condition() or None

        return check

    async def file(self, payload: dict[str, Any]) -> tuple[str, str]:
        filed = await self.intake.file(payload)
        assert filed.outcome == FilingOutcome.FILED and filed.complaint_id, filed.errors
        state = await status_once(self.intake.handle(filed.complaint_id), {Status.IN_HANDLING}, timeout=120)
        assert state.snapshot.assignee
        return filed.complaint_id, state.snapshot.assignee

    async def caller(self, cid: str) -> str:
        state = await status_once(self.intake.handle(cid), {Status.FOLLOW_UP}, timeout=120)
        assert state.snapshot.follow_up is not None and state.snapshot.follow_up.caller
        return state.snapshot.follow_up.caller

    async def simple(self) -> str:
        cid, handler = await self.file(intake_payload("fees_and_interest"))
        await self.actions.propose_resolution(
            cid, ProposalRequest(actor=handler, explanation="Refund of the fee.", fee_refund=Money(amount=Decimal(500)))
        )
        await self.actions.decide_resolution(cid, ApprovalDecision(actor=MANAGER, approve=True))
        self.waiting += 1
        await self.killed.wait()  # the rest after the kill: its workflow may have been cached there
        await self.actions.record_customer_answer(cid, CustomerAnswer(actor=handler, accepted=True))
        await self.actions.record_root_cause(cid, RootCauseRequest(actor=handler, code="pricing_error", text="Old fee"))
        caller = await self.caller(cid)
        await self.actions.record_follow_up_call(
            cid, FollowUpCallRequest(actor=caller, reached=True, satisfaction=5, remedy_delivered=True)
        )
        return await self.closed(cid)

    async def major(self) -> str:
        """Lodged with NFRA: a report owed at once, an investigation, three look-back revisits."""
        payload = intake_payload("contract_dispute", regulators=["NFRA"], channel="regulator_referral")
        cid, handler = await self.file(payload)
        await conclude_investigation(self.client, cid)

        async def outcome() -> bool:
            inv = (await self.intake.status(cid)).snapshot.investigation
            return inv is not None and inv.outcome is not None

        await eventually(outcome, timeout=120, what=f"the investigation outcome on {cid}")
        await self.actions.record_legal_evaluation(
            cid,
            LegalEvaluationRequest(actor="S-LEG-001", opinion="Ambiguous clause", recommends_contract_revision=True),
        )
        await self.actions.record_manager_evaluation(
            cid, ManagerEvaluationRequest(actor=SENIOR, opinion="Revise and compensate")
        )
        await self.actions.propose_resolution(
            cid,
            ProposalRequest(
                actor=handler,
                explanation="Clause 7.3 revised; actual loss compensated.",
                compensation=Money(amount=Decimal(186000)),
                contract_revision="7.3: 1% of the amount prepaid",
            ),
        )
        await self.actions.decide_resolution(cid, ApprovalDecision(actor=SENIOR, approve=True))
        await self.actions.record_customer_answer(cid, CustomerAnswer(actor=handler, accepted=True))
        await self.actions.record_root_cause(
            cid, RootCauseRequest(actor=handler, code="contract_wording", text="Clause 7.3")
        )
        caller = await self.caller(cid)
        await self.actions.record_follow_up_call(
            cid, FollowUpCallRequest(actor=caller, reached=True, satisfaction=4, remedy_delivered=True)
        )
        for month in (1, 2, 3):
            request = LookBackRequest(actor=handler, situation=f"Month {month}: all well", commitments_kept=True)
            await until_accepted(partial(self.actions.record_look_back, cid, request), f"revisit {month} of {cid}")
        return await self.closed(cid)

    async def closed(self, cid: str) -> str:
        self.results[cid] = await self.intake.handle(cid).result()
        return cid


def outbox_of(engine: Engine, complaint_ids: set[str]) -> list[OutboxMessage]:
    with Session(engine) as session:
        return list(session.exec(select(OutboxMessage).where(OutboxMessage.complaint_id.in_(complaint_ids))).all())  # type: ignore[attr-defined]


@pytest.mark.timeout(420)
async def test_a_worker_killed_mid_batch_loses_no_complaint_and_sends_nothing_twice(
    client: Client, engine: Engine, database_url: str
) -> None:
    task_queue = f"several-{uuid.uuid4().hex[:6]}"
    began = time.monotonic()
    with RegulatorServer() as server:
        regulator_port = int(server.url.split(":")[2].split("/")[0])
        async with three_workers(client, database_url, task_queue, server.url) as workers:
            ready = time.monotonic() - began
            batch = Batch(client, task_queue)
            simple, major = batch.start(batch.simple, SIMPLE), []
            try:
                # In the middle of the batch: half the simple complaints approved (the others on
                # their way), then the majors filed with the regulator holding its answer.
                await eventually(batch.probe(lambda: batch.waiting >= SIMPLE // 2), timeout=120, what="half approved")
                server.hold.set()
                major = batch.start(batch.major, MAJOR)
                victim = await eventually(
                    batch.probe(lambda: holding_a_report(workers, regulator_port)),
                    timeout=60,
                    what="a worker holding a regulator report",
                )
                victim.send_signal(signal.SIGKILL)
                victim.wait(timeout=10)
                at_kill = {"approved": batch.waiting, "closed": len(batch.results), "after": time.monotonic() - began}
                server.hold.clear()
                batch.killed.set()

                done = await asyncio.wait_for(asyncio.gather(*simple, *major), timeout=300)
            finally:
                for task in batch.tasks:
                    task.cancel()
            assert all(w.poll() is None for w in workers if w is not victim), "the other two ran throughout"
    took = time.monotonic() - began

    assert at_kill["closed"] == 0 and at_kill["approved"] >= SIMPLE // 2, at_kill
    assert len(set(done)) == SIMPLE + MAJOR
    assert all(r.status == Status.CLOSED for r in batch.results.values()), {
        cid: r.status for cid, r in batch.results.items()
    }
    majors = set(done[SIMPLE:])
    # Reports: one per complaint and regulator, under its one key; the key held when the worker
    # died was posted again by another worker (the regulator answers the duplicate from its record).
    for cid in majors:
        assert list(server.filed_for(cid)) == [f"{cid}:NFRA:initial:1"], "filed exactly once"
    assert any(server.posts[f"{cid}:NFRA:initial:1"] >= 2 for cid in majors), "the killed worker's report was retried"
    # Notifications: every one sent, none twice.
    messages = outbox_of(engine, set(done))
    keys = Counter(m.idempotency_key for m in messages)
    assert not [k for k, n in keys.items() if n > 1]
    assert all(m.status == "sent" for m in messages), [(m.idempotency_key, m.status) for m in messages]
    for cid in done:
        sent = Counter(m.kind for m in messages if m.complaint_id == cid)
        expected = MAJOR_SENT if cid in majors else SIMPLE_SENT
        assert {k: n for k, n in sent.items() if k not in ON_TIMING} == expected, (cid, dict(sent))
    sticky_timeouts = sum([await sticky_queue_timeouts(client, cid) for cid in done])
    print(
        f"\n{WORKERS} workers, one SIGKILLed: {len(done)} complaints closed in {took:.0f} s (workers up after "
        f"{ready:.0f} s, killed after {at_kill['after']:.0f} s with {at_kill['approved']} of {SIMPLE} simple ones "
        f"approved, none closed); {sticky_timeouts} workflow tasks left on its sticky queue went to the others"
    )


async def sticky_queue_timeouts(client: Client, complaint_id: str) -> int:
    """Workflow tasks that timed out waiting on a worker's sticky queue (a dead worker's cache)."""
    history = await client.get_workflow_handle(f"complaint-{complaint_id}").fetch_history()
    return sum(
        1
        for e in history.events
        if e.HasField("workflow_task_timed_out_event_attributes")
        and e.workflow_task_timed_out_event_attributes.timeout_type == TimeoutType.TIMEOUT_TYPE_SCHEDULE_TO_START
    )

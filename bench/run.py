"""N simple complaints from intake to closure, beside a bare workflow of the same shape.

    make bench            # N=300
    make bench N=1000

Each complaint is filed, waits until a handler holds it, then its handler proposes a refund,
the manager approves, the customer accepts, the handler records the root cause, and the
follow-up caller records a satisfied customer (five updates); the workflow closes. The bare
workflow runs the same number of activities and updates around the same timer wait.
Figures: time until all are in handling, time until all are done, completions per second,
worker peak memory (VmHWM of the worker process). Fresh dev server per side, with the same
SQLite pragmas as `make run`; the complaints worker uses the standard policy and SQLite.
"""

from __future__ import annotations

import argparse
import asyncio
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter

from bench.bare import ACTIONS, BareWorkflow
from complaints.actions import ComplaintActions
from complaints.devserver import dev_server_command
from complaints.intake import ComplaintIntakeClient, FilingOutcome
from complaints.temporal import exit_process
from models.actions import (
    ApprovalDecision,
    CustomerAnswer,
    FollowUpCallRequest,
    ProposalRequest,
    RootCauseRequest,
)
from models.complaint import Status
from models.intake import Money
from tests.factories import intake_payload
from workflows.complaint import ComplaintWorkflow

CONCURRENCY = 50


@dataclass
class Result:
    label: str
    count: int
    submit_seconds: float
    total_seconds: float
    worker_peak_mb: float

    @property
    def per_second(self) -> float:
        return self.count / self.total_seconds


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


async def connect(port: int) -> Client:
    for _ in range(300):
        try:
            return await Client.connect(f"127.0.0.1:{port}", data_converter=pydantic_data_converter)
        except RuntimeError:
            await asyncio.sleep(0.2)
    raise SystemExit("dev server did not start")


async def run_one(kind: str, count: int, workdir: Path) -> Result:
    port, task_queue = free_port(), f"bench-{kind}-{uuid.uuid4().hex[:6]}"
    server = subprocess.Popen(
        dev_server_command(workdir / f"{kind}-temporal.db", port=port, headless=True, log_level="error"),
        stdout=subprocess.DEVNULL,
    )
    worker = None
    try:
        client = await connect(port)
        worker = subprocess.Popen(
            [sys.executable, "-m", "bench.worker", "--kind", kind, "--address", f"127.0.0.1:{port}",
             "--task-queue", task_queue, "--database-url", f"sqlite:///{workdir / f'{kind}.db'}"],
            stdout=subprocess.PIPE, text=True,
        )
        assert worker.stdout is not None and worker.stdout.readline().strip() == "ready"
        gate = asyncio.Semaphore(CONCURRENCY)
        intake = ComplaintIntakeClient(client, task_queue=task_queue)
        actions = ComplaintActions(client)
        ready_at: list[float] = []

        async def wait_ready(probe) -> None:
            while not await probe():
                await asyncio.sleep(0.1)
            ready_at.append(time.perf_counter())

        async def one(i: int) -> None:
            async with gate:
                if kind == "bare":
                    handle = await client.start_workflow(BareWorkflow.run, id=f"bare-{i}-{task_queue}",
                                                         task_queue=task_queue)
                    await wait_ready(lambda: handle.query(BareWorkflow.ready))
                    for action in range(ACTIONS):
                        await handle.execute_update(BareWorkflow.act, action)
                    await handle.result()
                    return
                filed = await intake.file(intake_payload("fees_and_interest"))
                assert filed.outcome == FilingOutcome.FILED, filed.errors
                cid, handle = filed.complaint_id, intake.handle(filed.complaint_id)

                async def assigned() -> bool:
                    return (await handle.query(ComplaintWorkflow.status)).snapshot.status == Status.IN_HANDLING

                await wait_ready(assigned)
                handler = (await handle.query(ComplaintWorkflow.status)).snapshot.assignee
                await actions.propose_resolution(cid, ProposalRequest(
                    actor=handler, explanation="Refund", fee_refund=Money(amount=Decimal("100"))))
                await actions.decide_resolution(cid, ApprovalDecision(actor="S-MGR-001", approve=True))
                await actions.record_customer_answer(cid, CustomerAnswer(actor=handler, accepted=True))
                await actions.record_root_cause(cid, RootCauseRequest(actor=handler, code="pricing_error", text="bench"))
                caller = (await handle.query(ComplaintWorkflow.status)).snapshot.follow_up.caller
                await actions.record_follow_up_call(cid, FollowUpCallRequest(
                    actor=caller, reached=True, satisfaction=5, remedy_delivered=True))
                assert (await handle.result()).status == Status.CLOSED

        began = time.perf_counter()
        await asyncio.gather(*(one(i) for i in range(count)))
        total = time.perf_counter() - began
        submitted = max(ready_at) - began
        return Result(kind, count, submitted, total, peak_rss_mb(worker.pid))
    finally:
        if worker:
            worker.terminate()
            worker.wait(timeout=30)
        server.terminate()
        server.wait(timeout=30)


def report(bare: Result, complaint: Result) -> str:
    rows = [
        ("workflows", f"{bare.count}", f"{complaint.count}", ""),
        ("all in handling (s)", f"{bare.submit_seconds:.2f}", f"{complaint.submit_seconds:.2f}",
         f"{complaint.submit_seconds / bare.submit_seconds:.2f}x"),
        ("all closed (s)", f"{bare.total_seconds:.2f}", f"{complaint.total_seconds:.2f}",
         f"{complaint.total_seconds / bare.total_seconds:.2f}x"),
        ("intake to closure per second", f"{bare.per_second:.1f}", f"{complaint.per_second:.1f}",
         f"{complaint.per_second / bare.per_second:.2f}x"),
        ("worker peak memory (MB)", f"{bare.worker_peak_mb:.0f}", f"{complaint.worker_peak_mb:.0f}",
         f"{complaint.worker_peak_mb / bare.worker_peak_mb:.2f}x"),
    ]
    width = max(len(r[0]) for r in rows)
    lines = [f"{'':<{width}}  {'bare':>10}  {'complaints':>10}  {'ratio':>7}"]
    lines += [f"{a:<{width}}  {b:>10}  {c:>10}  {d:>7}" for a, b, c, d in rows]
    return "\n".join(lines)


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--count", type=int, default=300)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="complaints-bench-") as tmp:
        print(f"bench: {args.count} simple complaints, intake to closure, vs a bare workflow of the same shape "
              "(fresh dev server each: SQLite file, WAL, synchronous=normal)")
        bare = await run_one("bare", args.count, Path(tmp))
        complaint = await run_one("complaint", args.count, Path(tmp))
    print(report(bare, complaint))


if __name__ == "__main__":
    asyncio.run(main())
    exit_process(0)

"""The recall line of `make bench`: a recall's fan-out to N customers (default 10,000).

A fresh dev server and a complaints worker in its own process (bench.harness, standard policy:
window 100, 1,000 customers a run, pages of 200), N customers holding a contract on the
product written straight into the worker's database, then a senior manager's declaration.
Measured until every customer is told and their remediation open (the ``recall_customers``
table, read once a second): customers per second, the worker's peak memory (VmHWM), and each
run of the recall's workflow with its history length (events; goal <= 10,000 each).

Beside it, the bare baseline of the same shape (bench.bare.BareFanOutWorkflow): N children in a
window of 100, 1,000 a run, each running one local activity, reporting to the parent and then
sleeping 30 days, on a worker with the same tuning: what Temporal alone costs for this fan-out.

The remediations are left open (their clocks are 30 days away); the dev server goes with the side.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import Engine, insert

from bench.bare import BareFanOut, BareFanOutWorkflow
from bench.harness import Memory, Side, side
from complaints.recall import declare_recall
from db import recall_queries
from db.engine import make_engine
from db.tables import LoanBookSignalRow
from domain.policy import load_policy
from models.recall import DeclareRecallRequest, RemedyKind

PRODUCT = "equipment_finance"
MAX_EVENTS = 10_000


@dataclass
class RecallLine:
    count: int
    told_seconds: float
    opened_seconds: float
    peak: Memory
    runs: list[int]  # events per run, oldest first

    @property
    def per_second(self) -> float:
        return self.count / self.opened_seconds


def database_url(s: Side) -> str:
    """The side's worker database (bench.harness names it after the task queue)."""
    name = s.task_queue.removeprefix("bench-")
    return f"sqlite:///{s.workdir / f'{name}.db'}"


def insert_contracts(engine: Engine, count: int, token: str) -> None:
    now = datetime.now(UTC)
    rows = [
        {
            "source_system": "BENCH",
            "source_record_id": f"CTR-{token}-{i:06d}",
            "customer_id": f"C-{token}-{i:06d}",
            "kind": "contract",
            "observed_at": now - timedelta(days=1),
            "figures": {"contract_number": f"EQ-{i:06d}", "product": PRODUCT, "status": "active"},
            "received_at": now,
        }
        for i in range(count)
    ]
    with engine.begin() as conn:
        for i in range(0, len(rows), 1000):
            conn.execute(insert(LoanBookSignalRow), rows[i : i + 1000])


async def fan_out(s: Side, count: int, policy_file: Path, progress: bool = True) -> RecallLine:
    engine = make_engine(database_url(s))
    token = uuid.uuid4().hex[:6]
    insert_contracts(engine, count, token)
    policy = load_policy(policy_file)
    began = time.perf_counter()
    declaration = await declare_recall(
        s.client,
        engine,
        policy,
        DeclareRecallRequest(
            product=PRODUCT,
            actor="S-SM-001",
            reason="bench: the fee formula overcharges",
            scope="every contract",
            remedy=RemedyKind.REFUND,
        ),
        s.task_queue,
    )
    told_at: float | None = None
    last_print = began
    while True:
        p = recall_queries.progress(engine, declaration.recall_id)
        now = time.perf_counter()
        if told_at is None and p.affected == count and p.told == count:
            told_at = now - began
        if p.affected == count and p.opened == count:
            break
        if progress and now - last_print >= 30:
            print(f"  recall: {p.told}/{count} told, {p.opened} open after {now - began:.0f} s", flush=True)
            last_print = now
        await asyncio.sleep(1.0)
    opened = time.perf_counter() - began
    peak = s.memory()
    runs = []
    query = f'WorkflowId = "recall-{PRODUCT}"'
    async for execution in s.client.list_workflows(query):
        history = await s.client.get_workflow_handle(execution.id, run_id=execution.run_id).fetch_history()
        runs.append((execution.start_time, len(history.events)))
    engine.dispose()
    return RecallLine(count, told_at or opened, opened, peak, [n for _, n in sorted(runs)])


async def bare_fan_out(s: Side, count: int) -> RecallLine:
    began = time.perf_counter()
    workflow_id = f"bare-fan-out-{uuid.uuid4().hex[:6]}"
    handle = await s.client.start_workflow(
        BareFanOutWorkflow.run, BareFanOut(count=count), id=workflow_id, task_queue=s.task_queue
    )
    await handle.result()  # follows the runs: done when the last child has reported
    seconds = time.perf_counter() - began
    peak = s.memory()
    runs = []
    async for execution in s.client.list_workflows(f'WorkflowId = "{workflow_id}"'):
        history = await s.client.get_workflow_handle(workflow_id, run_id=execution.run_id).fetch_history()
        runs.append((execution.start_time, len(history.events)))
    return RecallLine(count, seconds, seconds, peak, [n for _, n in sorted(runs)])


@dataclass
class RecallComparison:
    recall: RecallLine
    bare: RecallLine


async def run(count: int, workdir: Path, policy_file: Path) -> RecallComparison:
    async with side("complaint", workdir, policy=policy_file) as s:
        recall = await fan_out(s, count, policy_file)
    async with side("bare", workdir) as s:
        bare = await bare_fan_out(s, count)
    return RecallComparison(recall, bare)


def report(both: RecallComparison) -> str:
    line, bare = both.recall, both.bare
    worst = max(line.runs) if line.runs else 0
    verdict = "" if worst <= MAX_EVENTS else "  MISSED"
    rows = [
        ("", "recall", "bare fan-out"),
        ("customers affected", f"{line.count:,}", f"{bare.count:,}"),
        ("all told (s)", f"{line.told_seconds:.1f}", "—"),
        ("all told and remediation open (s)", f"{line.opened_seconds:.1f}", f"{bare.opened_seconds:.1f}"),
        ("customers per second", f"{line.per_second:.1f}", f"{bare.per_second:.1f}"),
        ("worker peak memory (VmHWM, MB)", f"{line.peak.hwm_mb:.0f}", f"{bare.peak.hwm_mb:.0f}"),
        ("runs of the fan-out so far", f"{len(line.runs)}", f"{len(bare.runs)}"),
        ("most events in a run (goal <= 10,000)", f"{worst}{verdict}", f"{max(bare.runs) if bare.runs else 0}"),
    ]
    width = max(len(r[0]) for r in rows)
    lines = [f"{a:<{width}}  {b:>10}  {c:>12}" for a, b, c in rows]
    lines.append(f"recall events per run: {', '.join(str(n) for n in line.runs)}")
    return "\n".join(lines)

"""Throughput, capacity and history size of complaints, beside a bare workflow of the same shape.

    make bench                                   # every line, default sizes
    make bench ONLY=burst BURST=1000             # one line, another size
    python -m bench.run --only closure,history --count 100

Lines (each on fresh dev servers, one per side, with the SQLite pragmas of `make run`; the
worker in its own process with the tuning from the environment, standard policy, SQLite):

closure   N simple complaints (default 300, 50 at a time) from intake to closure: filed, in
          handling, then five updates (propose, approve, accept, root cause, follow-up call).
          The bare workflow runs the same number of activities and updates around a timer.
burst     M complaints (default 3,000) filed at once; time until all are in handling, beside
          M bare workflows started at once until all are ready. Readiness is one visibility
          count per second (ComplaintStatus="in_handling", which both workflows upsert).
capacity  K complaints (default 10,000) filed at the worker's pace (at most half its cache not
          yet in handling) and left in handling, nobody acting: every one waits on its SLA
          clocks (hours and days). Worker memory (VmRSS now, VmHWM peak) once the worker is
          idle, beside a worker holding K bare workflows waiting on a timer.
history   Workflow history (JSON export, KiB, and events) of a simple complaint from intake to
          the customer's acceptance, and of the case study from intake to closure.
analysis  One month's periodic analysis over A generated complaints (default 1,000,000) on the
          local PostgreSQL (database complaints_bench, generated once and reused), seconds and
          peak memory beside a bare SELECT count(*) of the month (bench/analysis.py).
recall    A product recall's fan-out to R customers (default 10,000) holding a contract on the
          product: until every one is told and their remediation open, customers per second,
          the worker's peak memory, and each run's history (events; goal <= 10,000 a run),
          beside a bare sliding window of as many trivial children (bench/recall.py).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import psycopg

from bench import analysis as analysis_line
from bench import recall as recall_line
from bench.bare import ACTIONS, BareWorkflow
from bench.case_study import work_case_study
from bench.harness import COMPRESSED_POLICY, STANDARD_POLICY, Memory, Side, side
from complaints.actions import ComplaintActions
from complaints.config import Settings
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

LINES = ("closure", "burst", "capacity", "history", "analysis", "recall")
CLOSURE_CONCURRENCY = 50  # complaints worked at once in the closure line (as before)
FILING_CONCURRENCY = 32  # start-workflow calls in flight while filing a burst
HISTORY_TARGETS_KIB = {"simple": 60, "case study": 200}


# -- closure ---------------------------------------------------------------------------


@dataclass
class Closure:
    count: int
    ready_seconds: float
    total_seconds: float
    memory: Memory

    @property
    def per_second(self) -> float:
        return self.count / self.total_seconds


async def closure(side: Side, count: int) -> Closure:
    client, task_queue = side.client, side.task_queue
    gate = asyncio.Semaphore(CLOSURE_CONCURRENCY)
    intake = ComplaintIntakeClient(client, task_queue=task_queue)
    actions = ComplaintActions(client)
    ready_at: list[float] = []

    async def wait_ready(probe: Callable[[], Awaitable[bool]]) -> None:
        while not await probe():
            await asyncio.sleep(0.1)
        ready_at.append(time.perf_counter())

    async def bare(i: int) -> None:
        handle = await client.start_workflow(BareWorkflow.run, id=f"bare-{i}-{task_queue}", task_queue=task_queue)
        await wait_ready(lambda: handle.query(BareWorkflow.ready))
        for action in range(ACTIONS):
            await handle.execute_update(BareWorkflow.act, action)
        await handle.result()

    async def complaint() -> None:
        filed = await intake.file(intake_payload("fees_and_interest"))
        assert filed.outcome == FilingOutcome.FILED and filed.complaint_id, filed.errors
        cid, handle = filed.complaint_id, intake.handle(filed.complaint_id)

        async def assigned() -> bool:
            return (await handle.query(ComplaintWorkflow.status)).snapshot.status == Status.IN_HANDLING

        await wait_ready(assigned)
        handler = (await handle.query(ComplaintWorkflow.status)).snapshot.assignee
        assert handler
        await actions.propose_resolution(
            cid, ProposalRequest(actor=handler, explanation="Refund", fee_refund=Money(amount=Decimal(100)))
        )
        await actions.decide_resolution(cid, ApprovalDecision(actor="S-MGR-001", approve=True))
        await actions.record_customer_answer(cid, CustomerAnswer(actor=handler, accepted=True))
        await actions.record_root_cause(cid, RootCauseRequest(actor=handler, code="pricing_error", text="bench"))
        follow_up = (await handle.query(ComplaintWorkflow.status)).snapshot.follow_up
        assert follow_up and follow_up.caller
        await actions.record_follow_up_call(
            cid, FollowUpCallRequest(actor=follow_up.caller, reached=True, satisfaction=5, remedy_delivered=True)
        )
        assert (await handle.result()).status == Status.CLOSED

    async def one(i: int) -> None:
        async with gate:
            await (bare(i) if side.kind == "bare" else complaint())

    began = time.perf_counter()
    await asyncio.gather(*(one(i) for i in range(count)))
    total = time.perf_counter() - began
    return Closure(count, max(ready_at) - began, total, side.memory())


def closure_report(bare: Closure, complaint: Closure) -> str:
    return table(
        [
            ("workflows", f"{bare.count}", f"{complaint.count}", ""),
            (
                "all in handling (s)",
                f"{bare.ready_seconds:.2f}",
                f"{complaint.ready_seconds:.2f}",
                f"{complaint.ready_seconds / bare.ready_seconds:.2f}x",
            ),
            (
                "all closed (s)",
                f"{bare.total_seconds:.2f}",
                f"{complaint.total_seconds:.2f}",
                f"{complaint.total_seconds / bare.total_seconds:.2f}x",
            ),
            (
                "intake to closure per second",
                f"{bare.per_second:.1f}",
                f"{complaint.per_second:.1f}",
                f"{complaint.per_second / bare.per_second:.2f}x",
            ),
            (
                "worker peak memory (MB)",
                f"{bare.memory.hwm_mb:.0f}",
                f"{complaint.memory.hwm_mb:.0f}",
                f"{complaint.memory.hwm_mb / bare.memory.hwm_mb:.2f}x",
            ),
        ]
    )


# -- burst and capacity: many filed at once --------------------------------------------


@dataclass
class Burst:
    count: int
    filed_seconds: float  # until every start-workflow call had returned
    ready_seconds: float  # until the visibility count reached count
    peak: Memory  # when the last one was ready
    idle: Memory | None = None  # once the worker had gone quiet afterwards

    @property
    def per_second(self) -> float:
        return self.count / self.ready_seconds


async def file_at_once(side: Side, count: int, *, progress: str = "", unready: int | None = None) -> Burst:
    """Start ``count`` workflows, polling one visibility count (once a second) until all are ready.

    All at once (bounded only by FILING_CONCURRENCY start calls in flight), or, with ``unready``,
    at the pace the worker takes them: never more than that many filed and not yet ready.
    """
    intake = ComplaintIntakeClient(side.client, task_queue=side.task_queue)
    gate = asyncio.Semaphore(FILING_CONCURRENCY)
    run = uuid.uuid4().hex[:6]

    async def start(i: int) -> None:
        async with gate:
            if side.kind == "bare":
                await side.client.start_workflow(BareWorkflow.run, id=f"bare-{run}-{i}", task_queue=side.task_queue)
            else:
                filed = await intake.file(intake_payload("fees_and_interest"))
                assert filed.outcome == FilingOutcome.FILED, filed.errors

    began = time.perf_counter()
    batches: list[asyncio.Future[list[None]]] = []
    filed, filed_seconds, last_print = 0, None, began
    while True:
        ready = await side.count_in_handling()
        allowed = count - filed if unready is None else min(count - filed, unready - (filed - ready))
        if allowed > 0:
            batches.append(asyncio.ensure_future(asyncio.gather(*(start(i) for i in range(filed, filed + allowed)))))
            filed += allowed
        now = time.perf_counter()
        for batch in batches:
            if batch.done():
                batch.result()  # raise what failed
        if filed_seconds is None and filed == count and all(b.done() for b in batches):
            filed_seconds = now - began
        if ready >= count:
            break
        if progress and now - last_print >= 30:
            print(f"  {progress} {side.kind}: {ready}/{count} ready after {now - began:.0f} s", flush=True)
            last_print = now
        await asyncio.sleep(1.0)
    ready_seconds = time.perf_counter() - began
    await asyncio.gather(*batches)
    return Burst(count, filed_seconds if filed_seconds is not None else ready_seconds, ready_seconds, side.memory())


async def quiet(side: Side, *, seconds: float = 3, limit: float = 120) -> None:
    """Wait until the worker has used under 2% of a core for ``seconds`` in a row."""

    def cpu() -> float:
        fields = Path(f"/proc/{side.worker.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / 100  # utime + stime, in clock ticks of 1/100 s

    deadline, calm, before = time.monotonic() + limit, 0, cpu()
    while calm < seconds and time.monotonic() < deadline:
        await asyncio.sleep(1)
        now = cpu()
        calm = calm + 1 if now - before < 0.02 else 0
        before = now


def burst_report(bare: Burst, complaint: Burst) -> str:
    return table(
        [
            ("workflows filed at once", f"{bare.count}", f"{complaint.count}", ""),
            ("all filed (s)", f"{bare.filed_seconds:.1f}", f"{complaint.filed_seconds:.1f}", ""),
            (
                "all in handling (s)",
                f"{bare.ready_seconds:.1f}",
                f"{complaint.ready_seconds:.1f}",
                f"{complaint.ready_seconds / bare.ready_seconds:.2f}x",
            ),
            (
                "in handling per second",
                f"{bare.per_second:.1f}",
                f"{complaint.per_second:.1f}",
                f"{complaint.per_second / bare.per_second:.2f}x",
            ),
            (
                "worker peak memory (MB)",
                f"{bare.peak.hwm_mb:.0f}",
                f"{complaint.peak.hwm_mb:.0f}",
                f"{complaint.peak.hwm_mb / bare.peak.hwm_mb:.2f}x",
            ),
        ]
    )


def capacity_report(bare: Burst, complaint: Burst) -> str:
    assert bare.idle is not None and complaint.idle is not None
    return table(
        [
            ("open workflows, all waiting", f"{bare.count}", f"{complaint.count}", ""),
            (
                "worker memory now (VmRSS, MB)",
                f"{bare.idle.rss_mb:.0f}",
                f"{complaint.idle.rss_mb:.0f}",
                f"{complaint.idle.rss_mb / bare.idle.rss_mb:.2f}x",
            ),
            (
                "worker peak (VmHWM, MB)",
                f"{bare.idle.hwm_mb:.0f}",
                f"{complaint.idle.hwm_mb:.0f}",
                f"{complaint.idle.hwm_mb / bare.idle.hwm_mb:.2f}x",
            ),
            (
                "time to open them all (s)",
                f"{bare.ready_seconds:.0f}",
                f"{complaint.ready_seconds:.0f}",
                f"{complaint.ready_seconds / bare.ready_seconds:.2f}x",
            ),
        ]
    )


# -- history ---------------------------------------------------------------------------


@dataclass
class History:
    label: str
    events: int
    kib: float
    target_kib: float | None


async def history_of(side: Side, workflow_id: str, label: str, target: float | None) -> History:
    history = await side.client.get_workflow_handle(workflow_id).fetch_history()
    return History(label, len(history.events), len(history.to_json().encode()) / 1024, target)


async def simple_to_acceptance(side: Side) -> str:
    """A simple complaint: filed, assigned, handler proposes, manager approves, customer accepts."""
    intake = ComplaintIntakeClient(side.client, task_queue=side.task_queue)
    actions = ComplaintActions(side.client)
    filed = await intake.file(intake_payload("fees_and_interest"))
    assert filed.outcome == FilingOutcome.FILED and filed.complaint_id, filed.errors
    cid = filed.complaint_id
    while (state := await intake.status(cid)).snapshot.status != Status.IN_HANDLING:
        await asyncio.sleep(0.2)
    handler = state.snapshot.assignee
    assert handler
    await actions.propose_resolution(
        cid, ProposalRequest(actor=handler, explanation="Refund", fee_refund=Money(amount=Decimal(100)))
    )
    await actions.decide_resolution(cid, ApprovalDecision(actor="S-MGR-001", approve=True))
    await actions.record_customer_answer(cid, CustomerAnswer(actor=handler, accepted=True))
    while (await intake.status(cid)).snapshot.status != Status.FOLLOW_UP:
        await asyncio.sleep(0.2)
    return intake.handle(cid).id


async def histories(workdir: Path) -> list[History]:
    async with side("complaint", workdir) as standard:
        simple = await history_of(
            standard,
            await simple_to_acceptance(standard),
            "simple complaint, intake to acceptance",
            HISTORY_TARGETS_KIB["simple"],
        )
    async with side("complaint", workdir, policy=COMPRESSED_POLICY) as compressed:
        cid = await work_case_study(compressed.client, compressed.task_queue)
        case = await history_of(
            compressed, f"complaint-{cid}", "case study, intake to closure", HISTORY_TARGETS_KIB["case study"]
        )
        child = await history_of(compressed, f"investigation-{cid}", "  its investigation (child workflow)", None)
    return [simple, case, child]


def history_report(rows: list[History]) -> str:
    width = max(len(r.label) for r in rows)
    lines = [f"{'':<{width}}  {'events':>7}  {'KiB':>7}  {'target':>8}"]
    for r in rows:
        target = f"<= {r.target_kib:.0f}" if r.target_kib is not None else ""
        lines.append(f"{r.label:<{width}}  {r.events:>7}  {r.kib:>7.1f}  {target:>8}")
    return "\n".join(lines)


# -- main ------------------------------------------------------------------------------


def load() -> str:
    return f"load average {os.getloadavg()[0]:.1f}"


def metrics_line(side: Side) -> str:
    """The worker's own account (SDK metrics): tasks, cache, and where tasks waited."""
    m = side.metrics()

    def mean(name: str) -> float:
        count = m.get(f"temporal_{name}_count", 0.0)
        return m.get(f"temporal_{name}_sum", 0.0) / count if count else float("nan")

    hits, misses = m.get("temporal_sticky_cache_hit", 0.0), m.get("temporal_sticky_cache_miss", 0.0)
    return (
        f"  {side.kind} worker: {m.get('temporal_workflow_task_queue_poll_succeed', 0):.0f} workflow tasks "
        f"(run {mean('workflow_task_execution_latency'):.0f} ms, waited "
        f"{mean('workflow_task_schedule_to_start_latency'):.0f} ms, "
        f"{m.get('temporal_workflow_task_execution_failed', 0):.0f} failed), "
        f"cache {hits:.0f} hits / {misses:.0f} misses, "
        f"{m.get('temporal_sticky_cache_total_forced_eviction', 0):.0f} forced evictions; "
        f"{m.get('temporal_activity_task_received', 0):.0f} activities (run "
        f"{mean('activity_execution_latency'):.0f} ms, waited {mean('activity_schedule_to_start_latency'):.0f} ms)"
    )


def table(rows: list[tuple[str, str, str, str]]) -> str:
    width = max(len(r[0]) for r in rows)
    lines = [f"{'':<{width}}  {'bare':>10}  {'complaints':>10}  {'ratio':>7}"]
    lines += [f"{a:<{width}}  {b:>10}  {c:>10}  {d:>7}" for a, b, c, d in rows]
    return "\n".join(lines)


def report(render: Callable[[Any, Any], str], results: dict[str, Any]) -> str:
    """Both sides as a table; one side alone is shown against itself (ratios 1.00x)."""
    bare = results.get("bare", results.get("complaint"))
    return render(bare, results.get("complaint", bare))


def lines_arg(text: str) -> list[str]:
    chosen = [part.strip() for part in text.split(",") if part.strip()]
    unknown = sorted(set(chosen) - set(LINES))
    if unknown:
        raise argparse.ArgumentTypeError(f"unknown line(s) {', '.join(unknown)}; choose from {', '.join(LINES)}")
    return chosen


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--only",
        type=lines_arg,
        default=list(LINES),
        help=f"comma-separated lines to run (default all: {','.join(LINES)})",
    )
    parser.add_argument("--count", type=int, default=300, help="closure line: complaints (default 300)")
    parser.add_argument("--burst", type=int, default=3000, help="burst line: complaints filed at once (default 3000)")
    parser.add_argument(
        "--capacity", type=int, default=10000, help="capacity line: open complaints held (default 10000)"
    )
    parser.add_argument(
        "--analysis-count",
        type=int,
        default=1_000_000,
        help="analysis line: generated complaints the month is analysed among (default 1000000)",
    )
    parser.add_argument("--recall", type=int, default=10_000, help="recall line: affected customers (default 10000)")
    parser.add_argument(
        "--sides",
        type=lambda t: t.split(","),
        default=["bare", "complaint"],
        help="bare,complaint (default both; one side only prints its figures, for tuning runs)",
    )
    parser.add_argument(
        "--metrics",
        action="store_true",
        help="after each side, one line of the worker's SDK metrics (tasks, cache, latencies)",
    )
    parser.add_argument(
        "--profile",
        type=Path,
        metavar="DIR",
        help="write a py-spy profile (raw, collapsed stacks) of each worker to DIR",
    )
    args = parser.parse_args()
    tuning = Settings().worker
    print(
        f"bench: lines {','.join(args.only)}; fresh dev server per side (SQLite file, WAL, synchronous=normal); "
        f"worker tuning {tuning}; load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores",
        flush=True,
    )
    if args.profile:
        args.profile.mkdir(parents=True, exist_ok=True)

    def profile(line: str, kind: str) -> Path | None:
        return args.profile / f"{line}-{kind}.txt" if args.profile else None

    with tempfile.TemporaryDirectory(prefix="complaints-bench-") as tmp:
        workdir = Path(tmp)
        # The staff sign their actions (the standard policy requires it): keys made by each
        # complaint worker for its database (bench/worker.py), here, never in ~/.config.
        os.environ["COMPLAINTS_CONFIG_DIR"] = str(workdir / "config")
        if "closure" in args.only:
            print(
                f"\nclosure: {args.count} simple complaints, intake to closure, {CLOSURE_CONCURRENCY} at a time "
                f"({load()})",
                flush=True,
            )
            results = {}
            for kind in args.sides:
                async with side(kind, workdir, profile=profile("closure", kind)) as s:
                    results[kind] = await closure(s, args.count)
                    if args.metrics:
                        print(metrics_line(s), flush=True)
            print(report(closure_report, results), flush=True)
        if "burst" in args.only:
            print(
                f"\nburst: {args.burst} filed at once ({FILING_CONCURRENCY} start calls in flight), "
                f"until all are in handling ({load()})",
                flush=True,
            )
            bursts = {}
            for kind in args.sides:
                async with side(kind, workdir, profile=profile("burst", kind)) as s:
                    bursts[kind] = await file_at_once(s, args.burst, progress="burst")
                    if args.metrics:
                        print(metrics_line(s), flush=True)
            print(report(burst_report, bursts), flush=True)
        if "capacity" in args.only:
            # Filed at the worker's pace (at most half its cache in flight), so that this line
            # measures holding them, not a burst.
            unready = max(10, min(500, tuning.max_cached_workflows // 2))
            print(
                f"\ncapacity: {args.capacity} open, in handling and waiting on their clocks, nobody acting "
                f"(filed with at most {unready} not yet in handling; goal: complaints worker <= 300 MB; {load()})",
                flush=True,
            )
            held = {}
            for kind in args.sides:
                async with side(kind, workdir) as s:
                    held[kind] = await file_at_once(s, args.capacity, progress="capacity", unready=unready)
                    await quiet(s)
                    held[kind].idle = s.memory()
                    if args.metrics:
                        print(metrics_line(s), flush=True)
            print(report(capacity_report, held), flush=True)
        if "history" in args.only:
            print(f"\nhistory: JSON export of the workflow history (fetch_history().to_json()); {load()}", flush=True)
            print(history_report(await histories(workdir)), flush=True)
        if "analysis" in args.only:
            print(f"\n{analysis_line.headline(args.analysis_count, load())}", flush=True)
            try:
                measured = await asyncio.to_thread(analysis_line.run, args.analysis_count)
            except psycopg.OperationalError as err:
                print(f"  skipped: PostgreSQL at {analysis_line.ADMIN_URL} is unreachable ({err})", flush=True)
            else:
                print(analysis_line.report(measured), flush=True)
        if "recall" in args.only:
            print(
                f"\nrecall: fan-out to {args.recall:,} customers (standard policy: window 100, 1,000 a run), until "
                f"all are told and their remediation open ({load()})",
                flush=True,
            )
            print(recall_line.report(await recall_line.run(args.recall, workdir, STANDARD_POLICY)), flush=True)


if __name__ == "__main__":
    asyncio.run(main())
    exit_process(0)

"""One side of a benchmark: a fresh dev server and a worker process of one kind.

Each side gets its own dev server (SQLite file with the pragmas of `make run`) in a temporary
directory, so nothing is shared between the bare and the complaints side. The worker runs in
its own process (bench/worker.py) with the tuning from the environment (complaints.config
WorkerTuning), so its memory is its own; `memory()` reads it from /proc.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import socket
import subprocess
import sys
import urllib.request
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter

from complaints.config import PROJECT_ROOT
from complaints.devserver import dev_server_command

STANDARD_POLICY = PROJECT_ROOT / "policies" / "standard.yaml"
COMPRESSED_POLICY = PROJECT_ROOT / "policies" / "compressed.yaml"
WORKFLOW_TYPE = {"bare": "BareWorkflow", "complaint": "ComplaintWorkflow"}


@dataclass(frozen=True)
class Memory:
    rss_mb: float  # VmRSS: resident now
    hwm_mb: float  # VmHWM: the peak resident since the process started


@dataclass
class Side:
    kind: str  # "bare" or "complaint"
    client: Client
    task_queue: str
    worker: subprocess.Popen[str]
    workdir: Path
    metrics_address: str

    @property
    def workflow_type(self) -> str:
        return WORKFLOW_TYPE[self.kind]

    def memory(self) -> Memory:
        return worker_memory(self.worker.pid)

    def metrics(self) -> dict[str, float]:
        """The worker's SDK metrics (Prometheus text), each summed over its labels."""
        with urllib.request.urlopen(f"http://{self.metrics_address}/metrics", timeout=10) as answer:
            text = answer.read().decode()
        totals: dict[str, float] = {}
        for line in text.splitlines():
            if not line or line.startswith("#"):
                continue
            name, _, value = line.rpartition(" ")
            totals[name.split("{", 1)[0]] = totals.get(name.split("{", 1)[0], 0.0) + float(value)
        return totals

    async def count_in_handling(self) -> int:
        """Workflows of this side's type whose ComplaintStatus is in_handling (both types upsert it)."""
        query = f'WorkflowType="{self.workflow_type}" AND ComplaintStatus="in_handling"'
        return (await self.client.count_workflows(query)).count


def worker_memory(pid: int) -> Memory:
    fields = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            fields[key] = int(value.split()[0]) / 1024
    return Memory(rss_mb=fields.get("VmRSS", float("nan")), hwm_mb=fields.get("VmHWM", float("nan")))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def connect(port: int) -> Client:
    for _ in range(300):
        try:
            return await Client.connect(f"127.0.0.1:{port}", data_converter=pydantic_data_converter)
        except RuntimeError:
            await asyncio.sleep(0.2)
    raise SystemExit("dev server did not start")


def py_spy() -> str | None:
    return shutil.which("py-spy", path=os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")]))


@asynccontextmanager
async def side(
    kind: str, workdir: Path, *, policy: Path = STANDARD_POLICY, profile: Path | None = None
) -> AsyncIterator[Side]:
    """A fresh dev server and a worker of ``kind``; with ``profile``, py-spy samples the worker."""
    name = f"{kind}-{uuid.uuid4().hex[:6]}"
    port, task_queue = free_port(), f"bench-{name}"
    metrics_address = f"127.0.0.1:{free_port()}"
    server = subprocess.Popen(
        dev_server_command(workdir / f"{name}-temporal.db", port=port, headless=True, log_level="error"),
        stdout=subprocess.DEVNULL,
        stderr=(workdir / f"{name}-temporal.log").open("w"),
    )
    worker: subprocess.Popen[str] | None = None
    spy: subprocess.Popen[bytes] | None = None
    try:
        client = await connect(port)
        env = {**os.environ, "COMPLAINTS_REGULATOR_OUTBOX": str(workdir / f"{name}-regulator-outbox")}
        worker = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "bench.worker",
                "--kind",
                kind,
                "--address",
                f"127.0.0.1:{port}",
                "--task-queue",
                task_queue,
                "--database-url",
                f"sqlite:///{workdir / f'{name}.db'}",
                "--policy",
                str(policy),
                "--metrics",
                metrics_address,
            ],
            stdout=subprocess.PIPE,
            text=True,
            env=env,
            cwd=PROJECT_ROOT,
        )
        assert worker.stdout is not None and worker.stdout.readline().strip() == "ready", "bench worker did not start"
        if profile is not None:
            spy_bin = py_spy()
            if spy_bin is None:
                print("  (py-spy is not installed: no profile; `.venv/bin/pip install py-spy`)", flush=True)
            else:
                # --gil: only the thread holding the GIL, i.e. where the worker's Python time goes.
                spy = subprocess.Popen(
                    [
                        spy_bin,
                        "record",
                        "--pid",
                        str(worker.pid),
                        "--rate",
                        "50",
                        "--gil",
                        "--format",
                        "raw",
                        "--output",
                        str(profile),
                        "--nonblocking",
                    ],
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                )
        yield Side(kind, client, task_queue, worker, workdir, metrics_address)
    finally:
        if spy is not None:
            spy.send_signal(signal.SIGINT)  # py-spy writes its output on SIGINT
            spy.wait(timeout=60)
        if worker is not None:
            worker.terminate()
            try:
                worker.wait(timeout=30)
            except subprocess.TimeoutExpired:
                worker.kill()
                worker.wait()
        server.terminate()
        server.wait(timeout=30)

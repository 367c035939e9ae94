"""A worker process for the benchmark (bench.harness reads its memory from /proc).

Both kinds take the same tuning from the environment (complaints.config.WorkerTuning), so the
bare baseline runs with the same cache, slots, pollers and threads as the complaints worker.
"""

from __future__ import annotations

import argparse
import asyncio
import signal
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.runtime import PrometheusConfig, Runtime, TelemetryConfig
from temporalio.worker import Worker

from bench.bare import BareChildWorkflow, BareFanOutWorkflow, BareWorkflow, noop_step
from complaints.config import PROJECT_ROOT, Settings
from complaints.keys import set_up_demo_keys
from complaints.logging import configure_logging
from complaints.temporal import exit_process
from db.engine import make_engine, migrate
from db.seed import seed_staff_directory
from domain.policy import PolicyStore
from worker import build_worker, worker_options


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--kind", choices=["complaint", "bare"], required=True)
    parser.add_argument("--address", required=True)
    parser.add_argument("--task-queue", required=True)
    parser.add_argument("--database-url")
    parser.add_argument("--policy", type=Path, default=PROJECT_ROOT / "policies" / "standard.yaml")
    parser.add_argument("--metrics", metavar="HOST:PORT", help="serve the SDK's Prometheus metrics here")
    args = parser.parse_args()
    # stdout carries only 'ready' (the parent reads one line); logs go to stderr.
    configure_logging("WARNING")
    tuning = Settings().worker
    runtime = None
    if args.metrics:
        runtime = Runtime(telemetry=TelemetryConfig(metrics=PrometheusConfig(bind_address=args.metrics)))
    client = await Client.connect(args.address, data_converter=pydantic_data_converter, runtime=runtime)
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    with ThreadPoolExecutor(max_workers=tuning.activity_threads) as executor:
        if args.kind == "bare":
            worker = Worker(
                client,
                task_queue=args.task_queue,
                workflows=[BareWorkflow, BareFanOutWorkflow, BareChildWorkflow],
                activities=[noop_step],
                activity_executor=executor,
                **worker_options(tuning, executor, [BareWorkflow, BareFanOutWorkflow, BareChildWorkflow]),
            )
        else:
            migrate(args.database_url)
            engine = make_engine(args.database_url)
            seed_staff_directory(engine, PROJECT_ROOT / "db" / "staff_directory.yaml")
            set_up_demo_keys(engine)  # in the bench's own COMPLAINTS_CONFIG_DIR: the client signs with them
            policies = PolicyStore.from_file(args.policy)
            worker = build_worker(
                client, task_queue=args.task_queue, engine=engine, policies=policies, executor=executor, tuning=tuning
            )
        async with worker:
            print("ready", flush=True)
            await stop.wait()


if __name__ == "__main__":
    asyncio.run(main())
    exit_process(0)

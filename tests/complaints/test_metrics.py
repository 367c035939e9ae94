"""Metrics (issue 17) through a real Prometheus (Debian's ``prometheus`` package, installed by
``make test``) scraping a worker: after a complaint runs, PromQL returns both the SDK's series and
the business metrics; the Grafana dashboard uses only names the scrape has or ``domain.metrics``
defines; and a screenshot of Prometheus's graph of that real data is kept for the README.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import shutil
import socket
import subprocess
import tempfile
import urllib.parse
import urllib.request
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from sqlalchemy import Engine
from temporalio.client import Client

from complaints.config import PROJECT_ROOT
from complaints.telemetry import metrics_runtime, open_complaints_gauge
from domain import metrics
from domain.policy import PolicyStore
from models.complaint import Status
from tests.factories import intake_payload
from tests.helpers import eventually, own_worker, status_once

DASHBOARD = PROJECT_ROOT / "deploy" / "grafana" / "complaints.json"
SCREENSHOT = PROJECT_ROOT / "docs" / "images" / "prometheus_graph.png"
FILED_OVER_TIME = ["fees_and_interest", "repayment_collection", "fees_and_interest", "contract_dispute",
                   "service_attitude", "fees_and_interest"]  # fmt: skip
SDK_SERIES = "temporal_workflow_task_execution_latency_count"  # the SDK's own, for the same worker
# SDK series that appear only once their event happened (a failure, a completion), so a short run
# may not have them: the names of Temporal's SDK metrics reference.
SDK_ON_EVENT = {
    "temporal_activity_execution_failed",
    "temporal_local_activity_execution_failed",
    "temporal_sticky_cache_hit",
    "temporal_workflow_completed",
    "temporal_workflow_failed",
}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def prometheus_binary() -> str:
    found = shutil.which("prometheus")
    if found:
        return found
    if os.environ.get("CI") == "true":
        pytest.fail("prometheus is missing; `make test` installs Debian's prometheus package")
    pytest.skip("no prometheus binary: `make test` installs Debian's prometheus package (needs root and apt)")


@pytest.fixture(scope="module")
def prometheus_at() -> Iterator[tuple[str, int]]:
    """A real Prometheus scraping 127.0.0.1:<worker port> every second; (its URL, the worker port)."""
    binary = prometheus_binary()
    worker_port, web_port = free_port(), free_port()
    tmp = Path(tempfile.mkdtemp(prefix="prometheus-"))
    (tmp / "prometheus.yml").write_text(
        "global: {scrape_interval: 1s, evaluation_interval: 1s}\n"
        "scrape_configs:\n"
        f"  - job_name: complaints-worker\n    static_configs: [{{targets: ['127.0.0.1:{worker_port}']}}]\n"
    )
    proc = subprocess.Popen(
        [binary, f"--config.file={tmp / 'prometheus.yml'}", f"--storage.tsdb.path={tmp / 'data'}",
         f"--web.listen-address=127.0.0.1:{web_port}", "--web.enable-lifecycle"],
        stdout=subprocess.DEVNULL, stderr=(tmp / "prometheus.log").open("w"),
    )  # fmt: skip
    try:
        yield f"http://127.0.0.1:{web_port}", worker_port
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        shutil.rmtree(tmp, ignore_errors=True)


def promql(url: str, query: str) -> list[dict[str, Any]]:
    with urllib.request.urlopen(f"{url}/api/v1/query?{urllib.parse.urlencode({'query': query})}", timeout=5) as r:
        body = json.load(r)
    assert body["status"] == "success", body
    return list(body["data"]["result"])


@pytest_asyncio.fixture(loop_scope="session")
async def scraped(
    client: Client, engine: Engine, policies: PolicyStore, prometheus_at: tuple[str, int]
) -> AsyncIterator[tuple[str, str]]:
    """A worker serving metrics while one complaint runs; (Prometheus's URL, the complaint's category)."""
    url, port = prometheus_at
    runtime = metrics_runtime(f"127.0.0.1:{port}")
    config = client.config()
    measured = await Client.connect(
        client.service_client.config.target_host,
        namespace=client.namespace,
        data_converter=config["data_converter"],
        runtime=runtime,
    )
    gauge = asyncio.create_task(open_complaints_gauge(runtime.metric_meter, engine, every=1))
    try:
        async with own_worker(measured, engine, policies, prefix="metrics") as intake:
            for category in FILED_OVER_TIME:  # a few seconds apart, for a graph with steps
                filed = await intake.file(intake_payload(category))
                assert filed.complaint_id is not None, filed.errors
                await asyncio.sleep(2)
            result = await intake.file(intake_payload("fees_and_interest"))
            assert result.complaint_id is not None, result.errors
            await status_once(intake.handle(result.complaint_id), {Status.IN_HANDLING})
            yield url, "fees_and_interest"
    finally:
        gauge.cancel()


async def series(url: str, query: str) -> list[dict[str, Any]]:
    async def probe() -> list[dict[str, Any]] | None:
        found = await asyncio.to_thread(promql, url, query)
        return found or None

    return await eventually(probe, timeout=60, what=f"Prometheus to return {query}")


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)  # Prometheus sees the same on either
async def test_prometheus_scrapes_the_sdk_and_the_business_metrics(scraped: tuple[str, str]) -> None:
    url, category = scraped
    sdk = await series(url, f'{SDK_SERIES}{{workflow_type="ComplaintWorkflow"}}')
    assert float(sdk[0]["value"][1]) >= 1
    filed = await series(url, f'{metrics.FILED.name}{{category="{category}"}}')
    assert {s["metric"]["tier"] for s in filed} <= {"simple", "complex", "major"} and sum(
        float(s["value"][1]) for s in filed
    ) >= 1
    acknowledged = await series(url, f"{metrics.INTAKE_TO_ACK.name}_count")
    assert sum(float(s["value"][1]) for s in acknowledged) >= 1
    open_now = await series(url, f'{metrics.OPEN.name}{{status="{Status.IN_HANDLING.value}"}}')
    assert float(open_now[0]["value"][1]) >= 1

    # Everything the dashboard asks for is a series this worker exports, or one of ours.
    names = {s["__name__"] for s in await asyncio.to_thread(_all_series, url)}
    ours = {n for m in metrics.BUSINESS_METRICS for n in metrics.exported_names(m)}
    used = dashboard_metric_names()
    assert used, "the dashboard queries no metric"
    unknown = sorted(n for n in used if n not in names and n not in ours and n not in SDK_ON_EVENT)
    assert unknown == [], f"the dashboard uses series no worker exports: {unknown}"
    assert {m.name for m in metrics.BUSINESS_METRICS} <= {_base(n) for n in used}, "every business metric on it"
    assert any(n.startswith("temporal_") for n in used), "and the SDK's own"

    await _screenshot(url)


def _all_series(url: str) -> list[dict[str, str]]:
    query = urllib.parse.urlencode({"match[]": '{job="complaints-worker"}'})
    with urllib.request.urlopen(f"{url}/api/v1/series?{query}", timeout=5) as r:
        return list(json.load(r)["data"])


def dashboard_metric_names() -> set[str]:
    """The metric names the Grafana dashboard's PromQL expressions use."""
    board = json.loads(DASHBOARD.read_text(encoding="utf-8"))
    exprs = [t["expr"] for p in board["panels"] for t in p.get("targets", [])]
    words = {w for e in exprs for w in re.findall(r"[a-zA-Z_:][a-zA-Z0-9_:]*", re.sub(r'"[^"]*"', "", e))}
    return {w for w in words if w.startswith(("complaints_", "temporal_"))}


def _base(name: str) -> str:
    return re.sub(r"_(bucket|count|sum)$", "", name)


async def _screenshot(url: str) -> None:
    from playwright.async_api import async_playwright

    from tests.test_web_ui import CHROMIUM_ARGS, chromium

    expr = f"sum by (tier, category) ({metrics.FILED.name})"
    graph = f"{url}/graph?" + urllib.parse.urlencode({"g0.expr": expr, "g0.tab": "0", "g0.range_input": "1m"})
    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path=chromium(), args=CHROMIUM_ARGS)
        page = await browser.new_page(viewport={"width": 1280, "height": 900})
        await page.goto(graph)
        await page.wait_for_selector(".rickshaw_graph svg path.path", state="attached", timeout=30_000)
        await asyncio.sleep(1)
        SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
        await page.screenshot(path=str(SCREENSHOT))
        await browser.close()

"""A quick smoke of the benchmark code (bench/): argument handling, reports, and one tiny burst."""

from __future__ import annotations

import argparse
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from bench.harness import Memory, side
from bench.run import (
    Burst,
    Closure,
    History,
    burst_report,
    closure_report,
    file_at_once,
    history_report,
    lines_arg,
)
from complaints.config import WorkerTuning
from worker import worker_options


def test_lines_are_chosen_by_name() -> None:
    assert lines_arg("burst, history") == ["burst", "history"]
    with pytest.raises(argparse.ArgumentTypeError, match="unknown line"):
        lines_arg("closure,speed")


def test_tuning_comes_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COMPLAINTS_WORKER_MAX_CACHED_WORKFLOWS", "123")
    monkeypatch.setenv("COMPLAINTS_WORKER_MAX_CONCURRENT_ACTIVITIES", "64")
    tuning = WorkerTuning()
    with ThreadPoolExecutor(max_workers=4) as executor:
        options = worker_options(tuning, executor)
    assert options["max_cached_workflows"] == 123
    assert options["max_concurrent_activities"] == 4  # never more than the pool has threads


def test_reports_show_both_sides_and_the_ratio() -> None:
    memory = Memory(rss_mb=100, hwm_mb=120)
    closure = closure_report(Closure(10, 1.0, 2.0, memory), Closure(10, 2.0, 4.0, memory))
    assert "intake to closure per second" in closure and "0.50x" in closure
    burst = burst_report(Burst(10, 1.0, 5.0, memory), Burst(10, 1.0, 10.0, memory))
    assert "all in handling (s)" in burst and "2.00x" in burst
    history = history_report([History("simple", 100, 50.0, 60)])
    assert "<= 60" in history


async def test_a_tiny_burst_reaches_handling(tmp_path: Path) -> None:
    async with side("complaint", tmp_path) as complaints:
        result = await file_at_once(complaints, 3)
        assert result.count == 3 and result.ready_seconds > 0
        assert await complaints.count_in_handling() == 3
        assert complaints.memory().hwm_mb > 0
        assert complaints.metrics()["temporal_workflow_task_queue_poll_succeed"] > 0

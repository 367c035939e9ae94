"""Recorded histories must replay on today's workflow code, or running complaints would break.

The histories in tests/histories come from the scenario tests (`pytest --record-histories`);
keep the old ones when recording new ones.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from temporalio.client import WorkflowHistory
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.worker import Replayer

from worker import WORKFLOWS

HISTORIES = sorted((Path(__file__).parent / "histories").glob("*.json"))


def test_histories_are_kept() -> None:
    assert HISTORIES, "no recorded histories: run `pytest --record-histories` and commit tests/histories"


@pytest.mark.parametrize("path", HISTORIES, ids=[p.stem for p in HISTORIES])
async def test_recorded_history_replays(path: Path) -> None:
    raw = json.loads(path.read_text(encoding="utf-8"))
    workflow_id = raw["events"][0]["workflowExecutionStartedEventAttributes"].get("workflowId") or path.stem
    history = WorkflowHistory.from_json(workflow_id, raw)
    replayer = Replayer(
        workflows=WORKFLOWS,  # every workflow the worker runs
        data_converter=pydantic_data_converter,
    )
    result = await replayer.replay_workflow(history, raise_on_replay_failure=True)
    assert result.replay_failure is None

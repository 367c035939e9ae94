"""The README's runnable intake example works against a real server."""

from __future__ import annotations

import asyncio
import os
import re
import sys
import uuid
from pathlib import Path

from complaints.config import PROJECT_ROOT
from tests.conftest import Service


async def test_file_complaint_example_runs(service: Service) -> None:
    env = {
        **os.environ,
        "COMPLAINTS_TEMPORAL_ADDRESS": service.client.service_client.config.target_host,
        "COMPLAINTS_TASK_QUEUE": service.task_queue,
    }
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        str(PROJECT_ROOT / "examples" / "file_complaint.py"),
        f"WEB-TEST-{uuid.uuid4().hex[:8]}",
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=env,
    )
    out, err = await proc.communicate()
    assert proc.returncode == 0, err.decode()
    first, second = out.decode().splitlines()
    assert first.split()[0] == "filed" and first.split()[1].startswith("CMP-")
    assert second.startswith("status: ")


# -- the README's examples can be copied and run -------------------------------------------------

README = (PROJECT_ROOT / "README.md").read_text(encoding="utf-8")


def readme_block(language: str, after: str) -> str:
    """The first ```language block after the text ``after``."""
    start = README.index(f"```{language}\n", README.index(after)) + len(language) + 4
    return README[start : README.index("```", start)]


def readme_batch() -> tuple[str, list[str]]:
    """The README's batch.jsonl and the output it shows for `starter.py batch.jsonl`."""
    command = "$ .venv/bin/python starter.py batch.jsonl\n"
    batch = readme_block("jsonl", "With this `batch.jsonl`")
    start = README.index(command) + len(command)
    return batch, README[start : README.index("```", start)].splitlines()


def test_the_readme_batch_gives_the_output_the_readme_shows() -> None:
    import starter
    from complaints.intake import IntakeRejected, validate_intake
    from models.intake import workflow_id_for

    batch, shown = readme_batch()
    lines = []
    for where, payload in starter.parse_payloads(batch):
        if isinstance(payload, ValueError):
            lines.append(f"rejected       {where}: {payload}")
            continue
        try:
            intake = validate_intake(payload)
        except IntakeRejected as err:
            lines.append(f"rejected       {where} {payload['source_reference']}: " + "; ".join(err.errors))
            continue
        lines.append(f"filed          {intake.complaint_id} {workflow_id_for(intake.complaint_id)} (CC-2)")
    assert lines == shown


async def test_the_readme_batch_runs_through_starter(service: Service, tmp_path: Path) -> None:
    batch, shown = readme_batch()
    path = tmp_path / "batch.jsonl"
    path.write_text(batch, encoding="utf-8")
    env = {
        **os.environ,
        "COMPLAINTS_TEMPORAL_ADDRESS": service.client.service_client.config.target_host,
        "COMPLAINTS_TASK_QUEUE": service.task_queue,
    }
    proc = await asyncio.create_subprocess_exec(
        sys.executable, str(PROJECT_ROOT / "starter.py"), str(path), stdout=asyncio.subprocess.PIPE, env=env
    )
    out, _ = await proc.communicate()

    assert proc.returncode == 1, "a line was rejected"
    # Both backends file on one server: the second run finds CC-2 already filed.
    assert [line.replace("already_filed  ", "filed          ", 1) for line in out.decode().splitlines()] == shown


def test_the_readmes_evidence_hashes_are_sha256() -> None:
    digests = re.findall(r"sha256=([^'\s`|]+)", README)
    assert digests, "the README shows evidence references"
    assert all(re.fullmatch(r"[0-9a-f]{64}", d) for d in digests if d != "…"), digests


def test_the_readmes_commands_run_from_the_venv() -> None:
    commands = [line[2:] for line in README.splitlines() if line.startswith("$ ")]
    assert commands
    for command in commands:
        tool = command.split()[0]
        assert tool.startswith(".venv/bin/") or tool == "make", command
    assert "`source .venv/bin/activate`" in README, "the README says how to type a bare `complaints`"


def test_every_status_the_readme_and_the_demo_query_exists() -> None:
    from demo.run import web_ui_queries
    from models.complaint import Status
    from models.investigation import InvestigationStage

    # `resolved` only ever held complaints from before follow-up existed: a link to it shows nothing.
    current = set(Status) - {Status.RESOLVED}
    known = {s.value for s in current} | {s.value for s in InvestigationStage}
    queries = [*web_ui_queries(0).values(), README]
    named = {
        value
        for text in queries
        for clause in re.findall(r"ComplaintStatus(?:=\"[^\"]*\"| IN \([^)]*\))", text)
        for value in re.findall(r"\"([^\"]*)\"", clause)
    }
    assert "closed" in named and named <= known, named - known
    listed = re.search(r"`ComplaintStatus=\"awaiting_approval\"` \(([^)]*)\)", README)
    assert listed is not None
    assert set(re.findall(r"`([a-z_]+)`", listed.group(1))) <= known

"""`python starter.py FILE` as an intake operator runs it, against the real dev server."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from pathlib import Path

from complaints.config import PROJECT_ROOT
from tests.conftest import Service
from tests.factories import intake_payload
from tests.helpers import complaint_row, eventually


async def run_starter(service: Service, *args: str, stdin: str | None = None, address: str | None = None):
    env = {
        **os.environ,
        "COMPLAINTS_TEMPORAL_ADDRESS": address or service.client.service_client.config.target_host,
        "COMPLAINTS_TASK_QUEUE": service.task_queue,
    }
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        str(PROJECT_ROOT / "starter.py"),
        *args,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=env,
    )
    out, err = await proc.communicate(stdin.encode() if stdin else None)
    return proc.returncode, out.decode(), err.decode()


async def test_json_lines_file_reports_one_line_per_complaint(service: Service, tmp_path: Path) -> None:
    good = intake_payload("fees_and_interest")
    bad = intake_payload("contract_dispute")
    del bad["details"]["contract_number"]
    path = tmp_path / "batch.jsonl"
    path.write_text("\n".join([json.dumps(good), json.dumps(bad), "{not json", json.dumps(good)]) + "\n")

    code, out, _ = await run_starter(service, str(path))

    lines = out.splitlines()
    assert code == 1, "some complaints were rejected"
    assert lines[0].startswith("filed") and good["source_reference"] in lines[0]
    assert lines[1].startswith("rejected       line 2") and "details.contract_dispute.contract_number" in lines[1]
    assert lines[2].startswith("rejected       line 3: malformed JSON")
    assert lines[3].startswith("already_filed") and lines[3].split()[1] == lines[0].split()[1]
    complaint_id = lines[0].split()[1]
    assert await eventually(lambda: _row(service, complaint_id), what="the filed complaint in the database")


async def _row(service: Service, complaint_id: str):
    return complaint_row(service.engine, complaint_id)


async def test_json_document_from_stdin_with_json_output(service: Service) -> None:
    payloads = [intake_payload("other"), intake_payload("privacy")]

    code, out, _ = await run_starter(service, "-", "--json", stdin=json.dumps(payloads))

    results = [json.loads(line) for line in out.splitlines()]
    assert code == 0
    assert [r["outcome"] for r in results] == ["filed", "filed"]
    assert [r["where"] for r in results] == ["item 1", "item 2"]
    assert all(r["complaint_id"].startswith("CMP-") for r in results)


async def test_malformed_document_is_one_clear_rejection(service: Service) -> None:
    code, out, _ = await run_starter(service, "-", stdin='{\n  "source_system": "app",\n  oops\n}')
    assert code == 1
    assert (
        out.strip()
        == "rejected       input: malformed JSON at line 3 column 3: Expecting property name enclosed in double quotes"
    )


async def test_no_server_is_a_sentence_with_the_address(service: Service) -> None:
    code, out, err = await run_starter(service, "-", stdin=json.dumps(intake_payload()), address="127.0.0.1:1")
    assert code == 2 and out == ""
    assert "no Temporal server reachable at 127.0.0.1:1" in err

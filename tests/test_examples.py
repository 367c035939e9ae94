"""The README's runnable intake example works against a real server."""

from __future__ import annotations

import asyncio
import os
import sys
import uuid

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

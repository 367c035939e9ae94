"""`complaints report` in a subprocess, against the real dev server, worker and database."""

from __future__ import annotations

import asyncio
import json
import os
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from complaints.config import PROJECT_ROOT
from tests.conftest import COMPRESSED_POLICY, Service
from tests.test_cli import CLI


async def report(service: Service, *args: str) -> tuple[int, str, str]:
    env = {
        **os.environ,
        "COMPLAINTS_TEMPORAL_ADDRESS": service.client.service_client.config.target_host,
        "COMPLAINTS_DATABASE_URL": service.engine.url.render_as_string(hide_password=False),
        "COMPLAINTS_POLICY": str(COMPRESSED_POLICY),
        "COMPLAINTS_TASK_QUEUE": service.task_queue,
        "BROWSER": "true",  # `report open` hands the file to this command instead of a real browser
    }
    proc = await asyncio.create_subprocess_exec(
        CLI, "report", *args, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, env=env, cwd=PROJECT_ROOT
    )
    out, err = await proc.communicate()
    return proc.returncode or 0, out.decode(), err.decode()


async def test_run_list_show_and_open_a_report(service: Service) -> None:
    day = datetime.now(UTC).astimezone(ZoneInfo("Asia/Shanghai")).date().isoformat()
    label = f"{day}..{day}"

    code, out, err = await report(service, "run", "--from", day, "--to", day, "--kind", "analysis", "--kind", "cfpb")
    assert code == 0, err
    assert f"{label} ({day} to {day})" in out
    assert "analysis v" in out and "cfpb v" in out

    code, out, err = await report(service, "list", "--period", label, "--json")
    assert code == 0, err
    rows = json.loads(out)
    assert {"analysis", "cfpb"} <= {r["kind"] for r in rows}  # other tests report on today too
    html_dir = next(Path(r["directory"]) for r in rows if r["kind"] == "analysis")  # the latest version first

    code, out, _ = await report(service, "show", label)
    assert code == 0 and f"Complaint analysis {label}" in out
    assert "Risk points: none crossed a threshold." in out or "RISK " in out
    assert "received" in out and f"Report: {html_dir / 'report.html'}" in out
    code, out, _ = await report(service, "show", label, "--kind", "cfpb")
    assert code == 0 and "cfpb.csv" in out
    code, out, _ = await report(service, "open", label)
    assert code == 0 and str(html_dir / "report.html") in out


async def test_bad_arguments_and_unknown_reports(service: Service) -> None:
    code, _, err = await report(service, "run", "--from", "2026-13-01", "--to", "2026-12-31")
    assert code == 2 and "--from '2026-13-01': write a date as YYYY-MM-DD" in err
    code, _, err = await report(service, "run", "--from", "2026-10-31", "--to", "2026-10-01")
    assert code == 2 and "to: 2026-10-01 lies before from: 2026-10-31" in err
    code, _, err = await report(service, "run", "--from", "2026-10-01", "--to", "2026-10-31", "--kind", "weather")
    assert (
        code == 2
        and "kinds: 'weather' is not a report kind (analysis, asic_idr, fca_disp, cfpb, nfra_quarterly)" in err
    )
    code, _, err = await report(service, "show", "1999-01")
    assert code == 3 and "no analysis report for 1999-01" in err

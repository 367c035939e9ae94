"""`complaints report` in a subprocess, against the real dev server, worker and database."""

from __future__ import annotations

import asyncio
import json
import os
import tempfile
import uuid
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlmodel import Session

from complaints.config import PROJECT_ROOT
from db.tables import Complaint, utc_now
from domain.policy import PolicyStore
from tests.conftest import COMPRESSED_POLICY, Service
from tests.helpers import own_worker
from tests.test_cli import CLI
from tests.workflows.test_reporting import space_loan_policy


async def report(service: Service, *args: str, task_queue: str | None = None) -> tuple[int, str, str]:
    env = {
        **os.environ,
        "COMPLAINTS_TEMPORAL_ADDRESS": service.client.service_client.config.target_host,
        "COMPLAINTS_DATABASE_URL": service.engine.url.render_as_string(hide_password=False),
        "COMPLAINTS_POLICY": str(COMPRESSED_POLICY),
        "COMPLAINTS_TASK_QUEUE": task_queue or service.task_queue,
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


async def test_a_return_failing_its_schema_is_refused_by_row_and_field_and_nothing_is_written(
    service: Service, policies: PolicyStore
) -> None:
    # One complaint on trade finance, on a day of 2017 that no other test uses, and a worker whose
    # policy maps trade finance to a product ASIC's schema does not know.
    complaint_id = f"CLI-{uuid.uuid4().hex[:8]}"
    with Session(service.engine) as session:
        session.add(
            Complaint(
                complaint_id=complaint_id,
                workflow_id=f"complaint-{complaint_id}",
                source_system="cli-test",
                source_reference=complaint_id,
                channel="phone",
                category="contract_dispute",
                status="in_handling",
                customer_id="C-CLI",
                customer_name="CLI Test Ltd",
                received_at=datetime(2017, 5, 10, 2, tzinfo=UTC),
                product="trade_finance",
                updated_at=utc_now(),
            )
        )
        session.commit()
    broken = space_loan_policy(policies.current)
    reports_dir = Path(tempfile.mkdtemp(prefix="reports-"))
    try:
        async with own_worker(
            service.client, service.engine, PolicyStore(broken), prefix="cli-refused", reports_dir=reports_dir
        ) as intake:
            run = ("run", "--from", "2017-05-10", "--to", "2017-05-10")
            code, out, err = await report(service, *run, "--kind", "asic_idr", task_queue=intake.task_queue)
        assert code == 1, err
        assert out.splitlines()[1] == (
            f"  asic_idr: REFUSED, nothing written: asic_idr row 1 ({complaint_id}): field 'products': "
            "'Space loan' is not one of ['Business loan', 'Business overdraft', 'Equipment finance', "
            "'Trade finance', 'Commercial property loan', 'Business credit card', 'Other']"
        )
        assert "a return failed its schema (above)" in err
        assert not list(reports_dir.rglob("*.csv"))  # no file, not even a partial one
        code, _, err = await report(service, "show", "2017-05-10..2017-05-10", "--kind", "asic_idr")
        assert code == 3 and "no asic_idr report for 2017-05-10..2017-05-10" in err  # nor a record of one
    finally:
        with service.engine.begin() as conn:
            table = Complaint.__table__  # type: ignore[attr-defined]
            conn.execute(sa.delete(table).where(table.c.complaint_id == complaint_id))

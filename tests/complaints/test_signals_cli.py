"""`complaints signals` and `complaints risk` in a subprocess, against the real dev server,
worker and database (step 5). The sub-apps are run directly, so these tests do not depend on
where the integrator registers them; the customers are the test's own."""

from __future__ import annotations

import asyncio
import json
import os
import sys
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

from complaints.config import PROJECT_ROOT
from models.complaint import Status
from tests.conftest import COMPRESSED_POLICY, Service
from tests.factories import intake_payload
from tests.helpers import eventually, status_once
from tests.test_cli import CLI

APPS = {
    "signals": "from complaints.cli.signals import signals_app; signals_app(prog_name='complaints signals')",
    "risk": "from complaints.cli.risk import risk_app; risk_app(prog_name='complaints risk')",
}


def _env(service: Service) -> dict[str, str]:
    return {
        **os.environ,
        "COMPLAINTS_TEMPORAL_ADDRESS": service.client.service_client.config.target_host,
        "COMPLAINTS_DATABASE_URL": service.engine.url.render_as_string(hide_password=False),
        "COMPLAINTS_POLICY": str(COMPRESSED_POLICY),
        "COMPLAINTS_TASK_QUEUE": service.task_queue,
    }


async def cli(service: Service, app: str, *args: str) -> tuple[int, str, str]:
    command = [sys.executable, "-c", APPS[app]] if app in APPS else [CLI, app]
    proc = await asyncio.create_subprocess_exec(
        *command,
        *args,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=_env(service),
        cwd=PROJECT_ROOT,
    )
    out, err = await proc.communicate()
    return proc.returncode or 0, out.decode(), err.decode()


def feed(tmp_path: Path, customer: str) -> Path:
    observed = (datetime.now(UTC) - timedelta(days=2)).isoformat()
    rows = [
        {"kind": "days_past_due", "days": 31, "contract_number": "PF-2024-0871", "source_record_id": "DPD-1"},
        {"kind": "covenant_breach", "covenant": "DSCR at least 1.2", "source_record_id": "CVN-1"},
    ]
    path = tmp_path / "feed.jsonl"
    path.write_text(
        "".join(
            json.dumps(
                {
                    "source_system": "CORE-LOANS",
                    "customer_id": customer,
                    "observed_at": observed,
                    **row,
                    "source_record_id": f"{customer}-{row['source_record_id']}",
                }
            )
            + "\n"
            for row in rows
        ),
        encoding="utf-8",
    )
    return path


async def test_a_feed_is_loaded_and_the_warning_listed_shown_acted_on_and_closed(
    service: Service, tmp_path: Path
) -> None:
    customer = f"C-CLI-{uuid.uuid4().hex[:8]}"
    path = feed(tmp_path, customer)
    code, out, err = await cli(service, "signals", "load", str(path))
    assert code == 0, err
    assert "feed.jsonl: 2 rows, 2 stored, 0 already stored unchanged" in out
    assert f"{customer}: 55 points (threshold 50): early warning opened or joined" in out
    code, out, _ = await cli(service, "signals", "load", str(path))
    assert code == 0 and "2 rows, 0 stored, 2 already stored unchanged" in out
    code, out, _ = await cli(service, "signals", "list", "--customer", customer)
    assert code == 0 and "days_past_due" in out and "covenant_breach" in out and "days 31" in out

    async def listed() -> str | None:
        code, out, _ = await cli(service, "risk", "list", "--open")
        return out if code == 0 and customer in out else None

    out = await eventually(listed, what=f"{customer} in risk list --open")
    assert "55/50" in out
    code, out, _ = await cli(service, "risk", "show", customer)
    assert code == 0
    assert f"customer {customer}: score now 55 (threshold 50)" in out
    assert "+ 30  days_past_due: 31 days past due" in out and "+ 25  covenant_breach: 1 covenant breach(es)" in out
    assert f"early warning (early-warning-{customer}): open" in out and "history:" in out

    code, _, err = await cli(service, "risk", "act", customer, "--as", "S-HND-001", "--note", "seen")
    assert code == 1 and "S-HND-001 may not act on this early warning" in err
    code, out, err = await cli(service, "risk", "act", customer, "--as", "S-RM-007", "--note", "met the CFO")
    assert code == 0, err
    assert f"{customer}: action recorded by S-RM-007 (status acting)" in out
    code, _, err = await cli(
        service, "risk", "close", customer, "--as", "S-CMP-001", "--outcome", "gone", "--note", "x"
    )
    assert code == 2 and "gone" in err
    close = ["close", customer, "--as", "S-CMP-001", "--outcome", "monitored", "--note", "monthly calls"]
    code, out, err = await cli(service, "risk", *close)
    assert code == 0, err
    assert f"{customer}: closed by S-CMP-001: monitored (status closed)" in out
    code, _, err = await cli(service, "risk", *close)
    assert code == 3 and f"no open early warning for customer {customer}" in err

    async def closed() -> str | None:
        _, out, _ = await cli(service, "risk", "show", customer)
        return out if "closed" in out and "monitored" in out else None

    out = await eventually(closed, what=f"{customer}'s warning closed")
    assert "acted" in out and "by S-RM-007" in out

    payload = intake_payload("fees_and_interest")
    payload["customer"]["customer_id"] = customer
    filed = await service.intake.file(payload)
    assert filed.complaint_id is not None
    await status_once(service.intake.handle(filed.complaint_id), {Status.IN_HANDLING, Status.AWAITING_ASSIGNMENT})
    code, out, err = await cli(service, "show", filed.complaint_id)
    assert code == 0, err
    assert "Risk warning closed, 55 points (threshold 50)" in out and f"complaints risk show {customer}" in out


async def test_a_bad_feed_is_refused_row_by_row_and_nothing_is_stored(service: Service) -> None:
    code, out, err = await cli(service, "signals", "load", str(PROJECT_ROOT / "examples" / "loan_book_feed_bad.csv"))
    assert code == 2, out
    assert "refused: row 1: days: Input should be greater than or equal to 0" in err
    assert "refused: row 3: to_rating: Field required" in err
    assert "refused: row 5: kind: 'days_late' is not one of days_past_due" in err
    assert "6 problem(s); nothing was stored" in err
    code, out, _ = await cli(service, "signals", "list", "--customer", "C-410022", "--json")
    assert code == 0 and not any(r["source_record_id"] == "DPD-2026-11-0103" for r in json.loads(out))
    code, _, err = await cli(service, "signals", "load", str(PROJECT_ROOT / "README.md"))
    assert code == 2 and "a feed is .jsonl or .csv" in err
    code, _, err = await cli(service, "risk", "act", "C-NOBODY", "--as", "S-NOBODY", "--note", "x")
    assert code == 3 and "no staff member S-NOBODY" in err

"""What ``complaints incident list`` prints, without a server (the table and ``--json`` read the
``incidents`` table only); ``show``, ``lead``, ``report`` and ``close`` run through the real server
in tests/workflows/test_incident.py."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

from sqlmodel import Session

from complaints.config import PROJECT_ROOT
from db.engine import make_engine, migrate
from db.tables import IncidentRow

CLI_MAIN = "from complaints.cli.incident import incident_app; incident_app(prog_name='complaints incident')"
OPENED = datetime(2026, 11, 30, 2, 49, tzinfo=UTC)


def cli(url: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "COMPLAINTS_DATABASE_URL": url, "COLUMNS": "200"}
    return subprocess.run(
        [sys.executable, "-c", CLI_MAIN, *args], capture_output=True, text=True, env=env, cwd=PROJECT_ROOT, timeout=60
    )


def test_incident_list_prints_each_incident_with_its_key_lead_and_counts(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'complaints.db'}"
    migrate(url)
    assert cli(url, "list").stdout.strip() == "no incidents yet"
    engine = make_engine(url)
    with Session(engine) as session:
        for n, (value, status, cause) in enumerate(
            [("trade_finance", "closed", "process_delay"), ("CN-SH", "open", None)]
        ):
            dimension = "product" if n == 0 else "region"
            session.add(
                IncidentRow(
                    incident_id=f"incident-{dimension}-{value}-1",
                    workflow_id=f"incident-{dimension}-{value}",
                    dimension=dimension,
                    value=value,
                    status=status,
                    opened_at=OPENED,
                    window_start=OPENED,
                    lead="S-MGR-001" if n == 0 else "S-SM-001",
                    linked_count=5,
                    reports=n + 1,
                    root_cause=cause,
                    updated_at=OPENED,
                )
            )
        session.commit()
    engine.dispose()

    listed = cli(url, "list")
    assert listed.returncode == 0, listed.stderr
    rows = [line for line in listed.stdout.splitlines() if "incident-" in line]
    assert len(rows) == 2
    assert all(word in rows[0] for word in ("incident-product-trade_finance-1", "product=trade_finance", "closed"))
    assert "S-MGR-001" in rows[0] and "process_delay" in rows[0] and "2026-11-30 02:49 UTC" in rows[0]
    assert "region=CN-SH" in rows[1] and "open" in rows[1]
    open_only = cli(url, "list", "--open")
    assert "incident-region-CN-SH-1" in open_only.stdout and "trade_finance" not in open_only.stdout
    as_json = json.loads(cli(url, "list", "--json").stdout)
    assert {i["incident_id"]: i["status"] for i in as_json} == {
        "incident-product-trade_finance-1": "closed",
        "incident-region-CN-SH-1": "open",
    }
    missing = cli(url, "close", "incident-product-nothing", "--as", "S-SM-001")
    assert missing.returncode == 3 and "no staff member S-SM-001" in missing.stderr  # an unseeded directory

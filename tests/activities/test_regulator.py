"""Regulator gateways on their own: signed outbox files, HTTP answers."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest

from activities.regulator import (
    HttpRegulatorGateway,
    OutboxDirectoryGateway,
    RegulatorRejected,
    report_json,
    signature_of,
)
from models.regulator import RegulatorReport
from tests.regulator_server import RegulatorServer

NOW = datetime(2026, 11, 28, 12, tzinfo=UTC)


def report(regulator: str = "NFRA") -> RegulatorReport:
    return RegulatorReport(
        idempotency_key=f"CMP-1:{regulator}:initial:1",
        sequence=1,
        regulator=regulator,
        complaint_id="CMP-1",
        reason="lodged_with_regulator",
        received_at=NOW,
        reported_at=NOW,
        customer_id="C-1",
        customer_name="Zhang Wei",
        category="contract_dispute",
        tier="major",
        summary="Clause 7.3",
        handling_status="in_handling",
    )


def test_outbox_gateway_writes_a_signed_file_once(tmp_path: Path) -> None:
    gateway = OutboxDirectoryGateway(tmp_path, b"key")
    first, again = gateway.submit(report()), gateway.submit(report())
    [path] = tmp_path.glob("*.json")
    assert not first.already_filed and again.already_filed and first.acknowledgement_id == again.acknowledgement_id
    assert signature_of(path, b"key") and not signature_of(path, b"another key")
    assert report_json(path)["regulator"] == "NFRA"


def test_http_gateway_answers() -> None:
    with RegulatorServer() as server:
        gateway = HttpRegulatorGateway(server.url)
        receipt = gateway.submit(report())
        assert receipt.acknowledgement_id.startswith("ACK-") and not receipt.already_filed
        assert gateway.submit(report()).already_filed, "the regulator dedupes by key"
        server.reject = True
        with pytest.raises(RegulatorRejected, match="422"):
            gateway.submit(report("PBOC"))
        server.reject = False
        server.down.set()
        with pytest.raises(httpx.HTTPStatusError):
            gateway.submit(report("CSRC"))

"""Regulator reports through a gateway, each with a business idempotency key
(complaint, regulator, report type, sequence), so a retry, a worker crash or a
continue-as-new can never file twice.

- ``OutboxDirectoryGateway`` (default): writes the report and an HMAC-SHA256 signature to a
  local directory, named by the key; a second submission of a key returns the first receipt.
- ``HttpRegulatorGateway``: POSTs JSON to a configured endpoint with an ``Idempotency-Key``
  header; 4xx means the regulator rejects the report as invalid (not retried), 5xx or no
  answer is retried with backoff.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from pathlib import Path
from typing import Protocol

import httpx
from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities import metrics
from activities.logging import activity_logger
from models.regulator import FileReportRequest, RegulatorReceipt, RegulatorReport


class RegulatorRejected(Exception):
    """The regulator answered that the report is invalid; resending it unchanged will not help."""


class RegulatorGateway(Protocol):
    def submit(self, report: RegulatorReport) -> RegulatorReceipt: ...


class OutboxDirectoryGateway:
    def __init__(self, directory: Path, signing_key: bytes) -> None:
        self._directory = directory
        self._key = signing_key

    def submit(self, report: RegulatorReport) -> RegulatorReceipt:
        self._directory.mkdir(parents=True, exist_ok=True)
        name = hashlib.sha256(report.idempotency_key.encode()).hexdigest()[:24]
        path = self._directory / f"{report.regulator}-{report.complaint_id}-{name}.json"
        ack = f"OUTBOX-{name}"
        if path.exists():
            return RegulatorReceipt(
                idempotency_key=report.idempotency_key,
                regulator=report.regulator,
                acknowledgement_id=ack,
                already_filed=True,
            )
        body = report.model_dump_json(indent=2).encode()
        signature = hmac.new(self._key, body, hashlib.sha256).hexdigest()
        tmp = path.with_suffix(".tmp")
        tmp.write_bytes(body)
        path.with_suffix(".sig").write_text(signature)
        tmp.replace(path)  # the report appears whole or not at all
        return RegulatorReceipt(
            idempotency_key=report.idempotency_key,
            regulator=report.regulator,
            acknowledgement_id=ack,
            already_filed=False,
        )


class HttpRegulatorGateway:
    def __init__(self, endpoint: str, timeout_seconds: float = 10) -> None:
        self._endpoint = endpoint
        self._client = httpx.Client(timeout=timeout_seconds)

    def submit(self, report: RegulatorReport) -> RegulatorReceipt:
        response = self._client.post(
            self._endpoint,
            content=report.model_dump_json(),
            headers={"Content-Type": "application/json", "Idempotency-Key": report.idempotency_key},
        )
        if 400 <= response.status_code < 500:
            raise RegulatorRejected(
                f"{report.regulator} rejected the report ({response.status_code}): {response.text[:300]}"
            )
        response.raise_for_status()
        answer = response.json()
        return RegulatorReceipt(
            idempotency_key=report.idempotency_key,
            regulator=report.regulator,
            acknowledgement_id=str(answer["acknowledgement_id"]),
            already_filed=bool(answer.get("duplicate", False)),
        )


class RegulatorActivities:
    def __init__(self, gateway: RegulatorGateway) -> None:
        self._gateway = gateway

    @activity.defn
    def file_regulator_report(self, request: FileReportRequest) -> RegulatorReceipt:
        log = activity_logger(request.complaint_id).bind(
            regulator=request.report.regulator, key=request.report.idempotency_key
        )
        metrics.report_attempt(request.report.regulator)
        try:
            receipt = self._gateway.submit(request.report)
        except RegulatorRejected as err:
            metrics.report_rejected(request.report.regulator)
            log.warning("regulator rejected the report", error=str(err))
            raise ApplicationError(str(err), type="RegulatorRejected", non_retryable=True) from err
        except (httpx.HTTPError, OSError) as err:
            log.warning("regulator submission failed; will retry", error=str(err))
            raise
        log.info("regulator report filed", ack=receipt.acknowledgement_id, already_filed=receipt.already_filed)
        return receipt


def signature_of(path: Path, key: bytes) -> bool:
    """Whether the report file at ``path`` matches its .sig (for audits and tests)."""
    return hmac.compare_digest(
        hmac.new(key, path.read_bytes(), hashlib.sha256).hexdigest(), path.with_suffix(".sig").read_text()
    )


def report_json(path: Path) -> dict[str, object]:
    return json.loads(path.read_text())

"""Regulator reports through a real HTTP server on loopback: exactly once per regulator."""

from __future__ import annotations

import asyncio
import signal
import uuid
from contextlib import AbstractAsyncContextManager
from typing import Any

import pytest
from sqlalchemy import Engine
from temporalio.client import Client

from activities.regulator import HttpRegulatorGateway
from complaints.actions import ComplaintActions
from complaints.intake import ComplaintIntakeClient
from domain.policy import PolicyStore
from models.actions import InformationRequest
from models.clocks import ClockState
from models.complaint import ComplaintStatusQuery, Status
from tests.factories import intake_payload
from tests.helpers import (
    conclude_investigation,
    eventually,
    outbox,
    own_worker,
    projected,
    save_history,
    start_worker_process,
    status_once,
    worker_process_env,
)
from tests.regulator_server import RegulatorServer


def http_worker(
    client: Client, engine: Engine, policies: PolicyStore, url: str
) -> AbstractAsyncContextManager[ComplaintIntakeClient]:
    return own_worker(client, engine, policies, prefix="reports", gateway=HttpRegulatorGateway(url, timeout_seconds=5))


def lodged_with(*regulators: str) -> dict[str, Any]:
    """A major complaint: lodged with several regulators, or referred by one."""
    channel = "regulator_referral" if len(regulators) == 1 else "email"
    return intake_payload("contract_dispute", regulators=list(regulators), channel=channel)


async def reports_settled(intake: ComplaintIntakeClient, cid: str, timeout: float = 60) -> ComplaintStatusQuery:
    async def probe() -> ComplaintStatusQuery | None:
        state = await intake.status(cid)
        threads = state.snapshot.regulator_reports
        return state if threads and all(t.state != "pending" for t in threads) else None

    return await eventually(probe, timeout=timeout, what="every regulator report to settle")


async def test_one_report_per_regulator_despite_failures(
    client: Client, engine: Engine, policies: PolicyStore, request: pytest.FixtureRequest
) -> None:
    with RegulatorServer() as server:
        server.fail_first = 2
        async with http_worker(client, engine, policies, server.url) as intake:
            filed = await intake.file(lodged_with("NFRA", "PBOC"))

            state = await reports_settled(intake, filed.complaint_id)

            assert {t.regulator: t.state for t in state.snapshot.regulator_reports} == {
                "NFRA": "acknowledged",
                "PBOC": "acknowledged",
            }
            reports = server.filed_for(filed.complaint_id)
            assert sorted(r["regulator"] for r in reports.values()) == ["NFRA", "PBOC"]
            assert all(server.posts[k] == 3 for k in reports), "two failures, then filed"
            await projected(engine, filed.complaint_id, "regulator_report_filed")
            await intake.withdraw(filed.complaint_id, "test done", "test")
            await conclude_investigation(client, filed.complaint_id)  # a withdrawn complaint still waits for it
            await intake.handle(filed.complaint_id).result()
            if engine.dialect.name == "sqlite":
                await save_history(request, intake.handle(filed.complaint_id), "regulator_reports_withdrawn")


async def test_a_long_outage_alerts_compliance_and_loses_nothing(
    client: Client, engine: Engine, policies: PolicyStore
) -> None:
    with RegulatorServer() as server:
        server.down.set()
        async with http_worker(client, engine, policies, server.url) as intake:
            filed = await intake.file(lodged_with("NFRA"))
            cid = filed.complaint_id
            # The compressed policy gives 20 s; retrying stops counting at half of it.
            await projected(engine, cid, "regulator_report_escalated", timeout=40)
            assert {m.recipient for m in outbox(engine, cid, "regulator_report_failing")} == {"S-CMP-001", "S-CMP-002"}
            assert server.filed_for(cid) == {}

            server.down.clear()
            state = await reports_settled(intake, cid, timeout=90)

            [thread] = state.snapshot.regulator_reports
            assert thread.state == "acknowledged" and thread.escalated
            assert list(server.filed_for(cid)) == [f"{cid}:NFRA:initial:1"]
            await intake.withdraw(cid, "test done", "test")


async def test_waiting_on_the_customer_does_not_stop_the_report_owed_to_a_regulator(
    client: Client, engine: Engine, policies: PolicyStore, request: pytest.FixtureRequest
) -> None:
    """The pack pauses the decision clock while the customer is asked for information; the
    report's deadline runs from the start of handling and does not move with it."""
    with RegulatorServer() as server:
        server.down.set()  # the report stays pending, its clock running
        async with http_worker(client, engine, policies, server.url) as intake:
            filed = await intake.file(lodged_with("NFRA"))
            cid = filed.complaint_id
            state = await status_once(intake.handle(cid), {Status.IN_HANDLING})
            before = {c.name: c for c in state.snapshot.clocks}
            assert before["regulator_report_NFRA"].state == ClockState.RUNNING

            await ComplaintActions(client).request_customer_information(
                cid, InformationRequest(actor=state.snapshot.assignee, requested="The loan agreement")
            )

            clocks = {c.name: c for c in (await intake.status(cid)).snapshot.clocks}
            assert clocks["regulatory_decision"].state == ClockState.PAUSED
            report = clocks["regulator_report_NFRA"]
            assert report.state == ClockState.RUNNING and report.paused_at is None
            assert report.due_at == before["regulator_report_NFRA"].due_at
            server.down.clear()
            await reports_settled(intake, cid, timeout=90)
            await intake.withdraw(cid, "test done", "test")
            await conclude_investigation(client, cid)
            await intake.handle(cid).result()
            if engine.dialect.name == "sqlite":
                await save_history(request, intake.handle(cid), "report_runs_on_while_waiting_withdrawn")


async def test_a_withdrawal_is_answered_at_once_while_a_report_is_still_owed(
    client: Client, engine: Engine, policies: PolicyStore, request: pytest.FixtureRequest
) -> None:
    """The customer's withdrawal does not wait for an unreachable regulator; the report is
    still filed once the regulator is back, and the complaint ends after it."""
    with RegulatorServer() as server:
        server.down.set()
        async with http_worker(client, engine, policies, server.url) as intake:
            filed = await intake.file(lodged_with("NFRA"))
            cid = filed.complaint_id
            await status_once(intake.handle(cid), {Status.IN_HANDLING})

            withdrawn = await asyncio.wait_for(intake.withdraw(cid, "settled with the branch", "web"), timeout=20)

            assert withdrawn.status == Status.WITHDRAWN
            [thread] = (await intake.status(cid)).snapshot.regulator_reports
            assert thread.state == "pending" and server.filed_for(cid) == {}
            server.down.clear()
            state = await reports_settled(intake, cid, timeout=90)
            assert [t.state for t in state.snapshot.regulator_reports] == ["acknowledged"]
            assert list(server.filed_for(cid)) == [f"{cid}:NFRA:initial:1"]
            await conclude_investigation(client, cid)  # a withdrawn complaint still waits for it
            final = await intake.handle(cid).result()
            assert final.status == Status.WITHDRAWN
            if engine.dialect.name == "sqlite":
                await save_history(request, intake.handle(cid), "withdrawn_while_report_owed")


async def test_an_invalid_report_is_not_resent_blindly(client: Client, engine: Engine, policies: PolicyStore) -> None:
    with RegulatorServer() as server:
        server.reject = True
        async with http_worker(client, engine, policies, server.url) as intake:
            cid = (await intake.file(lodged_with("CSRC"))).complaint_id
            state = await reports_settled(intake, cid)
            [thread] = state.snapshot.regulator_reports
            assert thread.state == "rejected" and "contract_annex" in thread.rejection
            await projected(engine, cid, "regulator_report_rejected")

            # The complaint completes only after every report thread has finished, so once it
            # has completed nothing can be resent any more.
            async def complete() -> None:
                await intake.withdraw(cid, "test done", "test")
                await conclude_investigation(client, cid)
                await intake.handle(cid).result()

            try:
                await asyncio.wait_for(complete(), timeout=60)
            except TimeoutError:
                pytest.fail(
                    f"the complaint did not complete: a report thread is still running "
                    f"({server.posts[f'{cid}:CSRC:initial:1']} posts so far)"
                )
            assert server.posts[f"{cid}:CSRC:initial:1"] == 1
            assert list(server.filed_for(cid)) == []
            history = await intake.handle(cid).fetch_history()
            assert (
                sum(
                    e.activity_task_scheduled_event_attributes.activity_type.name == "file_regulator_report"
                    for e in history.events
                    if e.HasField("activity_task_scheduled_event_attributes")
                )
                == 1
            )


@pytest.mark.timeout(180)
async def test_a_worker_killed_mid_submission_files_once(client: Client, engine: Engine, database_url: str) -> None:
    """SIGKILL the real worker while the regulator holds its request; the next worker retries the same key."""
    with RegulatorServer() as server:
        server.hold.set()
        task_queue = f"kill-{uuid.uuid4().hex[:6]}"
        env = worker_process_env(client, database_url, task_queue, COMPLAINTS_REGULATOR_ENDPOINT=server.url)
        start = lambda: start_worker_process(env)  # noqa: E731
        worker = start()
        try:
            intake = ComplaintIntakeClient(client, task_queue=task_queue)
            filed = await intake.file(lodged_with("NFRA"))
            await asyncio.get_running_loop().run_in_executor(None, server.held.wait, 60)
            worker.send_signal(signal.SIGKILL)  # the report reached the regulator; the answer never came back
            worker.wait(timeout=10)
            server.hold.clear()
            worker = start()

            state = await reports_settled(intake, filed.complaint_id, timeout=90)

            assert state.snapshot.regulator_reports[0].state == "acknowledged"
            key = f"{filed.complaint_id}:NFRA:initial:1"
            assert list(server.filed_for(filed.complaint_id)) == [key], "filed exactly once"
            assert server.posts[key] >= 2, "the new worker retried with the same key"
            await intake.withdraw(filed.complaint_id, "test done", "test")
        finally:
            worker.terminate()
            worker.wait(timeout=30)

"""Step 3.2 through the real server: the reporting workflow on demand and from its Schedule."""

from __future__ import annotations

import csv
import json
import tempfile
import uuid
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa
from sqlalchemy import Engine
from sqlmodel import Session, select
from temporalio.client import Client, ScheduleActionExecutionStartWorkflow, ScheduleHandle, WorkflowHandle

from bench.generate import delete_generated, write
from complaints.actions import ComplaintActions
from complaints.reports import list_reports, run_report
from complaints.schedules import ensure_schedules
from db.tables import Complaint, ComplaintClause, ComplaintClock
from domain.analysis import bounds, custom_period, previous_period
from domain.policy import PolicyStore
from models.actions import FollowUpCallRequest, RootCauseRequest
from models.analysis import ANALYSIS, Period, PeriodKind, Product, ReportOutcome, ReturnKind
from models.policy import Policy
from tests.conftest import Service
from tests.factories import CATEGORY_DETAILS
from tests.helpers import complaint_row, eventually, file_assigned, own_worker, projected, save_history
from tests.workflows.test_after_decision import caller_of, resolve


def today(policies: PolicyStore) -> Period:
    day = datetime.now(UTC).astimezone(ZoneInfo(policies.current.timezone)).date()
    return custom_period(day, day)


def files_of(outcome: ReportOutcome, kind: str = ANALYSIS) -> tuple[Path, dict[str, str]]:
    output = next(o for o in outcome.outputs if o.kind == kind)
    assert output.error is None and output.directory is not None
    return Path(output.directory), output.files


async def triggered(client: Client, schedule: ScheduleHandle) -> WorkflowHandle[Any, ReportOutcome]:
    """Trigger a schedule now; the run it started."""
    await schedule.trigger()

    async def started() -> str | None:
        actions = (await schedule.describe()).info.recent_actions
        action = actions[-1].action if actions else None
        return action.workflow_id if isinstance(action, ScheduleActionExecutionStartWorkflow) else None

    workflow_id = await eventually(started, what=f"the workflow of {schedule.id}")
    return client.get_workflow_handle(workflow_id, result_type=ReportOutcome)


def space_loan_policy(policy: Policy) -> Policy:
    """The policy with trade finance mapped to an ASIC product group the schema does not know."""
    products = [
        p.model_copy(update={"asic_product": "Space loan"}) if p.code == "trade_finance" else p
        for p in policy.reporting.products
    ]
    return policy.model_copy(update={"reporting": policy.reporting.model_copy(update={"products": products})})


async def test_an_analysis_on_demand_counts_todays_complaints_and_rerunning_makes_a_new_version(
    service: Service, actions: ComplaintActions, policies: PolicyStore
) -> None:
    closed, handler = await resolve(service, actions)
    caller = await caller_of(service, closed)
    await actions.record_root_cause(closed, RootCauseRequest(actor=handler, code="pricing_error", text="Old fee table"))
    await actions.record_follow_up_call(
        closed, FollowUpCallRequest(actor=caller, reached=True, satisfaction=4, remedy_delivered=True)
    )
    disputed, _ = await file_assigned(
        service,
        "contract_dispute",
        product="trade_finance",
        details={**CATEGORY_DETAILS["contract_dispute"], "clause_references": ["12.4 set-off"]},
    )
    await projected(service.engine, closed, "closed")
    period = today(policies)

    outcome = await run_report(service.client, service.task_queue, policies.current, period, [ANALYSIS], "test")

    # The facts were derived from the audit log before the analysis ran.
    row = complaint_row(service.engine, closed)
    assert row is not None and row.resolved_at is not None and row.remedy_paid == Decimal("500.00")
    assert row.facts_seq > 0
    with Session(service.engine) as session:
        clocks = {
            c.name: c.state for c in session.exec(select(ComplaintClock).where(ComplaintClock.complaint_id == closed))
        }
        clauses = session.exec(select(ComplaintClause.clause).where(ComplaintClause.complaint_id == disputed)).all()
    assert clocks["acknowledgement"] == "met" and clocks["simple_first_response"] == "met"
    assert clauses == ["12.4 set-off"]
    assert complaint_row(service.engine, disputed).product == "trade_finance"  # type: ignore[union-attr]

    directory, files = files_of(outcome)
    html = (directory / files["html"]).read_text(encoding="utf-8")
    assert "<svg" in html and period.label in html
    analysis = json.loads((directory / files["analysis"]).read_text(encoding="utf-8"))
    assert analysis["headline"]["received"] >= 2 and analysis["headline"]["closed"] >= 1
    with (directory / files["counts_csv"]).open(encoding="utf-8") as f:
        counts = list(csv.DictReader(f))
    products = {r["key"]: int(r["count"]) for r in counts if r["dimension"] == "product"}
    assert products.get("trade_finance", 0) >= 1
    assert any(c["clause"] == "12.4 set-off" for c in analysis["clauses"])
    # The team table: the handler who closed it, from their scorecard of the same period (step 4).
    assert any(r["staff_id"] == handler and r["cases"] >= 1 for r in analysis["team"]), analysis["team"]
    assert (directory / files["team_csv"]).read_text(encoding="utf-8").startswith("staff_id,name,cases,")
    # Customer education topics (step 5): the section and its table, whatever topics the period has.
    assert '<h2 id="education">Education topics</h2>' in html
    topics = (directory / files["education_csv"]).read_text(encoding="utf-8")
    assert topics.startswith("product,topic,count,previous,last_action_on,last_action_kind,last_action_title")
    assert isinstance(analysis["education"], list)

    again = await run_report(service.client, service.task_queue, policies.current, period, [ANALYSIS], "test")
    versions = [r.version for r in list_reports(service.engine, ANALYSIS, period.label)]
    assert next(o.version for o in again.outputs) == next(o.version for o in outcome.outputs) + 1
    assert versions[:2] == sorted(versions[:2], reverse=True) and len(set(versions)) == len(versions)


async def test_the_schedule_runs_the_analysis_of_the_month_before(
    service: Service, client: Client, policies: PolicyStore, request: pytest.FixtureRequest
) -> None:
    prefix = f"test-{uuid.uuid4().hex[:6]}-report-"
    policy = policies.current
    # Four hundred complaints over the two months before this one, straight into the projection.
    this_month = datetime.now(UTC).astimezone(ZoneInfo(policy.timezone)).date().replace(day=1)
    url = service.engine.url.render_as_string(hide_password=False)
    write(url, policy, 400, seed=7, months=2, end=this_month)
    ids = await ensure_schedules(client, policy, service.task_queue, prefix=prefix)
    assert ids == [f"{prefix}monthly", f"{prefix}quarterly"]  # the compressed pack's NFRA return is quarterly
    try:
        monthly = client.get_schedule_handle(f"{prefix}monthly")
        spec = (await monthly.describe()).schedule.spec
        assert spec.time_zone_name == policy.timezone
        assert [r.start for r in spec.calendars[0].hour] == [policy.reporting.run_hour]
        assert [r.start for r in spec.calendars[0].day_of_month] == [policy.reporting.run_day]

        # Created again (a worker restarting) with a later hour: updated in place, not duplicated.
        later = policy.model_copy(update={"reporting": policy.reporting.model_copy(update={"run_hour": 9})})
        assert await ensure_schedules(client, later, service.task_queue, prefix=prefix) == ids
        assert [r.start for r in (await monthly.describe()).schedule.spec.calendars[0].hour] == [9]
        # A pack with no quarterly return: the quarterly schedule goes.
        pack = policy.regulatory_pack.model_copy(update={"returns": []})
        monthly_only = policy.model_copy(update={"regulatory_pack": pack})
        assert await ensure_schedules(client, monthly_only, service.task_queue, prefix=prefix) == [f"{prefix}monthly"]

        async def quarterly_gone() -> bool:
            return f"{prefix}quarterly" not in [s.id async for s in await client.list_schedules()]

        await eventually(quarterly_gone, what="the quarterly schedule deleted")

        handle = await triggered(client, monthly)
        outcome = await handle.result()
        if service.backend == "sqlite":
            await save_history(request, handle, "reporting_scheduled_month")
        expected = previous_period(PeriodKind.MONTH, datetime.now(UTC), policy.timezone)
        assert outcome.period.label == expected.label
        directory, files = files_of(outcome)
        html = (directory / files["html"]).read_text(encoding="utf-8")
        assert html.count("<svg") >= 6, "a chart per section"
        analysis = json.loads((directory / files["analysis"]).read_text(encoding="utf-8"))
        assert analysis["headline"]["received"] >= 150  # about half of the 400 fell in the month
        for name in ("counts_csv", "durations_csv", "clocks_csv", "risk_points_csv"):
            assert (directory / files[name]).read_text(encoding="utf-8").splitlines()[0]
        assert [r.period_label for r in list_reports(service.engine, ANALYSIS, expected.label)]
    finally:
        for listed in [s async for s in await client.list_schedules()]:
            if listed.id.startswith(prefix):
                await client.get_schedule_handle(listed.id).delete()
        with service.engine.begin() as conn:
            delete_generated(conn)


async def test_the_quarterly_schedule_produces_the_packs_quarterly_return(
    service: Service, client: Client, policies: PolicyStore
) -> None:
    prefix = f"test-{uuid.uuid4().hex[:6]}-report-"
    policy = policies.current
    # Three hundred complaints over the two quarters before this one, straight into the projection.
    today_there = datetime.now(UTC).astimezone(ZoneInfo(policy.timezone)).date()
    this_quarter = today_there.replace(month=(today_there.month - 1) // 3 * 3 + 1, day=1)
    url = service.engine.url.render_as_string(hide_password=False)
    write(url, policy, 300, seed=11, months=6, end=this_quarter)
    try:
        ids = await ensure_schedules(client, policy, service.task_queue, prefix=prefix)
        assert f"{prefix}quarterly" in ids  # the compressed policy's pack (cn-2020) files NFRA's return quarterly
        quarterly = client.get_schedule_handle(f"{prefix}quarterly")
        outcome = await (await triggered(client, quarterly)).result()

        quarter = previous_period(PeriodKind.QUARTER, datetime.now(UTC), policy.timezone)
        before = previous_period(PeriodKind.QUARTER, bounds(quarter, policy.timezone)[0], policy.timezone)
        assert outcome.period.label == quarter.label
        assert [o.kind for o in outcome.outputs] == [ANALYSIS, ReturnKind.NFRA_QUARTERLY.value]
        directory, files = files_of(outcome, ReturnKind.NFRA_QUARTERLY.value)
        assert directory.name == f"v{outcome.outputs[1].version}" and directory.parent.name == quarter.label
        with (directory / files["csv"]).open(encoding="utf-8") as f:
            rows = {r["business_line"]: r for r in csv.DictReader(f)}
        # The catalogue's business lines, then the line of complaints without a product (15% of those generated).
        lines = [*dict.fromkeys(p.nfra_business_line for p in policy.reporting.products)]
        assert list(rows) == [*lines, Product(code="other", label="Other").nfra_business_line]

        def received(period: Period) -> int:
            start, end = bounds(period, policy.timezone)
            with service.engine.connect() as conn:
                return int(conn.scalar(sa.select(sa.func.count()).where(*in_range(start, end))) or 0)

        # Every complaint received in the quarter, and in the quarter before, counted once.
        assert sum(int(r["complaints"]) for r in rows.values()) == received(quarter) >= 100
        assert sum(int(r["previous_complaints"]) for r in rows.values()) == received(before) >= 100
        assert [r.period_label for r in list_reports(service.engine, ReturnKind.NFRA_QUARTERLY.value, quarter.label)]
    finally:
        for listed in [s async for s in await client.list_schedules()]:
            if listed.id.startswith(prefix):
                await client.get_schedule_handle(listed.id).delete()
        with service.engine.begin() as conn:
            delete_generated(conn)


def in_range(start: datetime, end: datetime) -> list[sa.ColumnElement[bool]]:
    received_at = Complaint.__table__.c.received_at  # type: ignore[attr-defined]
    return [received_at >= start, received_at < end]


async def test_the_returns_come_from_the_same_data_and_a_row_failing_its_schema_writes_nothing(
    service: Service, client: Client, engine: Engine, policies: PolicyStore
) -> None:
    disputed, _ = await file_assigned(service, "contract_dispute", product="trade_finance")
    await projected(service.engine, disputed, "assigned")
    period = today(policies)
    kinds = [k.value for k in ReturnKind]

    outcome = await run_report(service.client, service.task_queue, policies.current, period, kinds, "test")

    directory, files = files_of(outcome, ReturnKind.ASIC_IDR.value)
    with (directory / files["csv"]).open(encoding="utf-8") as f:
        rows = {r["complaint_id"]: r for r in csv.DictReader(f)}
    assert rows[disputed]["products"] == "Trade finance" and rows[disputed]["status"] == "Open"
    assert rows[disputed]["complaint_type"] == "Standard"  # filed without a default notice or hardship flag
    for kind in kinds:
        directory, files = files_of(outcome, kind)
        assert (directory / files["csv"]).read_text(encoding="utf-8").splitlines()[0]

    # A product mapped to a group the ASIC schema does not know: that return is refused by name.
    broken = space_loan_policy(policies.current)
    reports_dir = Path(tempfile.mkdtemp(prefix="reports-"))
    async with own_worker(
        client, engine, PolicyStore(broken), prefix="returns-refused", reports_dir=reports_dir
    ) as intake:
        refused = await run_report(client, intake.task_queue, broken, period, [ANALYSIS, "asic_idr"], "test")
    (analysis, asic) = refused.outputs
    assert analysis.error is None and analysis.version is not None
    assert asic.error is not None and asic.version is None
    assert asic.error.startswith("asic_idr row ") and "field 'products'" in asic.error and "Space loan" in asic.error
    assert not (reports_dir / "asic_idr").exists() or not any((reports_dir / "asic_idr").rglob("*.csv"))

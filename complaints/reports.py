"""Running the periodic analysis on demand, and reading what it produced (client plumbing)."""

from __future__ import annotations

from sqlalchemy import Engine
from sqlmodel import Session, col, select
from temporalio.client import Client
from temporalio.common import WorkflowIDConflictPolicy, WorkflowIDReusePolicy

from db.tables import AnalysisReport
from domain.analysis import kind_of
from models.analysis import ANALYSIS, Period, ReportOutcome, ReportRequest
from models.policy import Policy
from workflows.step3_analysis import ReportingWorkflow


def default_kinds(policy: Policy, period: Period) -> list[str]:
    """The analysis, and the pack's returns that fall due for a period of this length."""
    kind = kind_of(period)
    return [ANALYSIS, *(r.kind.value for r in policy.regulatory_pack.returns if r.period == kind)]


async def run_report(
    client: Client, task_queue: str, policy: Policy, period: Period, kinds: list[str], requested_by: str
) -> ReportOutcome:
    """Start the reporting workflow for ``period`` and wait for it. Asked twice at once, the
    second request waits for the first run; asked again later, it makes the next version."""
    request = ReportRequest(kinds=kinds, period=period, timezone=policy.timezone, requested_by=requested_by)
    return await client.execute_workflow(
        ReportingWorkflow.run,
        request,
        id=f"report-{period.label}-{'-'.join(kinds)}",
        task_queue=task_queue,
        id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
        id_reuse_policy=WorkflowIDReusePolicy.ALLOW_DUPLICATE,
        static_summary=f"Complaint analysis of {period.label}, asked for by {requested_by}: {', '.join(kinds)}",
    )


def list_reports(engine: Engine, kind: str | None = None, period_label: str | None = None) -> list[AnalysisReport]:
    """Every report and return recorded, newest period first, the latest version of each first."""
    query = select(AnalysisReport)
    if kind:
        query = query.where(AnalysisReport.kind == kind)
    if period_label:
        query = query.where(AnalysisReport.period_label == period_label)
    query = query.order_by(
        col(AnalysisReport.period_start).desc(),
        col(AnalysisReport.period_end).desc(),
        col(AnalysisReport.kind),
        col(AnalysisReport.version).desc(),
    )
    with Session(engine) as session:
        return list(session.exec(query))


def find_report(
    engine: Engine, period_label: str, kind: str = ANALYSIS, version: int | None = None
) -> AnalysisReport | None:
    """A period's report of ``kind``: the version asked for, or the latest."""
    found = [r for r in list_reports(engine, kind, period_label) if version is None or r.version == version]
    return found[0] if found else None

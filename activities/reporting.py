"""Step 3.2's activities: bring the analysis facts up to date, then produce each report or return.

Each output is written into a directory of its own, ``<reports>/<kind>/<period>/v<version>``,
first under a temporary name that is renamed when every file is there, and only then
recorded in ``analysis_reports``. Re-running a period adds the next version. A retry of the
same workflow run (its ``run_key``) finds the version it already recorded, so a worker that
dies between writing and answering makes no second version.
"""

from __future__ import annotations

import shutil
import uuid
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy import Engine
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, select
from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.logging import activity_logger
from db import analysis_facts
from db.analysis_queries import compute_analysis
from db.education_queries import education_table
from db.scorecards import team
from db.tables import AnalysisReport, utc_now
from domain.policy import PolicyStore
from models.analysis import ANALYSIS, ProduceRequest, ReportOutput, ReturnKind

# The chart renderer (vega-altair, vl-convert: about 50 MB) and the returns' schemas are
# imported when the first report is produced, not when the worker starts: a worker that never
# reports does not carry them (README, 'Benchmark').


class ReportingActivities:
    def __init__(self, engine: Engine, policies: PolicyStore, reports_dir: Path) -> None:
        self._engine = engine
        self._policies = policies
        self._root = Path(reports_dir)

    @activity.defn
    def refresh_analysis_facts(self, budget_seconds: float) -> int:
        """Derive the facts of every complaint whose audit log moved on (the first run: all of
        them); returns how many are still behind when the time budget is spent."""
        info = activity.info()
        left = analysis_facts.refresh(
            self._engine, budget_seconds=budget_seconds, beat=lambda done: activity.heartbeat(done)
        )
        activity_logger(info.workflow_id or "reporting").info("analysis facts refreshed", still_behind=left)
        return left

    @activity.defn
    def produce_report(self, request: ProduceRequest) -> ReportOutput:
        """Write one report or return of one period, and record it as the period's next version."""
        log = activity_logger(activity.info().workflow_id or "reporting")
        recorded = self._recorded(request.run_key)
        if recorded is not None:
            log.info("report already recorded", kind=request.kind, version=recorded.version)
            return recorded
        policy = self._policies.current
        with Session(self._engine) as session:
            latest = session.exec(
                select(sa.func.max(AnalysisReport.version)).where(
                    AnalysisReport.kind == request.kind,
                    AnalysisReport.period_start == request.period.start,
                    AnalysisReport.period_end == request.period.end,
                )
            ).one()
        version = (latest or 0) + 1
        final = self._root / request.kind / request.period.label / f"v{version}"
        staging = final.with_name(f".{final.name}-{uuid.uuid4().hex[:8]}")
        staging.mkdir(parents=True)
        from domain.returns import ReturnInvalid

        try:
            files, summary = self._write(request, staging)
            shutil.rmtree(final, ignore_errors=True)  # a crashed attempt's directory, never recorded
            staging.rename(final)
        except ReturnInvalid as err:
            raise ApplicationError(str(err), type="ReturnInvalid", non_retryable=True) from err
        finally:
            shutil.rmtree(staging, ignore_errors=True)
        row = AnalysisReport(
            kind=request.kind,
            period_label=request.period.label,
            period_start=request.period.start,
            period_end=request.period.end,
            version=version,
            run_key=request.run_key,
            policy_version=policy.version,
            directory=str(final),
            files=files,
            summary=summary,
            created_at=utc_now(),
        )
        try:
            with Session(self._engine) as session:
                session.add(row)
                session.commit()
        except IntegrityError as err:
            # Another run took this version meanwhile (or this run's own retry recorded it): retry.
            recorded = self._recorded(request.run_key)
            if recorded is not None:
                return recorded
            raise ApplicationError(f"version {version} of {request.kind} {request.period.label} taken") from err
        log.info("report written", kind=request.kind, period=request.period.label, version=version)
        return ReportOutput(
            kind=request.kind,
            period_label=request.period.label,
            version=version,
            directory=str(final),
            files=files,
            summary=summary,
        )

    def _write(self, request: ProduceRequest, directory: Path) -> tuple[dict[str, str], dict[str, Any]]:
        policy = self._policies.current
        if request.kind == ANALYSIS:
            from activities.report_render import policy_labels, render_report

            with self._engine.connect() as conn:
                analysis = compute_analysis(conn, request.period, request.previous, policy)
                # The team table (step 4): each person's scorecard of the same period, same data.
                analysis = analysis.model_copy(update={"team": team(conn, request.period, policy)})
                # Education topics (step 5): customer misunderstandings by product and topic, last action.
                analysis = analysis.model_copy(
                    update={"education": education_table(conn, request.period, request.previous, policy)}
                )
            files = render_report(analysis, directory, labels=policy_labels(policy))
            h = analysis.headline
            summary = {
                "received": h.received,
                "closed": h.closed,
                "open_at_end": h.open_at_end,
                "satisfaction_average": h.satisfaction_average,
                "risk_points": len(analysis.risk_points),
            }
            return {k: Path(v).name for k, v in files.items()}, summary
        from activities.returns import write_return

        result = write_return(
            self._engine, ReturnKind(request.kind), request.period, request.previous, policy, directory
        )
        files = {k: Path(v).name for k, v in result["files"].items()}
        return files, {"rows": result["rows"], **result.get("summary", {})}

    def _recorded(self, run_key: str) -> ReportOutput | None:
        with Session(self._engine) as session:
            row = session.exec(select(AnalysisReport).where(AnalysisReport.run_key == run_key)).first()
        if row is None:
            return None
        return ReportOutput(
            kind=row.kind,
            period_label=row.period_label,
            version=row.version,
            directory=row.directory,
            files=row.files,
            summary=row.summary,
        )

"""The complaints worker: migrates the database, seeds the staff directory, polls `complaints`.

python worker.py            # configuration from the environment (README, 'Configuration')
"""

from __future__ import annotations

import asyncio
import compileall
import inspect
import signal
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from dataclasses import asdict
from datetime import timedelta
from pathlib import Path
from typing import Any

import structlog
from sqlalchemy import Engine
from temporalio.client import Client
from temporalio.runtime import Runtime
from temporalio.worker import PollerBehaviorSimpleMaximum, Worker, WorkerDeploymentConfig
from temporalio.worker.workflow_sandbox import (
    SandboxedWorkflowRunner,
    SandboxRestrictions,
)

from activities.award import AwardActivities
from activities.classification import ClassificationActivities
from activities.clauses import ClauseActivities
from activities.education import EducationActivities
from activities.incident import IncidentActivities
from activities.investigation import InvestigationActivities
from activities.notifications import (
    ChannelNotifier,
    NotificationActivities,
    Notifier,
    OutboxNotifier,
    SmsGateway,
    SmtpSender,
)
from activities.prevention import WatchedProjection
from activities.projection import ProjectionActivities
from activities.recall import RecallActivities
from activities.regulator import (
    HttpRegulatorGateway,
    OutboxDirectoryGateway,
    RegulatorActivities,
    RegulatorGateway,
)
from activities.reporting import ReportingActivities
from activities.retention import RetentionActivities
from activities.risk import RiskActivities
from activities.staff import StaffActivities
from activities.training import TrainingActivities
from complaints.clauses import ensure_watch_schedule
from complaints.config import Settings, WorkerTuning
from complaints.incident import ensure_surge_watch_schedule
from complaints.logging import configure_logging
from complaints.retention import ensure_namespace_retention, ensure_retention_schedule
from complaints.schedules import ensure_award_schedule, ensure_schedules
from complaints.telemetry import instance_address, metrics_runtime, open_complaints_gauge
from complaints.temporal import connect, ensure_search_attributes, exit_process
from complaints.training import ensure_joining_training
from complaints.versioning import deployment_config, with_versioning
from db.engine import make_engine, migrate
from db.seed import seed_staff_directory
from db.staff_keys import seed_staff_keys
from domain.policy import PolicyStore
from workflows.complaint import ComplaintWorkflow
from workflows.investigation import InvestigationWorkflow
from workflows.retention import RetentionWorkflow
from workflows.step3_analysis import ReportingWorkflow
from workflows.step4_award import AwardWorkflow
from workflows.step4_training import TrainingAssignmentWorkflow
from workflows.step5_clauses import ClauseReviewWorkflow, ClauseWatchWorkflow
from workflows.step5_education import EducationLogWorkflow
from workflows.step5_risk import EarlyWarningWorkflow
from workflows.step6_incident import IncidentWorkflow, SurgeWatchWorkflow
from workflows.step6_recall import RecallWorkflow, RemediationWorkflow

WORKFLOWS = [
    ComplaintWorkflow,
    InvestigationWorkflow,
    ReportingWorkflow,
    TrainingAssignmentWorkflow,
    AwardWorkflow,
    ClauseWatchWorkflow,
    ClauseReviewWorkflow,
    EarlyWarningWorkflow,
    EducationLogWorkflow,
    SurgeWatchWorkflow,
    IncidentWorkflow,
    RecallWorkflow,
    RemediationWorkflow,
    RetentionWorkflow,
]


def build_worker(
    client: Client,
    *,
    task_queue: str,
    engine: Engine,
    policies: PolicyStore,
    notifier: Notifier | None = None,
    regulator_gateway: RegulatorGateway | None = None,
    executor: ThreadPoolExecutor,
    tuning: WorkerTuning | None = None,
    reports_dir: Path | None = None,
    training_from_investigations: bool = True,
    deployment: WorkerDeploymentConfig | None = None,
) -> Worker:
    """The worker with every activity wired to its dependencies (also used by the tests).

    ``deployment``: the Worker Deployment Version it is (``deployment_config``); None: unversioned.
    """
    precompile_workflows(WORKFLOWS)
    notifier = notifier or notifier_from(Settings(), engine)
    classification = ClassificationActivities(policies)
    # The projection, then step 5 on the complaint's path: its customer re-scored, an open clause review linked.
    projection = WatchedProjection(ProjectionActivities(engine), engine, policies, client)
    staff = StaffActivities(engine, policies)
    notifications = NotificationActivities(notifier, policies)
    regulator = RegulatorActivities(regulator_gateway or gateway_from(Settings()))
    # An investigation's 'training' decision starts an assignment (it needs the client to).
    investigation = InvestigationActivities(engine, policies, client if training_from_investigations else None)
    training = TrainingActivities(engine, policies, notifier)
    reporting = ReportingActivities(engine, policies, reports_dir or Settings().reports_dir)
    award = AwardActivities(engine, policies, notifier, client)
    clause = ClauseActivities(engine, policies, notifier, client)
    risk = RiskActivities(engine, policies, notifier)
    education = EducationActivities(engine, policies)
    incident = IncidentActivities(engine, policies, notifier, client)
    recall = RecallActivities(engine, policies, notifier, client)
    retention = RetentionActivities(engine, policies, client)
    return Worker(
        client,
        task_queue=task_queue,
        workflows=WORKFLOWS,
        activities=[
            classification.classify_complaint,
            classification.plan_clock,
            classification.replan_clocks,
            projection.record_complaint_event,
            projection.record_complaint_events,
            staff.look_up_staff_record,
            staff.load_staff_roster,
            staff.load_staff_keys,
            staff.load_signing,
            staff.record_signed_action,
            staff.choose_handler,
            notifications.send_acknowledgement,
            notifications.notify_customer,
            notifications.notify_staff,
            regulator.file_regulator_report,
            investigation.record_investigation_event,
            investigation.find_open_complaints,
            investigation.record_accountability,
            reporting.refresh_analysis_facts,
            reporting.produce_report,
            training.plan_training,
            training.record_training,
            training.notify_training,
            training.record_training_completion,
            award.propose_award,
            award.assign_training_needs,
            award.record_award,
            clause.find_clause_crossings,
            clause.open_or_link_clause_reviews,
            clause.plan_clause_review,
            clause.record_clause_review,
            clause.notify_clause_review,
            risk.plan_warning,
            risk.record_warning,
            risk.notify_warning,
            education.log_education_action,
            incident.find_surges,
            incident.open_or_join_incidents,
            incident.plan_incident,
            incident.record_incident,
            incident.situation_report,
            incident.notify_incident,
            recall.plan_recall,
            recall.recall_page,
            recall.record_recall,
            recall.open_remediation,
            recall.record_remediation_overdue,
            recall.record_remediated,
            retention.plan_retention,
            retention.retention_page,
            retention.anonymise_complaint,
        ],
        activity_executor=executor,
        # Ctrl-C lets running activities finish (they are idempotent, but finishing is kinder).
        graceful_shutdown_timeout=timedelta(seconds=10),
        **with_versioning(worker_options(tuning or Settings().worker, executor), deployment),
    )


def precompile_workflows(workflows: list[type]) -> None:
    """Write the bytecode of the workflows' packages, so that the sandbox can load it.

    The workflow sandbox imports a workflow's module afresh for every workflow it builds: each
    new complaint, and each one rebuilt after leaving the cache. Without a .pyc (this project's
    machines set PYTHONDONTWRITEBYTECODE) that import compiles the source every time, which
    took 30% of the worker's time in the burst benchmark (README, 'Benchmark').
    """
    for directory in {Path(inspect.getfile(w)).parent for w in workflows}:
        compileall.compile_dir(directory, quiet=2)


def worker_options(
    tuning: WorkerTuning, executor: ThreadPoolExecutor, workflows: list[type] = WORKFLOWS
) -> dict[str, Any]:
    """The tuning as Worker arguments; never more activities at once than the pool has threads."""
    shared: dict[str, Any] = {}
    if tuning.share_workflow_modules:
        packages = {w.__module__.split(".")[0] for w in workflows}
        shared["workflow_runner"] = SandboxedWorkflowRunner(
            restrictions=SandboxRestrictions.default.with_passthrough_modules(*packages)
        )
    return shared | {
        "max_cached_workflows": tuning.max_cached_workflows,
        "max_concurrent_workflow_tasks": tuning.max_concurrent_workflow_tasks,
        "max_concurrent_activities": min(tuning.max_concurrent_activities, executor._max_workers),
        "workflow_task_poller_behavior": PollerBehaviorSimpleMaximum(maximum=tuning.workflow_task_pollers),
        "activity_task_poller_behavior": PollerBehaviorSimpleMaximum(maximum=tuning.activity_task_pollers),
    }


def notifier_from(settings: Settings, engine: Engine) -> Notifier:
    if not (settings.smtp_host or settings.sms_endpoint):
        return OutboxNotifier(engine)
    return ChannelNotifier(
        engine,
        email=SmtpSender(settings.smtp_host, settings.smtp_port, settings.smtp_sender) if settings.smtp_host else None,
        sms=SmsGateway(settings.sms_endpoint) if settings.sms_endpoint else None,
    )


def gateway_from(settings: Settings) -> RegulatorGateway:
    if settings.regulator_endpoint:
        return HttpRegulatorGateway(settings.regulator_endpoint)
    return OutboxDirectoryGateway(settings.regulator_outbox, settings.regulator_signing_key.encode())


def prepare_database(settings: Settings) -> Engine:
    migrate(settings.database_url)
    engine = make_engine(settings.database_url)
    seed_staff_directory(engine, settings.staff_directory_file)
    seed_staff_keys(engine, settings.staff_directory_file)  # public keys only (issue 16)
    return engine


@asynccontextmanager
async def _open_gauge(runtime: Runtime | None, engine: Engine) -> AsyncIterator[None]:
    """While the worker runs: the open complaints by status, on the metrics endpoint (if served)."""
    task = asyncio.create_task(open_complaints_gauge(runtime.metric_meter, engine)) if runtime else None
    try:
        yield
    finally:
        if task is not None:
            task.cancel()


async def main() -> None:
    settings = Settings()
    configure_logging(settings.log_level)
    log = structlog.get_logger().bind(task_queue=settings.task_queue)
    policies = PolicyStore.from_file(settings.policy_file)
    engine = prepare_database(settings)
    # The n-th of several workers on one machine (`make run WORKERS=3`) serves at the port plus n - 1.
    metrics_at = settings.metrics_address and instance_address(settings.metrics_address, settings.worker_instance)
    runtime = metrics_runtime(metrics_at) if metrics_at else None
    client = await connect(settings, wait_seconds=120, runtime=runtime)
    added = await ensure_search_attributes(client)
    if added:
        log.warning("registered search attributes the server lacked", added=added)
    if settings.report_schedules:
        schedules = await ensure_schedules(client, policies.current, settings.task_queue)
        schedules.append(await ensure_award_schedule(client, policies.current, settings.task_queue))
        schedules.append(await ensure_watch_schedule(client, policies.current, settings.task_queue))
        schedules.append(await ensure_surge_watch_schedule(client, policies.current, settings.task_queue))
        schedules.append(await ensure_retention_schedule(client, policies.current, settings.task_queue))
        kept = await ensure_namespace_retention(client, policies.current)
        log.info(
            "namespace retention", namespace=kept.namespace, days=kept.after.total_seconds() / 86400, note=kept.note
        )
        log.info("report schedules in place", schedules=schedules)
    stop = asyncio.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        asyncio.get_running_loop().add_signal_handler(sig, stop.set)
    deployment = deployment_config(settings)
    with ThreadPoolExecutor(max_workers=settings.worker.activity_threads) as executor:
        worker = build_worker(
            client,
            task_queue=settings.task_queue,
            engine=engine,
            policies=policies,
            executor=executor,
            tuning=settings.worker,
            deployment=deployment,
        )
        log.info(
            "worker started",
            temporal=settings.temporal_address,
            database=engine.url.render_as_string(hide_password=True),
            policy=policies.current.version,
            tuning=asdict(settings.worker),
            version=deployment.version.to_canonical_string() if deployment else "unversioned",
        )
        async with worker, _open_gauge(runtime, engine):
            if runtime is not None:
                log.info("metrics served", url=f"http://{metrics_at}/metrics")
            if settings.joining_training:
                joined = await ensure_joining_training(client, settings.task_queue, engine, policies.current)
                log.info("joining training in place", started=joined)
            await stop.wait()
        log.info("worker stopped")


if __name__ == "__main__":
    asyncio.run(main())
    exit_process(0)

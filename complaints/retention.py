"""Retention (issue 16), client plumbing: the schedule, a run on demand, the figures, and Temporal's
own namespace retention set to match the policy.

``RetentionWorkflow`` runs on the Schedule ``complaints-retention`` (every
``retention.check_every``, one run at a time: a run still working when the next is due makes
that one skip) that the worker creates or updates at start, and on demand (``run_retention``,
what ``complaints retention run`` and the tests call).

Temporal keeps a closed workflow's history for the namespace's retention period, counted from
the moment the workflow closes (a complaint's workflow closes when the complaint does). At
start the worker sets it to the policy's period (``ensure_namespace_retention``) where it may:
a period under Temporal's minimum of one day (the compressed policy) is left alone, and a
cluster that refuses the worker's credentials is told by the log line, with the command to
run (``temporal operator namespace update --retention <days>d <namespace>``).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from google.protobuf.duration_pb2 import Duration
from sqlalchemy import Engine
from temporalio.api.namespace.v1 import NamespaceConfig
from temporalio.api.workflowservice.v1 import DescribeNamespaceRequest, UpdateNamespaceRequest
from temporalio.client import (
    Client,
    Schedule,
)
from temporalio.service import RPCError, RPCStatusCode

from complaints.schedules import create_or_update_schedule, interval_schedule
from db import retention as queries
from domain import retention as rules
from models.policy import Policy
from models.retention import RetentionRequest, RetentionState, RetentionStatus
from workflows.retention import RetentionWorkflow

SCHEDULE = "complaints-retention"
MIN_NAMESPACE_RETENTION = timedelta(days=1)  # Temporal refuses less


async def run_retention(client: Client, task_queue: str, requested_by: str = "on demand") -> RetentionState:
    """Erase now what is past the period; what the run did (it waits for every page)."""
    return await client.execute_workflow(
        RetentionWorkflow.run,
        RetentionState(request=RetentionRequest(requested_by=requested_by)),
        id=f"retention-{uuid.uuid4().hex[:12]}",
        task_queue=task_queue,
        execution_timeout=timedelta(hours=6),
        static_summary=f"Erase personal data past the retention period, asked for by {requested_by}",
    )


def check_every(policy: Policy) -> timedelta:
    """The schedule's interval (``retention.check_every``)."""
    return timedelta(seconds=rules.period_seconds(policy.retention.check_every))


def retention_schedule(policy: Policy, task_queue: str, schedule_id: str = SCHEDULE) -> Schedule:
    return interval_schedule(
        RetentionWorkflow.run,
        RetentionState(request=RetentionRequest(requested_by="schedule")),
        schedule_id=schedule_id,
        task_queue=task_queue,
        every=check_every(policy),
        timeout=timedelta(hours=6),
        summary=f"Erase the personal data of complaints closed more than {policy.retention.period.describe()} ago",
    )


async def ensure_retention_schedule(
    client: Client, policy: Policy, task_queue: str, schedule_id: str = SCHEDULE
) -> str:
    """Create or update the retention schedule (its interval follows the policy)."""
    await create_or_update_schedule(client, schedule_id, retention_schedule(policy, task_queue, schedule_id))
    return schedule_id


@dataclass
class NamespaceRetention:
    """What ``ensure_namespace_retention`` found and did."""

    namespace: str
    before: timedelta
    after: timedelta
    note: str

    @property
    def changed(self) -> bool:
        return self.before != self.after


def namespace_command(namespace: str, period: timedelta) -> str:
    days = max(1, -(-int(period.total_seconds()) // 86400))  # whole days, rounded up
    return f"temporal operator namespace update --retention {days}d {namespace}"


async def ensure_namespace_retention(client: Client, policy: Policy) -> NamespaceRetention:
    """Set the client's namespace's retention of closed workflows to the policy's period, if it may."""
    namespace = client.namespace
    service = client.workflow_service
    described = await service.describe_namespace(DescribeNamespaceRequest(namespace=namespace))
    before = described.config.workflow_execution_retention_ttl.ToTimedelta()
    wanted = timedelta(seconds=rules.period_seconds(policy.retention.period))
    if wanted < MIN_NAMESPACE_RETENTION:
        note = f"the policy's {policy.retention.period.describe()} is under Temporal's minimum of 1 day: left as it is"
        return NamespaceRetention(namespace, before, before, note)
    if before == wanted:
        return NamespaceRetention(namespace, before, before, "already the policy's")
    ttl = Duration()
    ttl.FromTimedelta(wanted)
    try:
        await service.update_namespace(
            UpdateNamespaceRequest(namespace=namespace, config=NamespaceConfig(workflow_execution_retention_ttl=ttl))
        )
    except RPCError as err:
        if err.status not in (
            RPCStatusCode.PERMISSION_DENIED,
            RPCStatusCode.UNAUTHENTICATED,
            RPCStatusCode.UNIMPLEMENTED,
        ):
            raise
        command = namespace_command(namespace, wanted)
        note = f"not allowed to update the namespace ({err.message}); an operator runs: {command}"
        return NamespaceRetention(namespace, before, before, note)
    return NamespaceRetention(namespace, before, wanted, f"set to the policy's {policy.retention.period.describe()}")


def retention_status(engine: Engine, policy: Policy, now: datetime | None = None) -> RetentionStatus:
    """How many complaints were anonymised, and how many are past the period now and still to do."""
    now = now or datetime.now(UTC)
    cutoff = rules.cutoff(now, rules.period_seconds(policy.retention.period))
    done, due, latest = queries.counts(engine, cutoff)
    return RetentionStatus(
        policy_version=policy.version,
        period=policy.retention.period.describe(),
        cutoff=cutoff,
        anonymised=done,
        due=due,
        last_anonymised_at=latest,
    )

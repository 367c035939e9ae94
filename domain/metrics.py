"""The business metrics (issue 17), defined once: their names, kinds, units and labels.

The worker exports them on the Temporal SDK runtime's Prometheus endpoint beside the SDK's own
(``temporal_workflow_task_execution_latency``, ``temporal_activity_execution_failed`` ...):
workflows record through ``workflow.metric_meter()`` (nothing is recorded while a workflow
replays), activities through ``activity.metric_meter()``, and the worker sets the open-complaints
gauge from the projection. The Grafana dashboard (``deploy/grafana/complaints.json``) uses these
names; a test checks it against this list and against a real scrape.

Labels carry codes, never personal data: tier, category, clock, status, regulator, channel.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class MetricKind(StrEnum):
    COUNTER = "counter"
    GAUGE = "gauge"
    HISTOGRAM = "histogram"  # of durations, in milliseconds


@dataclass(frozen=True)
class Metric:
    name: str
    kind: MetricKind
    description: str
    labels: tuple[str, ...]
    unit: str = ""


FILED = Metric("complaints_filed", MetricKind.COUNTER, "Complaints filed, once classified", ("tier", "category"))
CLOSED = Metric(
    "complaints_closed",
    MetricKind.COUNTER,
    "Complaints closed (closed, withdrawn, resolved)",
    ("tier", "category", "status"),
)
CLOCK_WARNINGS = Metric(
    "complaints_clock_warnings", MetricKind.COUNTER, "SLA clocks that reached their warning", ("clock",)
)
CLOCK_BREACHES = Metric("complaints_clock_breaches", MetricKind.COUNTER, "SLA clocks breached", ("clock",))
OPEN = Metric("complaints_open", MetricKind.GAUGE, "Open complaints by status, from the projection", ("status",))
REPORT_RETRIES = Metric(
    "complaints_regulator_report_retries",
    MetricKind.COUNTER,
    "Regulator report attempts after the first",
    ("regulator",),
)
REPORT_REJECTIONS = Metric(
    "complaints_regulator_report_rejections",
    MetricKind.COUNTER,
    "Regulator reports the regulator refused",
    ("regulator",),
)
NOTIFICATION_FAILURES = Metric(
    "complaints_notification_failures",
    MetricKind.COUNTER,
    "Notification deliveries that failed (retried)",
    ("channel",),
)
INTAKE_TO_ACK = Metric(
    "complaints_intake_to_acknowledgement",
    MetricKind.HISTOGRAM,
    "From the customer's complaint (received_at) to the acknowledgement sent",
    ("tier",),
    unit="ms",
)

BUSINESS_METRICS = (
    FILED,
    CLOSED,
    CLOCK_WARNINGS,
    CLOCK_BREACHES,
    OPEN,
    REPORT_RETRIES,
    REPORT_REJECTIONS,
    NOTIFICATION_FAILURES,
    INTAKE_TO_ACK,
)


def exported_names(metric: Metric) -> tuple[str, ...]:
    """The series Prometheus shows for a metric (a histogram as its bucket, count and sum)."""
    if metric.kind is MetricKind.HISTOGRAM:
        return (f"{metric.name}_bucket", f"{metric.name}_count", f"{metric.name}_sum")
    return (metric.name,)

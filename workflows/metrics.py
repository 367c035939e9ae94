"""The complaint workflow's business metrics (``domain.metrics``), through ``workflow.metric_meter()``.

The SDK records nothing while a workflow replays, so a complaint rebuilt on another worker is not
counted twice.
"""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from domain import metrics as m
    from models.complaint import CLOSED_STATUSES, ComplaintSnapshot


def filed(tier: str, category: str) -> None:
    meter = workflow.metric_meter()
    meter.create_counter(m.FILED.name, m.FILED.description).add(1, {"tier": tier, "category": category})


def acknowledged(tier: str, after: timedelta) -> None:
    meter = workflow.metric_meter()
    histogram = meter.create_histogram_timedelta(
        m.INTAKE_TO_ACK.name, m.INTAKE_TO_ACK.description, m.INTAKE_TO_ACK.unit
    )
    histogram.record(max(after, timedelta(0)), {"tier": tier})


def clock(event: str, name: str) -> None:
    """``event``: ``warning`` or ``breach``."""
    metric = m.CLOCK_WARNINGS if event == "warning" else m.CLOCK_BREACHES
    workflow.metric_meter().create_counter(metric.name, metric.description).add(1, {"clock": name})


def closed(tier: str, category: str, status: str) -> None:
    meter = workflow.metric_meter()
    meter.create_counter(m.CLOSED.name, m.CLOSED.description).add(
        1, {"tier": tier, "category": category, "status": status}
    )


def closed_case(snap: ComplaintSnapshot) -> None:
    """The complaint's run ends closed (not continued as new): counted once, by how it ended."""
    if snap.status in CLOSED_STATUSES:
        tier = snap.classification.tier.value if snap.classification else "unclassified"
        closed(tier, snap.intake.category.value, snap.status.value)

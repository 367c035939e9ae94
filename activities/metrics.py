"""The activities' business metrics (``domain.metrics``), through ``activity.metric_meter()``.

Outside an activity (a notifier used by a CLI command) nothing is recorded.
"""

from __future__ import annotations

from temporalio import activity

from domain import metrics as m


def _count(metric: m.Metric, labels: dict[str, str]) -> None:
    if activity.in_activity():
        activity.metric_meter().create_counter(metric.name, metric.description).add(1, labels)


def report_attempt(regulator: str) -> None:
    """A regulator report's attempt: the second and later ones count as retries."""
    if activity.in_activity() and activity.info().attempt > 1:
        _count(m.REPORT_RETRIES, {"regulator": regulator})


def report_rejected(regulator: str) -> None:
    _count(m.REPORT_REJECTIONS, {"regulator": regulator})


def notification_failed(channel: str) -> None:
    _count(m.NOTIFICATION_FAILURES, {"channel": channel})

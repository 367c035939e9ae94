"""The activities' business metrics (``activities/metrics.py``): recorded inside an activity,
with the labels ``domain.metrics`` names; retries only from the second attempt; nothing outside."""

from __future__ import annotations

import dataclasses

from temporalio.runtime import MetricBuffer, Runtime, TelemetryConfig
from temporalio.testing import ActivityEnvironment

from activities import metrics
from domain.metrics import NOTIFICATION_FAILURES, REPORT_REJECTIONS, REPORT_RETRIES


def _recorded(buffer: MetricBuffer) -> list[tuple[str, dict[str, str | int | float | bool], int | float]]:
    return [(u.metric.name, dict(u.attributes), u.value) for u in buffer.retrieve_updates()]


def _env(runtime: Runtime, attempt: int = 1) -> ActivityEnvironment:
    env = ActivityEnvironment()
    env.metric_meter = runtime.metric_meter
    env.info = dataclasses.replace(env.info, attempt=attempt)
    return env


def test_retries_rejections_and_failures_are_counted_with_their_labels() -> None:
    buffer = MetricBuffer(1000)
    runtime = Runtime(telemetry=TelemetryConfig(metrics=buffer))
    _env(runtime, attempt=1).run(metrics.report_attempt, "NFRA")
    _env(runtime, attempt=3).run(metrics.report_attempt, "NFRA")
    _env(runtime).run(metrics.report_rejected, "FCA")
    _env(runtime).run(metrics.notification_failed, "sms")
    got = [(name, labels, value) for name, labels, value in _recorded(buffer) if name.startswith("complaints_")]
    assert [(n, {k: v for k, v in labels.items() if k in ("regulator", "channel")}, v) for n, labels, v in got] == [
        (REPORT_RETRIES.name, {"regulator": "NFRA"}, 1),
        (REPORT_REJECTIONS.name, {"regulator": "FCA"}, 1),
        (NOTIFICATION_FAILURES.name, {"channel": "sms"}, 1),
    ]


def test_outside_an_activity_nothing_is_recorded() -> None:
    metrics.notification_failed("email")  # a notifier used by a CLI command: no meter, no error

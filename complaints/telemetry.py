"""Metrics and traces (issue 17).

**Metrics.** The worker's Temporal runtime serves Prometheus at ``COMPLAINTS_METRICS_ADDRESS``
(``metrics_runtime``; the n-th of several workers on one machine at that port plus n - 1,
``instance_address``): the SDK's own series and the business metrics of ``domain.metrics``, which
workflows and activities record through the SDK's meters; ``open_complaints_gauge`` sets the
open complaints by status from the projection every few seconds.

**Traces.** OpenTelemetry through ``temporalio.contrib.opentelemetry``, off unless an exporter is
configured.

The standard OpenTelemetry variables choose it, so an operator sets what they already know:

- ``OTEL_TRACES_EXPORTER``: ``otlp`` (gRPC, to ``OTEL_EXPORTER_OTLP_ENDPOINT``, default
  ``http://localhost:4317``), ``console`` (spans printed as JSON, for a look), or ``none``/unset:
  no tracing, no interceptor, nothing changes.
- ``OTEL_SERVICE_NAME``: the service the spans belong to (default: the process's own name,
  ``complaints-worker`` or ``complaints-cli``).

One ``TracingInterceptor`` on the client (``complaints.temporal.connect``) traces the client's
calls (start, signal, update, query) and, because workers built on that client inherit it, the
workflow and its activities: one trace from an intake system's ``StartWorkflow`` through the
workflow's tasks to each activity. Workflow spans are instants (the interceptor ends them at once:
a workflow task may replay elsewhere); activity spans have their real duration. The tracer is
the process's own provider, not OpenTelemetry's global one, so nothing else in the process is
changed by turning it on.
"""

from __future__ import annotations

import asyncio
import atexit
import os
import sys
from functools import cache
from pathlib import Path

import structlog
from opentelemetry.sdk.resources import SERVICE_NAME, Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, ConsoleSpanExporter, SpanExporter
from opentelemetry.trace import Tracer
from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError
from temporalio.client import Interceptor
from temporalio.common import MetricMeter
from temporalio.contrib.opentelemetry import TracingInterceptor
from temporalio.runtime import PrometheusConfig, Runtime, TelemetryConfig

from db.operations import open_by_status
from domain import metrics
from models.complaint import CLOSED_STATUSES, Status

EXPORTERS = ("otlp", "console", "none")
OPEN_EVERY = 15.0  # seconds between two counts of the open complaints (one grouped query)


def metrics_runtime(address: str) -> Runtime:
    """A runtime serving Prometheus at ``address`` (host:port): give it to the worker's client."""
    return Runtime(telemetry=TelemetryConfig(metrics=PrometheusConfig(bind_address=address)))


def instance_address(address: str, instance: int) -> str:
    """The metrics address of the ``instance``-th (1, 2, …) of several workers on one machine:
    ``address``'s port plus ``instance`` - 1 (``make run WORKERS=3``: 9464, 9465, 9466)."""
    host, _, port = address.rpartition(":")
    if not host or not port.isdigit() or instance < 1:
        raise ValueError(f"metrics address {address!r} (host:port) of worker instance {instance} (1, 2, …)")
    return f"{host}:{int(port) + instance - 1}"


async def open_complaints_gauge(meter: MetricMeter, engine: Engine, every: float = OPEN_EVERY) -> None:
    """Set ``complaints_open{status}`` from the projection until cancelled. Every status is set,
    zero included, so a status that emptied shows 0 rather than its last count."""
    gauge = meter.create_gauge(metrics.OPEN.name, metrics.OPEN.description)
    while True:
        try:
            counts = await asyncio.to_thread(open_by_status, engine)
        except SQLAlchemyError as err:  # the database away a moment: the next count will do
            structlog.get_logger().warning("open complaints not counted", error=str(err))
        else:
            for status in Status:
                if status not in CLOSED_STATUSES:
                    gauge.set(counts.get(status.value, 0), {"status": status.value})
        await asyncio.sleep(every)


class TracingMisconfigured(ValueError):
    """``OTEL_TRACES_EXPORTER`` names no exporter this service has."""


def exporter_named(name: str) -> SpanExporter | None:
    """The span exporter ``OTEL_TRACES_EXPORTER`` names (None: tracing off)."""
    chosen = name.strip().lower()
    if chosen in ("", "none"):
        return None
    if chosen == "console":
        return ConsoleSpanExporter()
    if chosen == "otlp":
        from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter

        return OTLPSpanExporter()  # OTEL_EXPORTER_OTLP_ENDPOINT and its kin configure it
    raise TracingMisconfigured(f"OTEL_TRACES_EXPORTER={name!r}: use one of {', '.join(EXPORTERS)}")


def tracing_interceptors_for(tracer: Tracer) -> list[Interceptor]:
    """The client's interceptors that trace with ``tracer`` (a test's, or the process's)."""
    return [TracingInterceptor(tracer)]


@cache
def tracing_interceptors() -> tuple[Interceptor, ...]:
    """The interceptors the environment asks for: none unless an exporter is configured. Made once a
    process; spans still buffered are exported when it exits."""
    exporter = exporter_named(os.environ.get("OTEL_TRACES_EXPORTER", ""))
    if exporter is None:
        return ()
    service = os.environ.get("OTEL_SERVICE_NAME") or _process_service()
    provider = TracerProvider(resource=Resource.create({SERVICE_NAME: service}))
    provider.add_span_processor(BatchSpanProcessor(exporter))
    atexit.register(provider.shutdown)
    return tuple(tracing_interceptors_for(provider.get_tracer("complaints")))


def _process_service() -> str:
    program = Path(sys.argv[0]).stem if sys.argv and sys.argv[0] else ""
    return "complaints-cli" if program == "complaints" else "complaints-worker"

"""Traces (issue 17): off unless an exporter is configured; when on, one trace spans the intake
client's start, the complaint's workflow and its activities (through the real server, with an
in-memory exporter in place of OTLP)."""

from __future__ import annotations

import pytest
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import ConsoleSpanExporter, SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from sqlalchemy import Engine
from temporalio.client import Client

from complaints.telemetry import TracingMisconfigured, exporter_named, tracing_interceptors, tracing_interceptors_for
from domain.policy import PolicyStore
from models.complaint import Status
from tests.factories import intake_payload
from tests.helpers import eventually, own_worker, status_once


def test_no_exporter_means_no_tracing_and_a_wrong_name_is_an_error_naming_the_variable(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("OTEL_TRACES_EXPORTER", raising=False)
    tracing_interceptors.cache_clear()
    assert tracing_interceptors() == (), "no exporter configured: the client gets no interceptor"
    monkeypatch.setenv("OTEL_TRACES_EXPORTER", "console")
    tracing_interceptors.cache_clear()
    assert [type(i).__name__ for i in tracing_interceptors()] == ["TracingInterceptor"]
    tracing_interceptors.cache_clear()
    assert exporter_named("") is None and exporter_named("none") is None
    assert isinstance(exporter_named("console"), ConsoleSpanExporter)
    with pytest.raises(TracingMisconfigured, match="OTEL_TRACES_EXPORTER='jaeger': use one of otlp, console, none"):
        exporter_named("jaeger")


async def test_one_trace_spans_the_client_the_workflow_and_its_activities(
    client: Client, engine: Engine, policies: PolicyStore
) -> None:
    spans = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(spans))
    config = client.config()
    config["interceptors"] = tracing_interceptors_for(provider.get_tracer("test"))
    traced = Client(**config)  # the worker built on it inherits the interceptor

    async with own_worker(traced, engine, policies, prefix="traced") as intake:
        result = await intake.file(intake_payload("fees_and_interest"))
        assert result.complaint_id is not None, result.errors
        await status_once(intake.handle(result.complaint_id), {Status.IN_HANDLING})

        def names(trace_id: int) -> set[str]:
            return {s.name for s in spans.get_finished_spans() if s.context and s.context.trace_id == trace_id}

        start = next(s for s in spans.get_finished_spans() if s.name == "StartWorkflow:ComplaintWorkflow")
        assert start.attributes and start.attributes["temporalWorkflowID"] == f"complaint-{result.complaint_id}"
        trace_id = _trace_of(start)

        async def spanned() -> set[str] | None:
            got = names(trace_id)
            ran = {n.removeprefix("RunActivity:") for n in got if n.startswith("RunActivity:")}
            started = {n.removeprefix("StartActivity:") for n in got if n.startswith("StartActivity:")}
            done = "RunWorkflow:ComplaintWorkflow" in got and {"classify_complaint", "choose_handler"} <= ran & started
            return got if done else None

        got = await eventually(spanned, timeout=30, what="the workflow's and its activities' spans in one trace")
        assert "StartWorkflow:ComplaintWorkflow" in got
    provider.shutdown()


def _trace_of(span: ReadableSpan) -> int:
    assert span.context is not None
    return span.context.trace_id

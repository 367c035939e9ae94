"""One way to connect to Temporal, with the project's data converter (encrypting: complaints/codec.py)."""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

from temporalio.api.enums.v1 import IndexedValueType
from temporalio.api.operatorservice.v1 import (
    AddSearchAttributesRequest,
    ListSearchAttributesRequest,
)
from temporalio.client import Client
from temporalio.runtime import Runtime
from temporalio.service import RPCError, TLSConfig

from complaints.codec import data_converter
from complaints.config import Settings
from complaints.telemetry import tracing_interceptors
from models import search_attributes as sa


class TemporalUnreachable(RuntimeError):
    pass


def _tls(settings: Settings) -> bool | TLSConfig:
    if not (settings.tls or settings.tls_ca or settings.tls_cert):
        return False
    read = lambda path: Path(path).read_bytes() if path else None  # noqa: E731
    return TLSConfig(
        server_root_ca_cert=read(settings.tls_ca),
        client_cert=read(settings.tls_cert),
        client_private_key=read(settings.tls_key),
    )


async def connect(
    settings: Settings | None = None, *, wait_seconds: float = 0, runtime: Runtime | None = None
) -> Client:
    """Connect; with ``wait_seconds`` keep trying (the dev server may still be starting). ``runtime``:
    the worker's, serving metrics (``complaints.telemetry.metrics_runtime``); else the default."""
    settings = settings or Settings()
    deadline = asyncio.get_running_loop().time() + wait_seconds
    converter = data_converter(settings)  # encrypting when a key ring is configured
    while True:
        try:
            return await Client.connect(
                settings.temporal_address,
                namespace=settings.namespace,
                data_converter=converter,
                tls=_tls(settings),
                api_key=settings.api_key or None,
                interceptors=list(tracing_interceptors()),  # none unless OTEL_TRACES_EXPORTER names one
                runtime=runtime,
            )
        except RuntimeError as err:
            if asyncio.get_running_loop().time() >= deadline:
                raise TemporalUnreachable(
                    f"no Temporal server reachable at {settings.temporal_address} "
                    f"(namespace {settings.namespace}): {err}"
                ) from err
            await asyncio.sleep(0.5)


class SearchAttributesMissing(RuntimeError):
    pass


async def ensure_search_attributes(client: Client) -> list[str]:
    """Register the custom search attributes the namespace lacks; return the names added.

    `temporal server start-dev --search-attribute` registers them only when it creates its
    database, so a dev server whose state predates an attribute lacks it, and a workflow that
    sets an unregistered attribute fails its task until someone registers it.
    """
    listed = await client.operator_service.list_search_attributes(
        ListSearchAttributesRequest(namespace=client.namespace)
    )
    missing = {
        k.name: IndexedValueType.ValueType(k.indexed_value_type)
        for k in sa.ALL
        if k.name not in listed.custom_attributes
    }
    if not missing:
        return []
    try:
        await client.operator_service.add_search_attributes(
            AddSearchAttributesRequest(namespace=client.namespace, search_attributes=missing)
        )
    except RPCError as err:
        flags = " ".join(f for f in sa.dev_server_flags() if any(name in f for name in missing))
        raise SearchAttributesMissing(
            f"namespace {client.namespace} lacks the search attributes {', '.join(sorted(missing))} and they "
            f"cannot be registered from here ({err.message}); register them ({flags}) and start the worker again"
        ) from err
    return sorted(missing)


def exit_process(code: int) -> None:
    """End a process that used the Temporal client, skipping interpreter finalization.

    The SDK's Rust bridge threads can touch the GIL while CPython finalizes and crash the
    process after its work is done (temporalio/sdk-python#300; seen here in about 1 run
    in 30 of a short client script). Call it last, after everything is flushed and closed.
    """
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)

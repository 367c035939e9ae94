"""Connecting to Temporal: search attributes a server's older state lacks are registered."""

from __future__ import annotations

from pathlib import Path

import pytest
from temporalio.api.operatorservice.v1 import ListSearchAttributesRequest

from complaints.devserver import temporal_binary
from complaints.temporal import ensure_search_attributes
from models import search_attributes as sa
from tests.conftest import free_port
from tests.helpers import dev_server_process


@pytest.mark.timeout(90)
async def test_a_dev_server_state_from_before_an_attribute_gets_it_registered(tmp_path: Path) -> None:
    # `start-dev --search-attribute` only registers on a new database: simulate an old one.
    port = free_port()
    command = [
        temporal_binary(),
        "server",
        "start-dev",
        "--headless",
        "--ip",
        "127.0.0.1",
        "--port",
        str(port),
        "--db-filename",
        str(tmp_path / "old.db"),
        "--log-level",
        "error",
        "--search-attribute",
        "ComplaintStatus=Keyword",
    ]
    async with dev_server_process(command, port) as client:
        added = await ensure_search_attributes(client)

        assert added == sorted(k.name for k in sa.ALL if k.name != "ComplaintStatus")
        listed = await client.operator_service.list_search_attributes(ListSearchAttributesRequest(namespace="default"))
        assert {k.name for k in sa.ALL} <= set(listed.custom_attributes)
        assert await ensure_search_attributes(client) == [], "a second start adds nothing"

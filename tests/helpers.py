"""Polling and history helpers for tests against the real server."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

import pytest
from sqlalchemy import Engine
from sqlmodel import Session, select
from temporalio.client import WorkflowHandle

from db.tables import Complaint, ComplaintEventRow, OutboxMessage
from models.complaint import ComplaintStatusQuery, Status
from workflows.complaint import ComplaintWorkflow

T = TypeVar("T")
HISTORIES = Path(__file__).parent / "histories"


async def eventually(probe: Callable[[], Awaitable[T | None]], *, timeout: float = 30, what: str = "condition") -> T:
    """Poll ``probe`` until it returns something truthy."""
    deadline = time.monotonic() + timeout
    last: T | None = None
    while time.monotonic() < deadline:
        last = await probe()
        if last:
            return last
        await asyncio.sleep(0.2)
    raise AssertionError(f"timed out after {timeout}s waiting for {what} (last: {last!r})")


async def status_once(handle: WorkflowHandle, statuses: set[Status], timeout: float = 30) -> ComplaintStatusQuery:
    async def probe() -> ComplaintStatusQuery | None:
        answer = await handle.query(ComplaintWorkflow.status)
        return answer if answer.snapshot.status in statuses else None

    return await eventually(probe, timeout=timeout, what=f"status in {sorted(statuses)}")


def complaint_row(engine: Engine, complaint_id: str) -> Complaint | None:
    with Session(engine) as session:
        return session.get(Complaint, complaint_id)


def event_kinds(engine: Engine, complaint_id: str) -> list[str]:
    with Session(engine) as session:
        rows = session.exec(
            select(ComplaintEventRow).where(ComplaintEventRow.complaint_id == complaint_id).order_by(ComplaintEventRow.seq)
        ).all()
        return [r.kind for r in rows]


def outbox(engine: Engine, complaint_id: str, kind: str | None = None) -> list[OutboxMessage]:
    """Messages sent about a complaint, oldest first (of one kind, if given)."""
    with Session(engine) as session:
        query = select(OutboxMessage).where(OutboxMessage.complaint_id == complaint_id)
        if kind:
            query = query.where(OutboxMessage.kind == kind)
        return list(session.exec(query.order_by(OutboxMessage.id)).all())


async def save_history(request: pytest.FixtureRequest, handle: WorkflowHandle, name: str) -> None:
    """With ``--record-histories``, keep this run's history for the replay test."""
    if not request.config.getoption("--record-histories"):
        return
    history = await handle.fetch_history()
    HISTORIES.mkdir(exist_ok=True)
    (HISTORIES / f"{name}.json").write_text(history.to_json(), encoding="utf-8")


async def projected(engine: Engine, complaint_id: str, kind: str, timeout: float = 30) -> list[str]:
    """Wait until the audit log holds an event of ``kind`` (the projection trails the workflow)."""

    async def probe() -> list[str] | None:
        kinds = event_kinds(engine, complaint_id)
        return kinds if kind in kinds else None

    return await eventually(probe, timeout=timeout, what=f"event {kind!r} of {complaint_id} in the database")


async def file_assigned(service: Any, category: str, **overrides: Any) -> tuple[str, str]:
    """File a complaint and wait until a handler holds it: (complaint id, handler)."""
    from tests.factories import intake_payload

    result = await service.intake.file(intake_payload(category, **overrides))
    state = await status_once(service.intake.handle(result.complaint_id), {Status.IN_HANDLING})
    return result.complaint_id, state.snapshot.assignee


async def state_of(service: Any, complaint_id: str) -> ComplaintStatusQuery:
    return await service.intake.handle(complaint_id).query(ComplaintWorkflow.status)

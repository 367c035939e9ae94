"""Logging customer education actions (client plumbing; step 5).

``record_action`` checks an action against the staff directory and the policy, then writes it
to ``education_actions``: the recorder exists, is active and has one of the policy's
``education.recorder_roles``; the product is in the policy's catalogue (or ``unspecified``);
the topic is a complaint category (the request's model); the day is not in the future. The
same action logged twice (product, topic, kind, day and title) is recorded once.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from sqlalchemy import Engine
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, select
from temporalio.client import Client

from complaints.intake import ActionRefused, StaffNotFound
from complaints.keys import KeyFileSigner
from db.tables import EducationActionRow, Staff
from models.education import UNSPECIFIED, EducationAction, EducationActionRequest, EducationLogResult
from models.policy import Policy


class EducationActionInvalid(ValueError):
    """A field's value the policy does not accept; the message starts with the field's name."""


def check(request: EducationActionRequest, policy: Policy, now: datetime | None = None) -> None:
    """What the policy says of the request's product and day (EducationActionInvalid naming the field)."""
    known = [p.code for p in policy.reporting.products]
    if request.product != UNSPECIFIED and request.product not in known:
        raise EducationActionInvalid(
            f"product: {request.product!r} is not in the policy's catalogue ({', '.join([*known, UNSPECIFIED])})"
        )
    today = (now or datetime.now(UTC)).astimezone(ZoneInfo(policy.timezone)).date()
    if request.held_on > today:
        raise EducationActionInvalid(f"held_on: {request.held_on} lies in the future (today is {today})")


def record_action(
    engine: Engine, policy: Policy, request: EducationActionRequest, now: datetime | None = None
) -> tuple[EducationAction, bool]:
    """Record the action; (the action as recorded, whether this call recorded it)."""
    check(request, policy, now)
    with Session(engine) as session:
        member = session.get(Staff, request.recorded_by)
        if member is None or not member.active:
            raise StaffNotFound(f"recorded_by: no staff member {request.recorded_by} in the staff directory")
        allowed = [r.value for r in policy.education.recorder_roles]
        if member.role not in allowed:
            raise ActionRefused(
                f"recorded_by: {request.recorded_by} is a {member.role.replace('_', ' ')}; "
                f"education actions are logged by {', '.join(allowed)}"
            )
    found = _existing(engine, request)
    if found is not None:
        return found, False
    row = EducationActionRow(
        **request.model_dump(mode="python", exclude={"topic", "kind", "signature"}),
        topic=request.topic.value,
        kind=request.kind.value,
        recorded_at=now or datetime.now(UTC),
    )
    try:
        with Session(engine) as session:
            session.add(row)
            session.commit()
            session.refresh(row)
    except IntegrityError:
        found = _existing(engine, request)  # logged meanwhile by another call
        if found is None:
            raise
        return found, False
    return EducationAction.model_validate(row.model_dump()), True


LOG_WORKFLOW = "EducationLogWorkflow"  # workflows/step5_education.py (by name: it imports this module's rules)
LOG_ACTION = "log_education"


async def log_education(
    client: Client, task_queue: str, request: EducationActionRequest, signer: KeyFileSigner | None = None
) -> EducationLogResult:
    """Log an action through the worker, signed with the recorder's key: ``EducationLogWorkflow``
    checks the signature, then the recorder's role and the policy, and logs it once."""
    workflow_id = f"education-log-{uuid.uuid4()}"
    signed = (signer or KeyFileSigner()).sign_as(request.recorded_by, workflow_id, LOG_ACTION, request)
    result: EducationLogResult = await client.execute_workflow(
        LOG_WORKFLOW,
        signed,
        id=workflow_id,
        task_queue=task_queue,
        result_type=EducationLogResult,
        static_summary=f"{request.recorded_by} logs a {request.kind.value} on {request.product}",
    )
    return result


def _existing(engine: Engine, request: EducationActionRequest) -> EducationAction | None:
    with Session(engine) as session:
        row = session.exec(
            select(EducationActionRow).where(
                EducationActionRow.product == request.product,
                EducationActionRow.topic == request.topic.value,
                EducationActionRow.kind == request.kind.value,
                EducationActionRow.held_on == request.held_on,
                EducationActionRow.title == request.title,
            )
        ).first()
    return EducationAction.model_validate(row.model_dump()) if row is not None else None

"""A structlog logger bound to the running activity's complaint and workflow."""

from __future__ import annotations

import structlog
from temporalio import activity


def activity_logger(complaint_id: str) -> structlog.stdlib.BoundLogger:
    info = activity.info()
    return structlog.get_logger().bind(
        complaint_id=complaint_id,
        workflow_id=info.workflow_id,
        activity=info.activity_type,
        attempt=info.attempt,
    )

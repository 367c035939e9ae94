"""A structlog logger bound to the running activity: its workflow, its attempt and the business ids."""

from __future__ import annotations

import structlog
from temporalio import activity


def bound_logger(**ids: str | None) -> structlog.stdlib.BoundLogger:
    """Bound to ``ids`` (a review, an incident, a recall and its customer, ...) and the activity."""
    info = activity.info()
    return structlog.get_logger().bind(
        **ids, workflow_id=info.workflow_id, activity=info.activity_type, attempt=info.attempt
    )


def activity_logger(complaint_id: str) -> structlog.stdlib.BoundLogger:
    return bound_logger(complaint_id=complaint_id)

"""Activity options the workflows share, and the one way the cross-complaint workflows call an activity."""

from collections.abc import Callable
from datetime import timedelta
from typing import Any

from temporalio import workflow
from temporalio.common import RetryPolicy

# Bad data or a missing policy version will not heal by retrying; a database outage will.
RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=1),
    backoff_coefficient=2.0,
    maximum_interval=timedelta(minutes=1),
    non_retryable_error_types=["PolicyError", "ValidationError", "TemplateError", "UndefinedError"],
)
ACTIVITY_TIMEOUT = timedelta(seconds=30)


async def call(method: Callable[..., Any], arg: Any, *, summary: str, timeout: timedelta = ACTIVITY_TIMEOUT) -> Any:
    """An activity by method reference, with the shared timeout and retry policy and a summary the
    Web UI shows on the event."""
    return await workflow.execute_activity_method(
        method, arg, start_to_close_timeout=timeout, retry_policy=RETRY, summary=summary
    )

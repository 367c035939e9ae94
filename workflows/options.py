"""Activity options both workflows share."""

from datetime import timedelta

from temporalio.common import RetryPolicy

# Bad data or a missing policy version will not heal by retrying; a database outage will.
RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=1),
    backoff_coefficient=2.0,
    maximum_interval=timedelta(minutes=1),
    non_retryable_error_types=["PolicyError", "ValidationError", "TemplateError", "UndefinedError"],
)
ACTIVITY_TIMEOUT = timedelta(seconds=30)

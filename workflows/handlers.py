"""What every staff-action handler shares: re-checking the validator once the handler runs."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from temporalio.exceptions import ApplicationError

from domain.rules import Refused


def recheck(validator: Callable[[Any], None], request: Any) -> None:
    """Updates accepted together may both pass their validators; the handler checks again."""
    try:
        validator(request)
    except Refused as err:
        raise ApplicationError(str(err), type=type(err).__name__, non_retryable=True) from err

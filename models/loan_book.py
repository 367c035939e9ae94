"""What the lending systems send about a customer (step 5: risk early warning).

One signal is one source record: ``(source_system, source_record_id)`` is its idempotency key.
Each kind carries its own figures, as a discriminated union on ``kind`` (like the intake's
``details.category``), so a refusal names the missing field, e.g. ``days_past_due.days``.
"""

from __future__ import annotations

import re
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import BeforeValidator, Field, RootModel, model_validator

from models.intake import KEEPABLE, Amount, Code, CurrencyCode, Moment, StrictModel

Note = Annotated[str, Field(min_length=1, max_length=500), KEEPABLE]
# A credit rating grade as the lending system writes it: AAA, BB+, Baa2, B-, 5 ...
Rating = Annotated[str, Field(min_length=1, max_length=8, pattern=r"^[A-Za-z0-9+-]+$"), KEEPABLE]


def _whole_number(value: object) -> object:
    """A count of days: a JSON integer, or (from CSV) a string of digits; never 1.5, true or "30 days"."""
    if isinstance(value, bool) or isinstance(value, float):
        raise ValueError("a whole number of days is expected, e.g. 45")
    if isinstance(value, str):
        if not re.fullmatch(r"\s*[+-]?\d{1,6}\s*", value):
            raise ValueError("a whole number of days is expected, e.g. 45")
        return int(value)
    return value


Days = Annotated[int, BeforeValidator(_whole_number), Field(ge=0, le=100_000)]

# The rating scale the rules count notches on, best first (an unknown grade counts no notches).
RATING_SCALE = [
    "AAA", "AA+", "AA", "AA-", "A+", "A", "A-", "BBB+", "BBB", "BBB-",
    "BB+", "BB", "BB-", "B+", "B", "B-", "CCC+", "CCC", "CCC-", "CC", "C", "D",
]  # fmt: skip


# The lending systems' clocks may run a little ahead of ours: a signal observed up to this far
# ahead is taken (and scored as of now), one further ahead is refused.
MAX_CLOCK_SKEW_SECONDS = 300


class SignalKind(StrEnum):
    DAYS_PAST_DUE = "days_past_due"
    RESTRUCTURING = "restructuring"
    COVENANT_BREACH = "covenant_breach"
    RATING_CHANGE = "rating_change"
    DRAWDOWN_REFUSED = "drawdown_refused"
    CONTRACT = "contract"  # who holds a contract on which product (step 6.2: recalls); not scored


class ContractStatus(StrEnum):
    ACTIVE = "active"
    CLOSED = "closed"


class _Signal(StrictModel):
    source_system: Code
    source_record_id: Annotated[str, Field(min_length=1, max_length=128), KEEPABLE]
    customer_id: Code
    observed_at: Moment
    note: Note | None = None


class DaysPastDue(_Signal):
    kind: Literal[SignalKind.DAYS_PAST_DUE]
    days: Days
    contract_number: Code | None = None


class Restructuring(_Signal):
    kind: Literal[SignalKind.RESTRUCTURING]
    contract_number: Code | None = None


class CovenantBreach(_Signal):
    kind: Literal[SignalKind.COVENANT_BREACH]
    covenant: Annotated[str, Field(min_length=1, max_length=200), KEEPABLE] | None = None
    contract_number: Code | None = None


class RatingChange(_Signal):
    kind: Literal[SignalKind.RATING_CHANGE]
    from_rating: Rating
    to_rating: Rating

    @model_validator(mode="after")
    def _changed(self) -> RatingChange:
        if self.from_rating == self.to_rating:
            raise ValueError("to_rating: the same as from_rating (a rating change must change the rating)")
        return self


class DrawdownRefused(_Signal):
    kind: Literal[SignalKind.DRAWDOWN_REFUSED]
    amount: Amount
    currency: CurrencyCode = "CNY"
    contract_number: Code | None = None


class ContractHeld(_Signal):
    """The customer holds (or held) ``contract_number`` on ``product``, a code of the policy's
    catalogue (``reporting.products``). A recall of the product reaches every holder; the risk
    score does not read these."""

    kind: Literal[SignalKind.CONTRACT]
    contract_number: Code
    product: Code
    status: ContractStatus = ContractStatus.ACTIVE


LoanBookSignalType = Annotated[
    DaysPastDue | Restructuring | CovenantBreach | RatingChange | DrawdownRefused | ContractHeld,
    Field(discriminator="kind"),
]


class LoanBookSignal(RootModel[LoanBookSignalType]):
    """Any one signal: ``LoanBookSignal.model_validate(row).root``."""


def notches_down(from_rating: str, to_rating: str) -> int:
    """How many notches the rating fell on RATING_SCALE (0 when it rose or a grade is unknown)."""
    scale = {r: i for i, r in enumerate(RATING_SCALE)}
    a, b = scale.get(from_rating.upper()), scale.get(to_rating.upper())
    if a is None or b is None:
        return 0
    return max(0, b - a)


def figures_of(signal: LoanBookSignalType) -> dict[str, Any]:
    """The kind's own figures, as stored in the row's ``figures`` column (JSON)."""
    skip = {"source_system", "source_record_id", "customer_id", "observed_at", "note", "kind"}
    return signal.model_dump(mode="json", exclude=skip, exclude_none=True)

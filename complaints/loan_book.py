"""The typed helper lending systems use to send loan-book signals (step 5).

    from complaints.loan_book import LoanBookClient
    book = LoanBookClient(engine, client, task_queue="complaints")
    result = await book.submit(rows)       # dicts, as JSON Lines or CSV rows give them
    print(result.outcome, result.stored, result.errors)

Every row is validated before anything is written: one refused row refuses the whole batch,
each refusal naming its row and field (``row 3: days_past_due.days: ...``). A batch that passes
is stored in one transaction, one row per source record (``source_system``,
``source_record_id``): a record sent again with the same content changes nothing; with other
content it is refused, naming the record (rows are never updated, history is kept). Then every
customer with a new record is scored, and over the threshold their early warning opens or is
joined (without a Temporal client, scoring is left to the caller: ``evaluated`` stays empty).
"""

from __future__ import annotations

import csv
import json
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from pathlib import Path
from typing import Any

from pydantic import BaseModel, TypeAdapter, ValidationError
from sqlalchemy import Engine, tuple_
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select
from temporalio.client import Client

from complaints.intake import describe_validation_error, policy_in_force
from complaints.risk import evaluate_and_warn
from db.tables import LoanBookSignalRow, utc_now
from models.loan_book import MAX_CLOCK_SKEW_SECONDS, LoanBookSignalType, SignalKind, figures_of
from models.policy import Policy

_ADAPTER: TypeAdapter[LoanBookSignalType] = TypeAdapter(LoanBookSignalType)
KINDS = [k.value for k in SignalKind]


class SubmitOutcome(StrEnum):
    STORED = "stored"
    REFUSED = "refused"


class CustomerRisk(BaseModel):
    customer_id: str
    points: int
    threshold: int
    warning: str  # opened_or_joined, joined, none


class SubmitResult(BaseModel):
    outcome: SubmitOutcome
    received: int = 0
    stored: int = 0  # new source records
    unchanged: int = 0  # sent before with the same content
    errors: list[str] = []
    evaluated: list[CustomerRisk] = []


def validate_rows(
    rows: Sequence[Mapping[str, Any]], now: datetime | None = None
) -> tuple[list[LoanBookSignalType], list[str]]:
    """The signals, and every refusal as ``row N: field: why`` (rows count from 1)."""
    latest = (now or datetime.now(UTC)) + timedelta(seconds=MAX_CLOCK_SKEW_SECONDS)
    signals: list[LoanBookSignalType] = []
    errors: list[str] = []
    seen: dict[tuple[str, str], int] = {}
    for n, row in enumerate(rows, start=1):
        if not isinstance(row, Mapping):
            errors.append(f"row {n}: expected an object, got {type(row).__name__}")
            continue
        kind = row.get("kind")
        if kind not in KINDS:
            known = ", ".join(KINDS)
            errors.append(
                f"row {n}: kind: " + (f"{kind!r} is not one of {known}" if kind else f"missing (one of {known})")
            )
            continue
        try:
            signal = _ADAPTER.validate_python(dict(row))
        except ValidationError as err:
            # The union's tag leads each error's path (``days_past_due.days``): the row's kind says it.
            errors += [f"row {n}: {_untagged(problem, kind)}" for problem in describe_validation_error(err)]
            continue
        if signal.observed_at > latest:
            errors.append(
                f"row {n}: observed_at: {signal.observed_at.isoformat()} is in the future "
                "(a signal reports what was observed, not what is expected)"
            )
            continue
        key = (signal.source_system, signal.source_record_id)
        if key in seen and _content(signals[seen[key]]) != _content(signal):
            errors.append(
                f"row {n}: source_record_id: {signal.source_system}/{signal.source_record_id} "
                f"is also row {seen[key] + 1} with other content"
            )
            continue
        seen.setdefault(key, len(signals))
        signals.append(signal)
    return signals, errors


def _untagged(problem: str, kind: str) -> str:
    return problem.removeprefix(f"{kind}.").removeprefix(f"{kind}: ")


def _content(signal: LoanBookSignalType) -> dict[str, Any]:
    return signal.model_dump(mode="json")


def _stored_content(row: LoanBookSignalRow) -> dict[str, Any]:
    return {
        "source_system": row.source_system,
        "source_record_id": row.source_record_id,
        "customer_id": row.customer_id,
        "kind": row.kind,
        "observed_at": row.observed_at,
        "note": row.note,
        "figures": row.figures,
    }


def _signal_content(signal: LoanBookSignalType) -> dict[str, Any]:
    return {
        "source_system": signal.source_system,
        "source_record_id": signal.source_record_id,
        "customer_id": signal.customer_id,
        "kind": signal.kind.value,
        "observed_at": signal.observed_at,
        "note": signal.note,
        "figures": figures_of(signal),
    }


def _same(stored: dict[str, Any], sent: dict[str, Any]) -> bool:
    def norm(d: dict[str, Any]) -> dict[str, Any]:
        at = d["observed_at"]
        return {**d, "observed_at": at.timestamp() if isinstance(at, datetime) else at}

    return norm(stored) == norm(sent)


class LoanBookClient:
    def __init__(
        self, engine: Engine, client: Client | None = None, task_queue: str = "complaints", policy: Policy | None = None
    ) -> None:
        self._engine = engine
        self._client = client
        self._task_queue = task_queue
        self._policy = policy  # None: the policy in force (COMPLAINTS_POLICY)

    async def submit(self, rows: Sequence[Mapping[str, Any]]) -> SubmitResult:
        signals, errors = validate_rows(rows)
        if errors:
            return SubmitResult(outcome=SubmitOutcome.REFUSED, received=len(rows), errors=errors)
        try:
            new, unchanged, errors = self._store(signals)
        except IntegrityError:  # a concurrent batch stored one of these records first: compare again
            new, unchanged, errors = self._store(signals)
        if errors:
            return SubmitResult(outcome=SubmitOutcome.REFUSED, received=len(rows), errors=errors)
        stored = len(new)
        result = SubmitResult(outcome=SubmitOutcome.STORED, received=len(rows), stored=stored, unchanged=unchanged)
        if self._client is not None:  # only customers with something new: a feed sent again changes nothing
            policy = self._policy or policy_in_force()
            scored = {s.customer_id for s in new if s.kind != SignalKind.CONTRACT}  # contracts are not risk
            for customer_id in sorted(scored):
                evaluation = await evaluate_and_warn(self._client, self._task_queue, self._engine, customer_id, policy)
                result.evaluated.append(
                    CustomerRisk(
                        customer_id=customer_id,
                        points=evaluation.score.points,
                        threshold=evaluation.score.threshold,
                        warning=evaluation.warning,
                    )
                )
        return result

    def _store(self, signals: list[LoanBookSignalType]) -> tuple[list[LoanBookSignalType], int, list[str]]:
        """(new, how many unchanged, refusals): all written in one transaction, or none."""
        unique = {(s.source_system, s.source_record_id): s for s in signals}
        received_at = utc_now()
        with Session(self._engine) as session:
            existing = {
                (r.source_system, r.source_record_id): r
                for chunk in _chunks(list(unique), 200)
                for r in session.exec(
                    select(LoanBookSignalRow).where(
                        tuple_(col(LoanBookSignalRow.source_system), col(LoanBookSignalRow.source_record_id)).in_(chunk)
                    )
                ).all()
            }
            errors: list[str] = []
            new: list[LoanBookSignalType] = []
            for key, signal in unique.items():
                row = existing.get(key)
                if row is None:
                    new.append(signal)
                elif not _same(_stored_content(row), _signal_content(signal)):
                    errors.append(
                        f"record {key[0]}/{key[1]}: already received {row.received_at.isoformat()} with other "
                        "content; a record is never changed: send a new source_record_id"
                    )
            if errors:
                return [], 0, errors
            for signal in new:
                session.add(
                    LoanBookSignalRow(
                        source_system=signal.source_system,
                        source_record_id=signal.source_record_id,
                        customer_id=signal.customer_id,
                        kind=signal.kind.value,
                        observed_at=signal.observed_at,
                        figures=figures_of(signal),
                        note=signal.note,
                        received_at=received_at,
                    )
                )
            session.commit()
        return new, len(unique) - len(new), []


def _chunks(items: list[Any], size: int) -> list[list[Any]]:
    return [items[i : i + size] for i in range(0, len(items), size)]


# -- reading a feed file ----------------------------------------------------------------------


class FeedError(ValueError):
    """The file cannot be read as a feed (not the rows' content: that is validation's)."""


def read_feed(path: Path) -> list[Any]:
    """The rows of a ``.jsonl`` or ``.csv`` feed (by extension); CSV's empty cells are absent fields."""
    suffix = path.suffix.lower()
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as err:
        raise FeedError(f"{path}: cannot be read: {err}") from err
    if suffix == ".jsonl":
        rows: list[Any] = []
        for n, line in enumerate(text.splitlines(), start=1):
            if not line.strip():
                continue
            try:
                rows.append(json.loads(line))
            except json.JSONDecodeError as err:
                raise FeedError(f"{path}: line {n} is not JSON: {err.msg}") from err
        return rows
    if suffix == ".csv":
        reader = csv.DictReader(text.splitlines())
        out: list[Any] = []
        for record in reader:
            if None in record:
                raise FeedError(f"{path}: line {reader.line_num} has more cells than the header")
            out.append({k: v for k, v in record.items() if k is not None and v not in (None, "")})
        return out
    raise FeedError(f"{path}: a feed is .jsonl or .csv (by its extension), not {suffix or 'no extension'}")

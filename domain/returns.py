"""The regulators' periodic returns: their rows, validated against the schemas in models/returns.

Pure rules, no database: db/returns_queries.py selects and groups, hands each complaint (or each
group's tally) to a row builder here, and validates the rows before anything is written, so a
file that fails its schema never exists. What counts as *upheld* is decided once, by
``upheld``, for every return. Dates are the policy's: a complaint received at 23:30 in its time
zone on 31 October is October's.
"""

from __future__ import annotations

import csv
import io
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from functools import cache
from typing import Any
from zoneinfo import ZoneInfo

from jsonschema import Draft202012Validator
from jsonschema.exceptions import ValidationError, best_match

from domain.calendar import add_limit
from models.analysis import Product, ReturnKind
from models.complaint import CLOSED_STATUSES, Status
from models.policy import Policy, TimeLimit, TimeUnit
from models.returns import load_schema

Row = dict[str, Any]

SUMMARY_RESOLUTION = TimeLimit(amount=3, unit=TimeUnit.BUSINESS_DAYS)  # FCA DISP 1.5
FINAL_RESPONSE = timedelta(weeks=8)  # FCA DISP 1.6
MAIN_CAUSES = 3
CENT = Decimal("0.01")


class ReturnInvalid(ValueError):
    """A row its return's schema refuses: which return, row (1-based), row id and field."""

    def __init__(self, kind: str, row: int, row_id: str, field: str, message: str) -> None:
        self.kind, self.row, self.row_id, self.field, self.message = kind, row, row_id, field, message
        super().__init__(f"{kind} row {row} ({row_id}): field {field!r}: {message}")

    def __reduce__(self) -> tuple[Any, ...]:
        # Rebuilt from its parts (not from str()), so it survives pickling and copying.
        return (type(self), (self.kind, self.row, self.row_id, self.field, self.message))


# ---- the schemas ---------------------------------------------------------------------------


def columns(kind: ReturnKind | str) -> list[str]:
    """The return's columns in the schema's (and the CSV's) order."""
    return list(load_schema(str(kind))["properties"])


@cache
def _validator(kind: str) -> Draft202012Validator:
    schema = load_schema(kind)
    Draft202012Validator.check_schema(schema)
    return Draft202012Validator(schema, format_checker=Draft202012Validator.FORMAT_CHECKER)


def _field_of(error: ValidationError, row: Mapping[str, Any], schema: Mapping[str, Any]) -> str:
    """The column an error is about; a missing or unknown column is named from the row."""
    if error.absolute_path:
        return str(error.absolute_path[0])
    if error.validator == "required":
        required = error.validator_value if isinstance(error.validator_value, list) else []
        return next((name for name in required if name not in row), "?")
    if error.validator == "additionalProperties":
        return next((name for name in row if name not in schema["properties"]), "?")
    return "?"


def validate(kind: ReturnKind | str, rows: Iterable[Mapping[str, Any]]) -> None:
    """Raise ``ReturnInvalid`` for the first row the return's schema refuses (its most relevant error)."""
    kind = str(kind)
    schema, validator = load_schema(kind), _validator(kind)
    id_column = schema.get("x-row-id", "")
    for number, row in enumerate(rows, start=1):
        error = best_match(validator.iter_errors(row))
        if error is not None:
            row_id = str(row.get(id_column) or "?") if isinstance(row, Mapping) else "?"
            raise ReturnInvalid(kind, number, row_id, _field_of(error, row, schema), error.message)


def _cell(value: Any, separator: str) -> str:
    if value is None:
        return ""
    if isinstance(value, list | tuple):
        return separator.join(str(v) for v in value)
    return str(value)


def to_csv(kind: ReturnKind | str, rows: Iterable[Mapping[str, Any]]) -> str:
    """The rows as CSV: a header, the schema's column order, lists joined by its separator."""
    schema = load_schema(str(kind))
    names, separator = columns(kind), schema.get("x-list-separator", ";")
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(names)
    for row in rows:
        writer.writerow([_cell(row.get(name), separator) for name in names])
    return out.getvalue()


# ---- one rule for "upheld" -----------------------------------------------------------------


def upheld_causes(policy: Policy) -> frozenset[str]:
    """Root causes that find the firm at fault, in whole or part (``RootCause.upheld``)."""
    return frozenset(cause.code for cause in policy.root_causes if cause.upheld)


def upheld(status: str, root_cause: str | None, remedy_paid: Decimal | None, policy: Policy) -> bool:
    """Whether a complaint counts as upheld in the returns (FCA: partly upheld is upheld).

    Only a closed complaint is upheld. Its root cause decides: one the policy marks upheld (the
    firm at fault). A remedy paid on a cause that finds no fault is a goodwill payment, which
    DISP 1 Annex 1's notes count as rejected. Where no root cause was recorded (complaints closed
    before root causes were), a remedy paid counts as upheld. A withdrawn complaint never is.
    """
    if status not in CLOSED_STATUSES or status == Status.WITHDRAWN:
        return False
    if root_cause is not None:
        return root_cause in upheld_causes(policy)
    return remedy_paid is not None and remedy_paid > 0


# ---- what a query hands over ---------------------------------------------------------------


@dataclass(frozen=True)
class ComplaintRecord:
    """One complaint as the period's end saw it: ``closed_at`` is None unless closed by then."""

    complaint_id: str
    channel: str
    category: str
    status: str
    received_at: datetime
    closed_at: datetime | None
    product: str | None
    root_cause: str | None = None
    remedy_paid: Decimal | None = None
    reopened_count: int = 0
    decision_breached: bool = False
    flags: tuple[str, ...] = ()  # the intake's flags (default_notice, hardship)

    def upheld(self, policy: Policy) -> bool:
        return self.closed_at is not None and upheld(self.status, self.root_cause, self.remedy_paid, policy)

    def remedy(self) -> Decimal | None:
        """The remedy paid, to the cent, when there was one (and the complaint is closed)."""
        if self.closed_at is None or self.remedy_paid is None or self.remedy_paid <= 0:
            return None
        return self.remedy_paid.quantize(CENT)


def product_of(code: str | None, policy: Policy) -> Product:
    """The catalogue's product, or the model's defaults ("other") for a missing or unknown code."""
    return policy.reporting.product(code) or Product(code="other", label="Other")


def local_date(moment: datetime, policy: Policy) -> date:
    return moment.astimezone(ZoneInfo(policy.timezone)).date()


# ---- ASIC IDR data: one row per complaint --------------------------------------------------

ASIC_METHOD = {
    "phone": "Phone",
    "email": "Email",
    "web_platform": "Online",
    "app": "App",
    "letter": "Letter",
    "in_person": "In person",
    "regulator_referral": "Referred by a regulator",
}
ASIC_ISSUE = {
    "contract_dispute": "Contract terms",
    "service_attitude": "Service quality",
    "fees_and_interest": "Fees and charges",
    "repayment_collection": "Debt collection",
    "privacy": "Privacy and confidentiality",
    "product_design": "Product design",
}


ASIC_SHORTER_TIMEFRAME = frozenset({"default_notice", "hardship"})  # RG 271: 21 calendar days


def asic_complaint_type(flags: Iterable[str]) -> str:
    """The complaint's type by the IDR timeframe RG 271 gives it: a default notice or hardship, or standard."""
    return "Default notice or hardship" if ASIC_SHORTER_TIMEFRAME.intersection(flags) else "Standard"


def _asic_outcome(rec: ComplaintRecord, policy: Policy) -> str | None:
    if rec.closed_at is None:
        return None
    if rec.status == Status.WITHDRAWN:
        return "Complaint withdrawn"
    if rec.remedy() is not None:
        return "Monetary remedy"
    return "Non-monetary remedy" if rec.upheld(policy) else "Explanation provided"


def asic_row(rec: ComplaintRecord, policy: Policy) -> Row:
    received = local_date(rec.received_at, policy)
    closed = local_date(rec.closed_at, policy) if rec.closed_at else None
    return {
        "complaint_id": rec.complaint_id,
        "complaint_type": asic_complaint_type(rec.flags),
        "status": "Closed" if closed else "Open",
        "received_method": ASIC_METHOD.get(rec.channel, "Other"),
        "date_received": received.isoformat(),
        "date_closed": closed.isoformat() if closed else None,
        "days_to_resolve": (closed - received).days if closed else None,
        "products": [product_of(rec.product, policy).asic_product],
        "issues": [ASIC_ISSUE.get(rec.category, "Other")],
        "outcome": _asic_outcome(rec, policy),
        "monetary_remedy": rec.remedy(),
    }


# ---- CFPB-shaped export: one row per complaint received ------------------------------------

CFPB_SUBMITTED_VIA = {
    "phone": "Phone",
    "email": "Email",
    "web_platform": "Web",
    "app": "Web",
    "letter": "Postal mail",
    "in_person": "In person",
    "regulator_referral": "Referral",
}
CFPB_ISSUE = {
    "contract_dispute": "Problem with the terms of the loan",
    "service_attitude": "Problem with customer service",
    "fees_and_interest": "Fees or interest",
    "repayment_collection": "Debt collection practices",
    "privacy": "Privacy or data security",
    "product_design": "Problem with the product's design",
}


def _cfpb_response(rec: ComplaintRecord, policy: Policy) -> str:
    if rec.closed_at is None:
        return "Untimely response" if rec.decision_breached else "In progress"
    if rec.remedy() is not None:
        return "Closed with monetary relief"
    return "Closed with non-monetary relief" if rec.upheld(policy) else "Closed with explanation"


def cfpb_row(rec: ComplaintRecord, policy: Policy) -> Row:
    product = product_of(rec.product, policy)
    received = local_date(rec.received_at, policy).isoformat()
    return {
        "Date received": received,
        "Product": product.cfpb_product,
        "Sub-product": product.label,
        "Issue": CFPB_ISSUE.get(rec.category, "Other"),
        "Sub-issue": rec.root_cause if rec.closed_at else None,
        "Submitted via": CFPB_SUBMITTED_VIA.get(rec.channel, "Web"),
        "Date sent to company": received,
        "Company response to consumer": _cfpb_response(rec, policy),
        "Timely response?": "No" if rec.decision_breached else "Yes",
        "Consumer disputed?": "Yes" if rec.reopened_count > 0 else "No",
        "Complaint ID": rec.complaint_id,
    }


# ---- FCA DISP 1 Annex 1: one row per product line ------------------------------------------

FCA_GROUPING = {
    **dict.fromkeys(
        [
            "Current accounts",
            "Packaged bank accounts",
            "Credit cards",
            "Overdrafts",
            "Unsecured loans",
            "Savings (inc. ISAs)",
            "Other banking",
        ],
        "Banking and credit cards",
    ),
    **dict.fromkeys(
        [
            "Equity release products",
            "Other regulated home finance products",
            "Other unregulated home finance products",
        ],
        "Home finance",
    ),
    **{g: g for g in ("Insurance & pure protection", "Decumulation & pensions", "Investments")},
}


def within_summary_resolution(received_at: datetime, closed_at: datetime, policy: Policy) -> bool:
    """Closed by close of business on the third business day after the day of receipt (DISP 1.5),
    on the policy's business calendar."""
    return closed_at <= add_limit(received_at, SUMMARY_RESOLUTION, policy).due_at


@dataclass
class FcaTally:
    """One product line's figures; the closed complaints are added one at a time."""

    outstanding_at_start: int = 0
    opened: int = 0
    closed: int = 0
    within_3_business_days: int = 0
    after_3_business_days_within_8_weeks: int = 0
    upheld: int = 0
    redress_paid: Decimal = Decimal(0)
    causes: Counter[str] = field(default_factory=Counter)

    def add_closed(self, rec: ComplaintRecord, policy: Policy) -> None:
        if rec.closed_at is None:
            raise ValueError(f"{rec.complaint_id}: not closed in the period")
        self.closed += 1
        if within_summary_resolution(rec.received_at, rec.closed_at, policy):
            self.within_3_business_days += 1
        elif rec.closed_at - rec.received_at <= FINAL_RESPONSE:
            self.after_3_business_days_within_8_weeks += 1
        self.upheld += rec.upheld(policy)
        self.redress_paid += rec.remedy() or Decimal(0)
        if rec.root_cause:
            self.causes[rec.root_cause] += 1


def _pct(part: int, whole: int) -> float | None:
    return round(100 * part / whole, 1) if whole else None


def fca_row(product_group: str, tally: FcaTally) -> Row:
    return {
        "grouping": FCA_GROUPING.get(product_group, product_group),
        "product_group": product_group,
        "outstanding_at_start": tally.outstanding_at_start,
        "opened": tally.opened,
        "closed": tally.closed,
        "closed_within_3_business_days_pct": _pct(tally.within_3_business_days, tally.closed),
        "closed_after_3_business_days_within_8_weeks_pct": _pct(
            tally.after_3_business_days_within_8_weeks, tally.closed
        ),
        "upheld_pct": _pct(tally.upheld, tally.closed),
        "redress_paid": tally.redress_paid.quantize(CENT),
        "main_causes": [code for code, _ in sorted(tally.causes.items(), key=lambda kv: (-kv[1], kv[0]))][:MAIN_CAUSES],
    }


def _in_schema_order(kind: ReturnKind, column: str, keys: Iterable[str]) -> list[str]:
    """Keys in the order of the column's enum (the regulator's), unknown ones last."""
    order = {v: i for i, v in enumerate(load_schema(kind.value)["properties"][column].get("enum", []))}
    return sorted(set(keys), key=lambda k: (order.get(k, len(order)), k))


def fca_rows(tallies: Mapping[str, FcaTally]) -> list[Row]:
    keys = _in_schema_order(ReturnKind.FCA_DISP, "product_group", tallies)
    return [fca_row(key, tallies[key]) for key in keys]


# ---- China: quarterly counts by business line ----------------------------------------------


def nfra_rows(current: Mapping[str, int], previous: Mapping[str, int], lines: Sequence[str] = ()) -> list[Row]:
    """Each business line's count, share and quarter-on-quarter change (every line in ``lines``,
    and any other with a count in either quarter)."""
    total = sum(current.values())
    keys = _in_schema_order(ReturnKind.NFRA_QUARTERLY, "business_line", [*lines, *current, *previous])
    rows = []
    for line in keys:
        now, before = current.get(line, 0), previous.get(line, 0)
        rows.append(
            {
                "business_line": line,
                "complaints": now,
                "share_pct": _pct(now, total),
                "previous_complaints": before,
                "change_pct": round(100 * (now - before) / before, 1) if before else None,
            }
        )
    return rows


# ---- the headline of a return --------------------------------------------------------------


def _total(rows: Sequence[Row], column: str) -> Any:
    return sum((row[column] or 0 for row in rows), Decimal(0) if column.endswith(("paid", "remedy")) else 0)


def summarise(kind: ReturnKind | str, rows: Sequence[Row]) -> dict[str, Any]:
    """A few headline figures of a return (for the report's record and the CLI)."""
    kind = ReturnKind(kind)
    if kind is ReturnKind.ASIC_IDR:
        closed = sum(row["status"] == "Closed" for row in rows)
        remedy = _total(rows, "monetary_remedy")
        return {"complaints": len(rows), "closed": closed, "open": len(rows) - closed, "monetary_remedy": str(remedy)}
    if kind is ReturnKind.CFPB:
        responses = Counter(row["Company response to consumer"] for row in rows)
        return {"complaints": len(rows), "responses": dict(sorted(responses.items()))}
    if kind is ReturnKind.FCA_DISP:
        figures = {c: _total(rows, c) for c in ("outstanding_at_start", "opened", "closed")}
        return {**figures, "redress_paid": str(_total(rows, "redress_paid"))}
    current, previous = _total(rows, "complaints"), _total(rows, "previous_complaints")
    change = round(100 * (current - previous) / previous, 1) if previous else None
    return {"complaints": current, "previous_complaints": previous, "change_pct": change}

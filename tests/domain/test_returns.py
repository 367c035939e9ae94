"""The regulators' returns' rows and schemas, without a database: each schema takes a good row,
refuses a broken one by row and field, and the shipped policies map products to its values."""

from __future__ import annotations

import pickle
from datetime import UTC, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from jsonschema import Draft202012Validator

from complaints.config import PROJECT_ROOT
from domain.policy import load_policy
from domain.returns import (
    ComplaintRecord,
    FcaTally,
    ReturnInvalid,
    asic_row,
    cfpb_row,
    columns,
    fca_rows,
    nfra_rows,
    summarise,
    to_csv,
    upheld,
    validate,
    within_summary_resolution,
)
from models.analysis import Product, ReturnKind
from models.returns import load_schema

POLICIES = PROJECT_ROOT / "policies"
POLICY = load_policy(POLICIES / "standard.yaml")
SHANGHAI = ZoneInfo("Asia/Shanghai")


def at(day: int, hour: int = 10, minute: int = 0, month: int = 3) -> datetime:
    return datetime(2031, month, day, hour, minute, tzinfo=SHANGHAI)


def record(complaint_id: str = "CMP-1", **changes: object) -> ComplaintRecord:
    fields: dict[str, object] = {
        "complaint_id": complaint_id,
        "channel": "phone",
        "category": "fees_and_interest",
        "status": "closed",
        "received_at": at(3),
        "closed_at": at(10),
        "product": "overdraft",
        "root_cause": "pricing_error",
        "remedy_paid": Decimal("250"),
    }
    return ComplaintRecord(**{**fields, **changes})  # type: ignore[arg-type]


def fca_tally() -> FcaTally:
    tally = FcaTally(outstanding_at_start=1, opened=2)
    tally.add_closed(record(), POLICY)
    return tally


def good_rows(kind: ReturnKind) -> list[dict]:
    if kind is ReturnKind.ASIC_IDR:
        return [asic_row(record(), POLICY), asic_row(record("CMP-2", closed_at=None, status="in_handling"), POLICY)]
    if kind is ReturnKind.CFPB:
        return [cfpb_row(record(), POLICY), cfpb_row(record("CMP-2", closed_at=None, status="in_handling"), POLICY)]
    if kind is ReturnKind.FCA_DISP:
        return fca_rows({"Overdrafts": fca_tally(), "Other banking": FcaTally()})
    return nfra_rows({"对公贷款": 3}, {"对公贷款": 2, "贸易融资": 1})


@pytest.mark.parametrize("kind", list(ReturnKind))
def test_each_schema_is_draft_2020_12_and_names_its_source(kind: ReturnKind) -> None:
    schema = load_schema(kind.value)
    Draft202012Validator.check_schema(schema)
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert "Read for this schema" in schema["description"] and "NOT CONFIRMED" in schema["description"]
    assert schema["x-row-id"] in schema["properties"]
    assert set(schema["required"]) <= set(schema["properties"])


@pytest.mark.parametrize("kind", list(ReturnKind))
def test_each_schema_accepts_a_good_row(kind: ReturnKind) -> None:
    rows = good_rows(kind)
    validate(kind, rows)
    assert all(list(row) == columns(kind) for row in rows)


def test_a_broken_row_is_refused_naming_the_row_and_the_field() -> None:
    rows = [asic_row(record(f"CMP-{n}"), POLICY) for n in (1, 2, 3)]
    rows[2]["days_to_resolve"] = -1
    with pytest.raises(ReturnInvalid) as refused:
        validate(ReturnKind.ASIC_IDR, rows)
    error = refused.value
    assert (error.kind, error.row, error.row_id, error.field) == ("asic_idr", 3, "CMP-3", "days_to_resolve")
    assert str(error) == "asic_idr row 3 (CMP-3): field 'days_to_resolve': -1 is less than the minimum of 0"
    assert str(pickle.loads(pickle.dumps(error))) == str(error)


@pytest.mark.parametrize(
    ("kind", "change", "field"),
    [
        (ReturnKind.ASIC_IDR, {"received_method": "Carrier pigeon"}, "received_method"),
        (ReturnKind.ASIC_IDR, {"complaint_type": "Dispute"}, "complaint_type"),
        (ReturnKind.ASIC_IDR, {"date_received": "31/03/2031"}, "date_received"),
        (ReturnKind.ASIC_IDR, {"products": ["Mortgage"]}, "products"),
        (ReturnKind.CFPB, {"Timely response?": "Maybe"}, "Timely response?"),
        (ReturnKind.FCA_DISP, {"upheld_pct": 101.0}, "upheld_pct"),
        (ReturnKind.FCA_DISP, {"product_group": "Other"}, "product_group"),
        (ReturnKind.NFRA_QUARTERLY, {"complaints": -2}, "complaints"),
        (ReturnKind.NFRA_QUARTERLY, {"unexpected": 1}, "unexpected"),
    ],
)
def test_each_return_names_the_field_it_refuses(kind: ReturnKind, change: dict, field: str) -> None:
    rows = good_rows(kind)
    rows[0].update(change)
    with pytest.raises(ReturnInvalid) as refused:
        validate(kind, rows)
    assert (refused.value.row, refused.value.field) == (1, field)


def test_a_missing_column_is_named() -> None:
    row = cfpb_row(record(), POLICY)
    del row["Complaint ID"]
    with pytest.raises(ReturnInvalid, match=r"cfpb row 1 \(\?\): field 'Complaint ID': 'Complaint ID' is a required"):
        validate(ReturnKind.CFPB, [row])


@pytest.mark.parametrize(
    ("status", "root_cause", "remedy", "expected"),
    [
        ("closed", "pricing_error", None, True),  # a cause that finds the firm at fault
        ("resolved", "other", Decimal(0), True),
        ("closed", "customer_misunderstanding", None, False),  # no fault found
        ("closed", "customer_misunderstanding", Decimal("0.01"), False),  # a goodwill payment: rejected (DISP)
        ("closed", None, Decimal("120"), True),  # no cause recorded: the remedy tells
        ("closed", None, None, False),
        ("withdrawn", "pricing_error", Decimal(500), False),  # withdrawn is never upheld
        ("in_handling", "pricing_error", Decimal(500), False),  # not closed
    ],
)
def test_upheld(status: str, root_cause: str | None, remedy: Decimal | None, expected: bool) -> None:
    assert upheld(status, root_cause, remedy, POLICY) is expected


def test_csv_has_the_schemas_column_order_and_joins_lists() -> None:
    rows = [asic_row(record(), POLICY), asic_row(record("CMP-2", closed_at=None, status="in_handling"), POLICY)]
    lines = to_csv(ReturnKind.ASIC_IDR, rows).splitlines()
    assert lines[0].split(",") == columns(ReturnKind.ASIC_IDR) == list(load_schema("asic_idr")["properties"])
    assert lines[1] == (
        "CMP-1,Standard,Closed,Phone,2031-03-03,2031-03-10,7,Business overdraft,Fees and charges,Monetary remedy,250.00"
    )
    assert lines[2] == "CMP-2,Standard,Open,Phone,2031-03-03,,,Business overdraft,Fees and charges,,"
    several = dict(rows[0], products=["Business loan", "Trade finance"])
    assert "Business loan;Trade finance" in to_csv(ReturnKind.ASIC_IDR, [several])


@pytest.mark.parametrize(
    ("flags", "expected"),
    [
        ((), "Standard"),  # RG 271.55: 30 calendar days
        (("hardship",), "Default notice or hardship"),  # RG 271: 21 calendar days
        (("default_notice",), "Default notice or hardship"),
        (("default_notice", "hardship"), "Default notice or hardship"),
    ],
)
def test_asic_complaint_type_follows_the_intakes_flags(flags: tuple[str, ...], expected: str) -> None:
    row = asic_row(record(flags=flags), POLICY)
    assert row["complaint_type"] == expected
    validate(ReturnKind.ASIC_IDR, [row])


def test_asic_complaint_type_is_required() -> None:
    row = asic_row(record(), POLICY)
    del row["complaint_type"]
    with pytest.raises(ReturnInvalid, match=r"asic_idr row 1 \(CMP-1\): field 'complaint_type'"):
        validate(ReturnKind.ASIC_IDR, [row])


def test_dates_are_the_policys_local_dates() -> None:
    late = datetime(2031, 3, 31, 15, 30, tzinfo=UTC)  # 23:30 in Shanghai: still March
    row = asic_row(record(received_at=late, closed_at=None), POLICY)
    assert row["date_received"] == "2031-03-31"


def test_closed_within_three_business_days_counts_on_the_policys_calendar() -> None:
    received = at(7)  # a Friday: Monday, Tuesday and Wednesday are the three business days
    assert within_summary_resolution(received, at(12, 18, 0), POLICY)
    assert not within_summary_resolution(received, at(12, 18, 1), POLICY)


def test_fca_row_counts_upheld_redress_and_causes() -> None:
    tally = FcaTally()
    tally.add_closed(record("A", closed_at=at(4)), POLICY)  # 1 day: within 3 business days, remedy
    tally.add_closed(record("B", root_cause="customer_misunderstanding", remedy_paid=None, closed_at=at(25)), POLICY)
    tally.add_closed(record("C", closed_at=at(28, month=5), remedy_paid=Decimal("99.5")), POLICY)  # > 8 weeks
    tally.add_closed(record("D", status="withdrawn", root_cause=None, remedy_paid=None), POLICY)
    (row,) = fca_rows({"Overdrafts": tally})
    assert row["grouping"] == "Banking and credit cards"
    assert (row["closed"], row["upheld_pct"], row["redress_paid"]) == (4, 50.0, Decimal("349.50"))
    assert (row["closed_within_3_business_days_pct"], row["closed_after_3_business_days_within_8_weeks_pct"]) == (
        25.0,
        50.0,
    )
    assert row["main_causes"] == ["pricing_error", "customer_misunderstanding"]


def test_nfra_rows_give_share_and_quarter_on_quarter_change() -> None:
    rows = nfra_rows({"对公贷款": 3, "贸易融资": 1}, {"对公贷款": 2}, ["其他"])
    assert [r["business_line"] for r in rows] == ["对公贷款", "贸易融资", "其他"]  # the schema's order
    assert rows[0] == {
        "business_line": "对公贷款",
        "complaints": 3,
        "share_pct": 75.0,
        "previous_complaints": 2,
        "change_pct": 50.0,
    }
    assert rows[1]["change_pct"] is None and rows[2]["share_pct"] == 0.0
    assert summarise(ReturnKind.NFRA_QUARTERLY, rows) == {
        "complaints": 4,
        "previous_complaints": 2,
        "change_pct": 100.0,
    }


PRODUCT_FIELDS = {
    "fca_product_group": (ReturnKind.FCA_DISP, "product_group"),
    "asic_product": (ReturnKind.ASIC_IDR, "products"),
    "cfpb_product": (ReturnKind.CFPB, "Product"),
    "nfra_business_line": (ReturnKind.NFRA_QUARTERLY, "business_line"),
}


def allowed(kind: ReturnKind, column: str) -> list[str]:
    spec = load_schema(kind.value)["properties"][column]
    return spec["items"]["enum"] if "items" in spec else spec["enum"]


@pytest.mark.parametrize("name", ["standard.yaml", "compressed.yaml"])
def test_shipped_product_catalogues_use_the_schemas_values(name: str) -> None:
    products = [*load_policy(POLICIES / name).reporting.products, Product(code="other", label="Other")]
    for field, (kind, column) in PRODUCT_FIELDS.items():
        for product in products:
            assert getattr(product, field) in allowed(kind, column), (name, product.code, field)

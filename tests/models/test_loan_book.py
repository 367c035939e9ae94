"""Loan-book signals are validated like intake: each kind needs its own figures, refusals name
the row and the field, and nothing of a refused batch is kept (step 5)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from complaints.config import PROJECT_ROOT
from complaints.loan_book import FeedError, read_feed, validate_rows
from models.loan_book import (
    DaysPastDue,
    DrawdownRefused,
    LoanBookSignal,
    RatingChange,
    figures_of,
    notches_down,
)


def row(kind: str = "days_past_due", **fields: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "source_system": "CORE-LOANS",
        "source_record_id": "DPD-1",
        "customer_id": "C-1",
        "observed_at": "2026-11-20T06:00:00+08:00",
        "kind": kind,
    }
    return {**base, **fields}


def test_each_kind_carries_its_own_figures() -> None:
    assert isinstance(LoanBookSignal.model_validate(row(days=31)).root, DaysPastDue)
    rating = LoanBookSignal.model_validate(row("rating_change", from_rating="BBB", to_rating="BB+")).root
    assert isinstance(rating, RatingChange) and figures_of(rating) == {"from_rating": "BBB", "to_rating": "BB+"}
    drawdown = LoanBookSignal.model_validate(row("drawdown_refused", amount="2500000.00")).root
    assert isinstance(drawdown, DrawdownRefused)
    assert figures_of(drawdown) == {"amount": "2500000.00", "currency": "CNY"}
    assert LoanBookSignal.model_validate(row("restructuring")).root.kind == "restructuring"
    assert LoanBookSignal.model_validate(row("covenant_breach", covenant="DSCR >= 1.2")).root.kind == "covenant_breach"


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        (row(), "days: Field required"),
        (row(days=-1), "days: Input should be greater than or equal to 0"),
        (row(days=1.5), "days: a whole number of days is expected"),
        (row(days=True), "days: a whole number of days is expected"),
        (row(days="30 days"), "days: a whole number of days is expected"),
        (row("rating_change", from_rating="BBB"), "to_rating: Field required"),
        (row("rating_change", from_rating="BBB", to_rating="BBB"), "to_rating: the same as from_rating"),
        (row("drawdown_refused"), "amount: Field required"),
        (row("drawdown_refused", amount="1,800,000"), "amount: write the amount in plain decimal notation"),
        (row("drawdown_refused", amount="5", currency="yua"), "currency: String should match pattern"),
        (row(days=3, observed_at="2026-11-20 06:00:00"), "observed_at: Input should have timezone info"),
        (row(days=3, observed_at=1764000000), "observed_at: a number (Unix timestamp) is not accepted"),
        (row(days=3, note="bell \x07"), "note: U+0007"),
        (row(days=3, colour="red"), "colour: Extra inputs are not permitted"),
        (row("restructuring", days=3), "days: Extra inputs are not permitted"),
        (row(days=3, customer_id=""), "customer_id: String should have at least 1 character"),
    ],
)
def test_a_refused_row_names_its_field(fields: dict[str, Any], expected: str) -> None:
    signals, errors = validate_rows([row(days=1, source_record_id="OK-1"), fields])
    assert signals == [] or len(signals) == 1
    assert any(e.startswith(f"row 2: {expected}") for e in errors), errors


def test_a_signal_observed_in_the_future_is_refused() -> None:
    now = datetime(2026, 11, 20, 0, 0, tzinfo=UTC)
    _, errors = validate_rows([row(days=3, observed_at="2026-11-20T08:04:00+08:00")], now=now)
    assert errors == []  # four minutes ahead: within the clock skew allowed
    _, errors = validate_rows([row(days=3, observed_at="2026-11-20T09:00:00+08:00")], now=now)
    assert errors == [
        "row 1: observed_at: 2026-11-20T09:00:00+08:00 is in the future "
        "(a signal reports what was observed, not what is expected)"
    ]


def test_an_unknown_or_missing_kind_is_named() -> None:
    _, errors = validate_rows([row("days_late", days=3), {k: v for k, v in row(days=3).items() if k != "kind"}])
    assert errors[0].startswith("row 1: kind: 'days_late' is not one of days_past_due, restructuring")
    assert errors[1].startswith("row 2: kind: missing (one of days_past_due")


def test_every_refused_row_is_named_not_only_the_first() -> None:
    _, errors = validate_rows([row(days=-1), row(days=3), row("rating_change"), "not an object"])  # type: ignore[list-item]
    assert [e.split(":")[0] for e in errors] == ["row 1", "row 3", "row 3", "row 4"]


def test_the_same_record_twice_in_a_batch_must_say_the_same() -> None:
    same, errors = validate_rows([row(days=3), row(days=3)])
    assert errors == [] and len(same) == 2
    _, errors = validate_rows([row(days=3), row(days=4)])
    assert errors == ["row 2: source_record_id: CORE-LOANS/DPD-1 is also row 1 with other content"]


def test_a_signal_model_refuses_directly_too() -> None:
    with pytest.raises(ValidationError):
        LoanBookSignal.model_validate(row("rating_change", from_rating="BBB"))


def test_notches_are_counted_down_the_scale_only() -> None:
    assert notches_down("BBB", "BB+") == 2
    assert notches_down("bbb", "bb+") == 2
    assert notches_down("BB", "BBB") == 0
    assert notches_down("Baa2", "Ba1") == 0  # not on the scale: no notches counted


def test_the_example_feeds_read_and_the_bad_one_is_refused_row_by_row() -> None:
    good = read_feed(PROJECT_ROOT / "examples" / "loan_book_feed.jsonl")
    signals, errors = validate_rows(good)
    assert errors == [] and len(signals) == len(good) >= 12
    _, errors = validate_rows(read_feed(PROJECT_ROOT / "examples" / "loan_book_feed_bad.csv"))
    assert [e.split(":")[0] for e in errors] == [f"row {n}" for n in range(1, 7)]
    assert errors[0] == "row 1: days: Input should be greater than or equal to 0"


def test_a_feed_is_jsonl_or_csv_by_extension(tmp_path: Path) -> None:
    csv_file = tmp_path / "feed.csv"
    csv_file.write_text(
        "source_system,source_record_id,customer_id,observed_at,kind,days,note\n"
        "CORE,R1,C-1,2026-11-20T06:00:00+08:00,days_past_due,31,\n",
        encoding="utf-8",
    )
    rows = read_feed(csv_file)
    assert rows == [
        {
            "source_system": "CORE",
            "source_record_id": "R1",
            "customer_id": "C-1",
            "observed_at": "2026-11-20T06:00:00+08:00",
            "kind": "days_past_due",
            "days": "31",
        }
    ]
    assert validate_rows(rows)[1] == []
    for name, text, expected in [
        ("feed.txt", "x", "a feed is .jsonl or .csv"),
        ("feed.jsonl", '{"a": 1}\n{oops\n', "line 2 is not JSON"),
        ("wide.csv", "a,b\n1,2,3\n", "more cells than the header"),
    ]:
        path = tmp_path / name
        path.write_text(text, encoding="utf-8")
        with pytest.raises(FeedError, match=expected):
            read_feed(path)

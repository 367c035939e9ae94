"""The intake validator: every invalid payload is refused naming its field; every valid one passes."""

from __future__ import annotations

import copy
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from complaints.intake import IntakeRejected, validate_intake
from models.intake import (
    MAX_DESCRIPTION_CHARS,
    Category,
    Channel,
    ComplaintIntake,
    complaint_id_for,
)
from tests.factories import intake_payload

NOW = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)


def rejected_fields(payload: Any) -> list[str]:
    with pytest.raises(IntakeRejected) as err:
        validate_intake(payload, now=NOW)
    return err.value.errors


# -- examples ------------------------------------------------------------------------


def test_contract_dispute_without_contract_number_names_the_field() -> None:
    payload = intake_payload("contract_dispute", received_at=NOW.isoformat())
    del payload["details"]["contract_number"]
    assert rejected_fields(payload) == ["details.contract_dispute.contract_number: Field required"]


def test_service_attitude_must_name_the_staff_member() -> None:
    payload = intake_payload("service_attitude", received_at=NOW.isoformat())
    payload["details"] = {"category": "service_attitude"}
    assert rejected_fields(payload) == ["details.service_attitude.staff_id: Field required"]


def test_several_problems_are_all_reported() -> None:
    payload = intake_payload("fees_and_interest", channel="fax", received_at=NOW.isoformat())
    payload["details"]["amount_disputed"]["amount"] = "-10"
    fields = [e.split(":")[0] for e in rejected_fields(payload)]
    assert fields == ["channel", "details.fees_and_interest.amount_disputed.amount"]


def test_a_customer_must_be_reachable() -> None:
    payload = intake_payload(received_at=NOW.isoformat())
    payload["customer"] = {"customer_id": "C-1", "name": "No Contact"}
    assert rejected_fields(payload) == ["customer: customer needs at least one of email, phone or postal_address"]


def test_received_in_the_future_is_refused() -> None:
    payload = intake_payload(received_at=(NOW + timedelta(hours=1)).isoformat())
    assert rejected_fields(payload) == ["received_at: lies in the future"]


def test_not_an_object_is_refused() -> None:
    assert rejected_fields(["a", "list"]) == ["(top level): expected a JSON object, got list"]


def test_same_source_gives_the_same_complaint_id() -> None:
    assert complaint_id_for("app", "A-1") == complaint_id_for("app", "A-1") != complaint_id_for("app", "A-2")
    assert complaint_id_for("app", "A-1").startswith("CMP-")


# -- property-based -------------------------------------------------------------------

text = st.text(st.characters(codec="utf-8", exclude_categories=("Cs", "Cc")), min_size=1, max_size=60).filter(
    lambda s: s.strip() != ""
)
code = st.from_regex(r"[A-Za-z0-9][A-Za-z0-9._:/-]{0,20}", fullmatch=True)
contract = st.from_regex(r"[A-Za-z0-9][A-Za-z0-9/-]{2,20}", fullmatch=True)
money = st.builds(
    lambda a, c: {"amount": str(a), "currency": c},
    st.decimals(min_value=Decimal("0.01"), max_value=Decimal("99999999.99"), places=2),
    st.sampled_from(["CNY", "USD", "HKD"]),
)
aware = st.datetimes(min_value=datetime(2020, 1, 1), max_value=datetime(2026, 11, 1), timezones=st.just(UTC)).map(
    lambda d: d.isoformat()
)

details_by_category: dict[str, st.SearchStrategy[dict[str, Any]]] = {
    "contract_dispute": st.fixed_dictionaries(
        {
            "category": st.just("contract_dispute"),
            "contract_number": contract,
            "claims": st.lists(text, min_size=1, max_size=3),
            "amounts_in_dispute": st.lists(money, min_size=1, max_size=3),
        }
    ),
    "service_attitude": st.fixed_dictionaries({"category": st.just("service_attitude"), "staff_id": code}),
    "fees_and_interest": st.fixed_dictionaries(
        {
            "category": st.just("fees_and_interest"),
            "contract_number": contract,
            "charge_type": st.sampled_from(["interest", "penalty_interest", "service_fee"]),
            "amount_disputed": money,
        }
    ),
    "repayment_collection": st.fixed_dictionaries(
        {
            "category": st.just("repayment_collection"),
            "contract_number": contract,
            "practice": st.sampled_from(["harassment", "threats", "other"]),
            "last_contact_at": aware,
        }
    ),
    "privacy": st.fixed_dictionaries(
        {"category": st.just("privacy"), "data_involved": st.lists(text, min_size=1, max_size=3)}
    ),
    "product_design": st.fixed_dictionaries(
        {"category": st.just("product_design"), "product_code": code, "defect": text}
    ),
    "other": st.just({"category": "other"}),
}


@st.composite
def valid_payloads(draw: st.DrawFn) -> dict[str, Any]:
    category = draw(st.sampled_from(sorted(details_by_category)))
    channel = draw(st.sampled_from([c.value for c in Channel]))
    regulators = draw(st.lists(st.sampled_from(["NFRA", "PBOC", "CSRC", "SAMR"]), unique=True, max_size=3))
    if channel == "regulator_referral" and not regulators:
        regulators = ["NFRA"]
    contact = draw(st.sampled_from(["email", "phone", "postal_address"]))
    contact_value = {"email": "a@b.example", "phone": "+86 21 5555 0000", "postal_address": "88 Century Ave, Shanghai"}
    return {
        "source_system": draw(code),
        "source_reference": draw(text),
        "channel": channel,
        "received_at": draw(aware),
        "customer": {"customer_id": draw(code), "name": draw(text), contact: contact_value[contact]},
        "summary": draw(text),
        "description": draw(st.text(min_size=1, max_size=300).filter(lambda s: s.strip() != "")),
        "details": draw(details_by_category[category]),
        "regulators": regulators,
        "staff_misconduct_alleged": draw(st.booleans()),
    }


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(valid_payloads())
def test_nothing_valid_is_refused(payload: dict[str, Any]) -> None:
    intake = validate_intake(payload, now=NOW)
    assert intake.category == Category(payload["details"]["category"])
    # What was accepted survives the trip through the workflow's data converter unchanged.
    assert ComplaintIntake.model_validate_json(intake.model_dump_json()) == intake


def _drop(path: tuple[str, ...]) -> Callable[[dict[str, Any]], None]:
    def apply(p: dict[str, Any]) -> None:
        target = p
        for key in path[:-1]:
            target = target[key]
        target.pop(path[-1], None)

    return apply


def _set(path: tuple[str, ...], value: Any) -> Callable[[dict[str, Any]], None]:
    def apply(p: dict[str, Any]) -> None:
        target = p
        for key in path[:-1]:
            target = target[key]
        target[path[-1]] = value

    return apply


# (mutation, the field the error must name); every mutation makes any valid payload invalid.
MUTATIONS: list[tuple[Callable[[dict[str, Any]], None], str]] = [
    (_drop(("source_system",)), "source_system"),
    (_drop(("customer",)), "customer"),
    (_set(("channel",), "telegram"), "channel"),
    (_set(("received_at",), "2026-11-01T10:00:00"), "received_at"),  # no time zone
    (_set(("received_at",), "2027-06-01T10:00:00+00:00"), "received_at"),  # in the future
    (_set(("summary",), "s" * 201), "summary"),
    (_set(("description",), "d" * (MAX_DESCRIPTION_CHARS + 1)), "description"),
    (_set(("description",), "   "), "description"),
    (_set(("customer", "email"), "not-an-address"), "customer.email"),
    (_set(("details", "category"), "weather"), "details"),
    (_set(("regulators",), ["NFRA", "NFRA"]), "regulators"),
    (_set(("regulators",), ["nfra lowercase"]), "regulators.0"),
    (_set(("unexpected_field",), 1), "unexpected_field"),
    (_set(("staff_misconduct_alleged",), "perhaps"), "staff_misconduct_alleged"),
]
CATEGORY_MUTATIONS: dict[str, list[tuple[Callable[[dict[str, Any]], None], str]]] = {
    "contract_dispute": [
        (_drop(("details", "contract_number")), "details.contract_dispute.contract_number"),
        (_set(("details", "claims"), []), "details.contract_dispute.claims"),
        (
            _set(("details", "amounts_in_dispute"), [{"amount": "-5"}]),
            "details.contract_dispute.amounts_in_dispute.0.amount",
        ),
        (
            _set(("details", "amounts_in_dispute"), [{"amount": "0"}]),
            "details.contract_dispute.amounts_in_dispute.0.amount",
        ),
    ],
    "service_attitude": [(_drop(("details", "staff_id")), "details.service_attitude.staff_id")],
    "fees_and_interest": [
        (_set(("details", "amount_disputed"), {"amount": "1.234"}), "details.fees_and_interest.amount_disputed.amount"),
        (_set(("details", "charge_type"), "vibes"), "details.fees_and_interest.charge_type"),
    ],
    "repayment_collection": [(_drop(("details", "last_contact_at")), "details.repayment_collection.last_contact_at")],
    "privacy": [(_set(("details", "data_involved"), []), "details.privacy.data_involved")],
    "product_design": [(_drop(("details", "product_code")), "details.product_design.product_code")],
    "other": [],
}


@st.composite
def invalid_payloads(draw: st.DrawFn) -> tuple[dict[str, Any], str]:
    payload = copy.deepcopy(draw(valid_payloads()))
    options = MUTATIONS + CATEGORY_MUTATIONS[payload["details"]["category"]]
    mutate, field = draw(st.sampled_from(options))
    mutate(payload)
    return payload, field


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(invalid_payloads())
def test_nothing_invalid_gets_through_and_the_error_names_the_field(case: tuple[dict[str, Any], str]) -> None:
    payload, field = case
    errors = rejected_fields(payload)
    assert any(e.startswith(field) for e in errors), (field, errors)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=6),
    max_leaves=25,
)


@settings(max_examples=300)
@given(json_values)
def test_random_json_is_refused_with_reasons(value: Any) -> None:
    # Random JSON never has the required shape; it must be refused, never crash the validator.
    errors = rejected_fields(value)
    assert errors and all(isinstance(e, str) and e for e in errors)

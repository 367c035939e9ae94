"""The intake validator: every invalid payload is refused naming its field; every valid one passes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from complaints.config import PROJECT_ROOT
from complaints.intake import IntakeRejected, validate_intake
from domain.classification import classify, initial_clocks
from domain.policy import load_policy
from models.intake import Category, ComplaintIntake, complaint_id_for
from models.policy import IntakePolicy
from tests.factories import intake_payload
from tests.intake_payloads import (
    CATEGORIES,
    REFUSED_CHARACTERS,
    TextField,
    full_payload,
    get,
    invalid_payloads,
    put,
    text_fields,
    valid_payloads,
)

NOW = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)
POLICIES = {name: load_policy(PROJECT_ROOT / "policies" / f"{name}.yaml") for name in ("standard", "compressed")}
POLICY = POLICIES["standard"]


def rejected_fields(payload: Any) -> list[str]:
    with pytest.raises(IntakeRejected) as err:
        validate_intake(payload, now=NOW, policy=POLICY)
    return err.value.errors


def accepted(payload: Any) -> ComplaintIntake:
    return validate_intake(payload, now=NOW, policy=POLICY)


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


def test_not_an_object_is_refused() -> None:
    assert rejected_fields(["a", "list"]) == ["(top level): expected a JSON object, got list"]


def test_same_source_gives_the_same_complaint_id() -> None:
    assert complaint_id_for("app", "A-1") == complaint_id_for("app", "A-1") != complaint_id_for("app", "A-2")
    assert complaint_id_for("app", "A-1").startswith("CMP-")


# -- text that cannot be kept ---------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "value", "error"),
    [
        (
            ("customer", "name"),
            "Chen\x00Hua",
            "customer.name: U+0000 (control character) at character 5 is not allowed: "
            "no control characters but tab, line feed and carriage return",
        ),
        (
            ("summary",),
            "\x1b[2JPaid on time",
            "summary: U+001B (control character) at character 1 is not allowed: "
            "no control characters but tab, line feed and carriage return",
        ),
        (
            ("description",),
            "Paid\u2028on time",
            "description: U+2028 (line separator) at character 5 is not allowed: no line separators (use line feed)",
        ),
        (
            ("customer", "company"),
            "Chen \u202eLtd",
            "customer.company: U+202E (right-to-left override) at character 6 is not allowed: "
            "no bidirectional embeddings, overrides or isolates",
        ),
        (
            ("details", "claims", 0),
            "Refund\u2066 it",
            "details.contract_dispute.claims.0: U+2066 (left-to-right isolate) at character 7 is not allowed: "
            "no bidirectional embeddings, overrides or isolates",
        ),
        (
            ("customer", "email"),
            "chen\x9b@logistics.example",
            "customer.email: U+009B (control character) at character 5 is not allowed: "
            "no control characters but tab, line feed and carriage return",
        ),
        # A lone surrogate is not text at all; pydantic refuses it before the check.
        (
            ("customer", "name"),
            "Chen\ud800",
            "customer.name: Input should be a valid string, unable to parse raw data as a unicode string",
        ),
    ],
)
def test_text_that_cannot_be_kept_is_refused_naming_the_field_and_character(
    path: tuple[str | int, ...], value: str, error: str
) -> None:
    payload = intake_payload("contract_dispute", received_at=NOW.isoformat())
    put(payload, path, value)
    assert rejected_fields(payload) == [error]


def test_tabs_line_breaks_and_direction_marks_are_kept() -> None:
    payload = intake_payload(received_at=NOW.isoformat())
    payload["description"] = "Line one\r\nline two\n\tindented; \u200fمرحبا\u200e ok"
    payload["customer"]["postal_address"] = "88 Century Avenue\nPudong, Shanghai"
    intake = accepted(payload)
    assert intake.description == payload["description"]
    assert intake.customer.postal_address == payload["customer"]["postal_address"]


FIELDS = [(c, f) for c in CATEGORIES for f in text_fields() if f.category in (None, c)]


@pytest.mark.parametrize(("category", "field"), FIELDS, ids=[f"{c}:{f.loc}" for c, f in FIELDS])
@pytest.mark.parametrize("char", ["\x00", "\x1b", "\u202e"])
def test_every_text_field_refuses_what_cannot_be_kept(category: str, field: TextField, char: str) -> None:
    payload = full_payload(category)
    payload["received_at"] = NOW.isoformat()
    value = get(payload, field.keys)
    put(payload, field.keys, value[:1] + char + value[1:])
    errors = rejected_fields(payload)
    assert len(errors) == 1 and errors[0].startswith(f"{field.loc}: "), errors
    if "pattern" not in field.adapter.json_schema():  # a pattern refuses the character first
        assert f"U+{ord(char):04X}" in errors[0]


def test_the_full_payloads_hold_every_text_field() -> None:
    # So the test above covers each text field a new version of the model adds.
    for category in CATEGORIES:
        payload = full_payload(category)
        for field in text_fields():
            if field.category in (None, category):
                assert isinstance(get(payload, field.keys), str), field.loc


# -- received_at within the policy's window --------------------------------------------


def test_received_in_the_future_beyond_the_clock_skew_is_refused() -> None:
    skew = POLICY.intake.clock_skew_seconds
    assert accepted(intake_payload(received_at=(NOW + timedelta(seconds=skew)).isoformat()))
    payload = intake_payload(received_at=(NOW + timedelta(seconds=skew + 1)).isoformat())
    assert rejected_fields(payload) == [f"received_at: lies in the future (more than {skew} s ahead of our clock)"]


def test_received_before_the_policy_floor_is_refused() -> None:
    assert POLICY.intake.earliest_received_on.isoformat() == "2020-01-01"
    assert accepted(intake_payload(received_at="2020-01-01T00:00:00+08:00"))  # the floor, in Shanghai
    for before in ("2019-12-31T23:59:59+08:00", "2019-12-31T15:59:59+00:00", "0001-01-01T00:00:00+00:00"):
        assert rejected_fields(intake_payload(received_at=before)) == [
            "received_at: lies before 2020-01-01T00:00:00+08:00, the earliest the policy accepts"
        ]


def test_the_shipped_policies_state_the_same_window_and_others_get_the_default() -> None:
    assert POLICIES["standard"].intake == POLICIES["compressed"].intake == IntakePolicy()
    raw = POLICY.model_dump(exclude={"intake"})
    assert type(POLICY).model_validate(raw).intake == IntakePolicy()


@pytest.mark.parametrize("name", sorted(POLICIES))
@pytest.mark.parametrize("category", CATEGORIES)
def test_every_received_at_the_window_admits_can_be_classified(name: str, category: str) -> None:
    policy = POLICIES[name]
    floor = f"{policy.intake.earliest_received_on.isoformat()}T00:00:00+08:00"
    latest = NOW + timedelta(seconds=policy.intake.clock_skew_seconds)
    for received_at in (floor, latest.isoformat()):
        intake = validate_intake(intake_payload(category, received_at=received_at), now=NOW, policy=policy)
        tier = classify(intake, policy).tier
        assert all(c.due_at >= intake.received_at for c in initial_clocks(tier, intake.received_at, policy))


# -- what is coerced, and what is not (README, "What a complaint carries") -----------------


def _amount(payload: dict[str, Any], value: Any) -> None:
    payload["details"]["amount_disputed"]["amount"] = value


@pytest.mark.parametrize(
    ("change", "field"),
    [
        (lambda p: p.update(staff_misconduct_alleged="yes"), "staff_misconduct_alleged"),
        (lambda p: p.update(staff_misconduct_alleged="true"), "staff_misconduct_alleged"),
        (lambda p: p.update(staff_misconduct_alleged=1), "staff_misconduct_alleged"),
        (lambda p: p.update(received_at=1764316800), "received_at"),
        (lambda p: p.update(received_at="1764316800"), "received_at"),
        (lambda p: p.update(received_at=1764316800.5), "received_at"),
        (lambda p: _amount(p, "1_000"), "details.fees_and_interest.amount_disputed.amount"),
        (lambda p: _amount(p, "1e3"), "details.fees_and_interest.amount_disputed.amount"),
        (lambda p: _amount(p, "1,000.00"), "details.fees_and_interest.amount_disputed.amount"),
        (lambda p: _amount(p, "NaN"), "details.fees_and_interest.amount_disputed.amount"),
        (lambda p: p["customer"].update(customer_id=200117), "customer.customer_id"),
        (lambda p: p.update(channel="PHONE"), "channel"),
    ],
)
def test_what_is_not_coerced_is_refused_naming_the_field(change: Any, field: str) -> None:
    payload = intake_payload(received_at=NOW.isoformat())
    change(payload)
    errors = rejected_fields(payload)
    assert len(errors) == 1 and errors[0].startswith(f"{field}: "), errors


def test_a_unix_timestamp_is_refused_with_what_to_send_instead() -> None:
    assert rejected_fields(intake_payload(received_at=1764316800)) == [
        "received_at: a number (Unix timestamp) is not accepted: give an ISO 8601 date and time with its "
        "offset, e.g. 2026-11-28T09:30:00+08:00"
    ]


@pytest.mark.parametrize(
    ("amount", "kept"), [("8600.00", "8600.00"), (8600, "8600"), (8600.5, "8600.5"), (" 8600.50 ", "8600.50")]
)
def test_amounts_may_be_json_numbers_or_plain_decimal_strings(amount: Any, kept: str) -> None:
    payload = intake_payload(received_at=NOW.isoformat())
    _amount(payload, amount)
    assert str(accepted(payload).details.amount_disputed.amount) == kept  # type: ignore[union-attr]


def test_what_is_coerced() -> None:
    payload = intake_payload(received_at="2026-11-28T09:30:00Z")
    payload["customer"]["name"] = "  Chen Hua \n"
    intake = accepted(payload)
    assert intake.customer.name == "Chen Hua"  # surrounding whitespace is stripped
    assert intake.received_at.isoformat() == "2026-11-28T09:30:00+00:00"  # "Z" is UTC; an offset is kept
    assert intake.amounts[0].currency == "CNY"  # the default currency, when none is given


# -- property-based -------------------------------------------------------------------


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(valid_payloads())
def test_nothing_valid_is_refused(payload: dict[str, Any]) -> None:
    intake = accepted(payload)
    assert intake.category == Category(payload["details"]["category"])
    # What was accepted survives the trip through the workflow's data converter unchanged.
    assert ComplaintIntake.model_validate_json(intake.model_dump_json()) == intake


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(invalid_payloads())
def test_nothing_invalid_gets_through_and_the_error_names_the_field(case: tuple[dict[str, Any], str]) -> None:
    payload, field = case
    errors = rejected_fields(payload)
    assert any(e.startswith(f"{field}:") for e in errors), (field, errors)


@settings(max_examples=200)
@given(st.text(st.sampled_from(REFUSED_CHARACTERS), min_size=1, max_size=3), st.text(max_size=10))
def test_a_refused_character_anywhere_in_a_text_is_refused(refused: str, around: str) -> None:
    payload = intake_payload(received_at=NOW.isoformat())
    payload["summary"] = f"Paid{refused}{around}on time"
    assert any(e.startswith("summary:") for e in rejected_fields(payload))


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


def test_the_region_is_an_iso_3166_code_and_optional() -> None:
    assert accepted(intake_payload(received_at=NOW.isoformat())).region is None
    assert accepted(intake_payload(received_at=NOW.isoformat(), region="CN-SH")).region == "CN-SH"
    assert accepted(intake_payload(received_at=NOW.isoformat(), region="GB")).region == "GB"
    for bad in ("Shanghai", "cn-sh", "CN-", "CN-SHANG"):
        errors = rejected_fields(intake_payload(received_at=NOW.isoformat(), region=bad))
        assert any(e.startswith("region:") for e in errors), (bad, errors)

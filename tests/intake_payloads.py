"""Intake payloads for the property tests, valid and invalid, and the model's text fields.

The text fields are found by introspection: where each sits in a payload, the path pydantic
names in its errors, its length limit, and the longest value it accepts. Tests build on them
instead of a hand-kept list, so a text field added to ``models/intake.py`` is covered (and must
be given a value in ``full_payload``).
"""

from __future__ import annotations

import copy
import types
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from enum import Enum
from typing import Annotated, Any, Literal, Union, get_args, get_origin

from hypothesis import strategies as st
from pydantic import BaseModel, TypeAdapter

from models.intake import MAX_DESCRIPTION_CHARS, Channel, ComplaintIntake
from tests.factories import CATEGORY_DETAILS, intake_payload

CATEGORIES = sorted(CATEGORY_DETAILS)
CONTACTS = ("email", "phone", "postal_address")


@dataclass(frozen=True)
class TextField:
    """One free-text field (enumerations and literals are not free text)."""

    keys: tuple[str | int, ...]  # where it sits in a payload
    loc: str  # the dotted path pydantic names, e.g. details.contract_dispute.claims.0
    category: str | None  # the details category it belongs to, None when every intake has it
    adapter: TypeAdapter[str]  # validates a value of exactly the field's type

    @property
    def max_length(self) -> int:
        limit = self.adapter.json_schema().get("maxLength")
        assert isinstance(limit, int), f"{self.loc}: a text field without a length limit"
        return limit


def _tag(model: type[BaseModel]) -> str:
    default = model.model_fields["category"].default
    return str(default.value if isinstance(default, Enum) else default)


def _walk(
    tp: Any, metadata: list[Any], keys: tuple[str | int, ...], loc: tuple[str, ...], category: str | None
) -> list[TextField]:
    origin = get_origin(tp)
    if origin is Annotated:
        inner, *extra = get_args(tp)
        return _walk(inner, [*extra, *metadata], keys, loc, category)
    if origin in (Union, types.UnionType):
        members = [m for m in get_args(tp) if m is not type(None)]
        tagged = len(members) > 1 and all(isinstance(m, type) and issubclass(m, BaseModel) for m in members)
        found: list[TextField] = []
        for m in members:
            if tagged:  # the discriminated union of details: pydantic names the tag in the path
                found += _walk(m, [], keys, (*loc, _tag(m)), _tag(m))
            else:
                found += _walk(m, metadata, keys, loc, category)
        return found
    if origin is list:
        return _walk(get_args(tp)[0], [], (*keys, 0), (*loc, "0"), category)
    if tp is str:
        adapter: TypeAdapter[str] = TypeAdapter(Annotated[(str, *metadata)] if metadata else str)
        return [TextField(keys, ".".join(loc), category, adapter)]
    if isinstance(tp, type) and issubclass(tp, BaseModel):
        return text_fields(tp, keys, loc, category)
    if origin is Literal or (isinstance(tp, type) and issubclass(tp, Enum)):
        return []
    return []  # datetimes, amounts, flags: not text


def text_fields(
    model: type[BaseModel] = ComplaintIntake,
    keys: tuple[str | int, ...] = (),
    loc: tuple[str, ...] = (),
    category: str | None = None,
) -> list[TextField]:
    """Every free-text field of ``model``, nested models and list items included."""
    found: list[TextField] = []
    for name, info in model.model_fields.items():
        found += _walk(info.annotation, list(info.metadata), (*keys, name), (*loc, name), category)
    return found


# Every optional field with a value: with the categories' own, together they hold every text field.
OPTIONAL_DETAILS: dict[str, dict[str, Any]] = {
    "contract_dispute": {"clause_references": ["7.3 prepayment fee"]},
    "service_attitude": {"incident_at": "2026-11-20T10:00:00+08:00", "location": "Branch 12, Pudong"},
    "fees_and_interest": {"amount_disputed": {"amount": "8600.00", "currency": "CNY"}},
    "repayment_collection": {"collector": "Outsourced agency Beta"},
    "privacy": {"disclosed_to": "A chat group of 200 people", "discovered_at": "2026-11-21T08:00:00+08:00"},
    "product_design": {"contract_number": "EL-2025-0031"},
}


def full_payload(category: str) -> dict[str, Any]:
    """A valid payload of ``category`` with every optional field present."""
    payload = intake_payload(category, regulators=["NFRA"])
    payload["customer"].update(phone="+86 21 5555 0100", postal_address="88 Century Avenue, Pudong, Shanghai")
    payload["evidence"] = [{"uri": "dms://complaints/letter.pdf", "sha256": "ab" * 32, "description": "Letter"}]
    payload["details"].update(copy.deepcopy(OPTIONAL_DETAILS.get(category, {})))
    payload["product"] = "working_capital"
    payload["region"] = "CN-SH"
    return payload


def get(payload: Any, keys: tuple[str | int, ...]) -> Any:
    for key in keys:
        payload = payload[key]
    return payload


def put(payload: Any, keys: tuple[str | int, ...], value: Any) -> None:
    get(payload, keys[:-1])[keys[-1]] = value


def fields_of(category: str) -> list[TextField]:
    return [f for f in text_fields() if f.category in (None, category)]


def longest_value(field: TextField) -> str:
    """A value of exactly the field's maximum length that the field accepts."""
    n = field.max_length
    candidates = ["名" * n, "A" * n, "a" * n, "1" * n, "a" * (n - 10) + "@b.example", "+" + "1" * (n - 1)]
    candidates.append("AB-" + "C" * (n - 3))  # an ISO 3166-2 region code
    for candidate in candidates:
        try:
            return field.adapter.validate_python(candidate)
        except ValueError:
            continue
    raise AssertionError(f"{field.loc}: no candidate of {n} characters fits; add one to longest_value")


def longest_payload(category: str, contact: str) -> dict[str, Any]:
    """Every text field of ``category`` at its maximum length; the customer reachable only by ``contact``."""
    payload = full_payload(category)
    for field in fields_of(category):
        put(payload, field.keys, longest_value(field))
    payload["product"] = "commercial_property"  # a code of the policy's catalogue, not free text
    for other in CONTACTS:
        if other != contact:
            del payload["customer"][other]
    return payload


# -- hypothesis strategies ------------------------------------------------------------

# Characters no text field keeps (models/intake.py), and what the strategies below avoid.
REFUSED_CHARACTERS = "\x00\x01\x08\x1b\x7f\x9b\u2028\u2029\u202a\u202e\u2066\u2069"
BIDI_CONTROLS = "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"
_keepable = dict(codec="utf-8", exclude_categories=("Cs", "Cc", "Zl", "Zp"), exclude_characters=BIDI_CONTROLS)
one_line = st.characters(**_keepable)  # type: ignore[arg-type]
multi_line = st.characters(**_keepable, include_characters="\t\n\r")  # type: ignore[arg-type]

text = st.text(one_line, min_size=1, max_size=60).filter(lambda s: s.strip() != "")
code = st.from_regex(r"[A-Za-z0-9][A-Za-z0-9._:/-]{0,20}", fullmatch=True)
contract = st.from_regex(r"[A-Za-z0-9][A-Za-z0-9/-]{2,20}", fullmatch=True)
money = st.builds(
    lambda a, c: {"amount": str(a), "currency": c},
    st.decimals(min_value=Decimal("0.01"), max_value=Decimal("99999999.99"), places=2),
    st.sampled_from(["CNY", "USD", "HKD"]),
)
aware = st.datetimes(min_value=datetime(2020, 1, 2), max_value=datetime(2026, 11, 1), timezones=st.just(UTC)).map(
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
    category = draw(st.sampled_from(CATEGORIES))
    channel = draw(st.sampled_from([c.value for c in Channel]))
    regulators = draw(st.lists(st.sampled_from(["NFRA", "PBOC", "CSRC", "SAMR"]), unique=True, max_size=3))
    if channel == "regulator_referral" and not regulators:
        regulators = ["NFRA"]
    contact = draw(st.sampled_from(CONTACTS))
    contact_value = {"email": "a@b.example", "phone": "+86 21 5555 0000", "postal_address": "88 Century Ave, Shanghai"}
    return {
        "source_system": draw(code),
        "source_reference": draw(text),
        "channel": channel,
        "received_at": draw(aware),
        "customer": {"customer_id": draw(code), "name": draw(text), contact: contact_value[contact]},
        "summary": draw(text),
        "description": draw(st.text(multi_line, min_size=1, max_size=300).filter(lambda s: s.strip() != "")),
        "details": draw(details_by_category[category]),
        "regulators": regulators,
        "staff_misconduct_alleged": draw(st.booleans()),
        **draw(st.sampled_from([{}, {"product": "working_capital"}, {"product": "trade_finance"}])),
        **draw(st.sampled_from([{}, {"region": "CN-SH"}, {"region": "GB-ENG"}, {"region": "AU"}])),
    }


Mutation = Callable[[dict[str, Any]], None]


def drop(*keys: str) -> Mutation:
    def apply(p: dict[str, Any]) -> None:
        get(p, keys[:-1]).pop(keys[-1], None)

    return apply


def set_(*keys: str | int, value: Any) -> Mutation:
    def apply(p: dict[str, Any]) -> None:
        put(p, keys, value)

    return apply


# (mutation, the field the error must name); every mutation makes any valid payload invalid.
MUTATIONS: list[tuple[Mutation, str]] = [
    (drop("source_system"), "source_system"),
    (drop("customer"), "customer"),
    (set_("channel", value="telegram"), "channel"),
    (set_("received_at", value="2026-11-01T10:00:00"), "received_at"),  # no time zone
    (set_("received_at", value="2027-06-01T10:00:00+00:00"), "received_at"),  # in the future
    (set_("received_at", value="0001-01-01T00:00:00+00:00"), "received_at"),  # before the policy's floor
    (set_("received_at", value=1764000000), "received_at"),  # a Unix timestamp
    (set_("summary", value="s" * 201), "summary"),
    (set_("description", value="d" * (MAX_DESCRIPTION_CHARS + 1)), "description"),
    (set_("description", value="   "), "description"),
    (set_("description", value="Paid\x00on time"), "description"),
    (set_("summary", value="\x1b[2J\x1b[31mURGENT"), "summary"),  # an escape sequence for the terminal
    (set_("customer", "name", value="\u202eauH nehC"), "customer.name"),  # a right-to-left override
    (set_("customer", "postal_address", value="Lane " * 101), "customer.postal_address"),
    (set_("customer", "email", value="not-an-address"), "customer.email"),
    (set_("details", "category", value="weather"), "details"),
    (set_("regulators", value=["NFRA", "NFRA"]), "regulators"),
    (set_("regulators", value=["nfra lowercase"]), "regulators.0"),
    (set_("unexpected_field", value=1), "unexpected_field"),
    (set_("staff_misconduct_alleged", value="perhaps"), "staff_misconduct_alleged"),
    (set_("staff_misconduct_alleged", value="yes"), "staff_misconduct_alleged"),
    (set_("product", value="space_loans"), "product"),  # not in the policy's product catalogue
    (set_("region", value="Shanghai"), "region"),  # an ISO 3166 code, not a place name
]
CATEGORY_MUTATIONS: dict[str, list[tuple[Mutation, str]]] = {
    "contract_dispute": [
        (drop("details", "contract_number"), "details.contract_dispute.contract_number"),
        (set_("details", "claims", value=[]), "details.contract_dispute.claims"),
        (set_("details", "claims", value=["fine", "not\x00fine"]), "details.contract_dispute.claims.1"),
        (
            set_("details", "amounts_in_dispute", value=[{"amount": "-5"}]),
            "details.contract_dispute.amounts_in_dispute.0.amount",
        ),
        (
            set_("details", "amounts_in_dispute", value=[{"amount": "0"}]),
            "details.contract_dispute.amounts_in_dispute.0.amount",
        ),
    ],
    "service_attitude": [(drop("details", "staff_id"), "details.service_attitude.staff_id")],
    "fees_and_interest": [
        (
            set_("details", "amount_disputed", value={"amount": "1.234"}),
            "details.fees_and_interest.amount_disputed.amount",
        ),
        (
            set_("details", "amount_disputed", value={"amount": "1_000"}),
            "details.fees_and_interest.amount_disputed.amount",
        ),
        (set_("details", "charge_type", value="vibes"), "details.fees_and_interest.charge_type"),
    ],
    "repayment_collection": [
        (drop("details", "last_contact_at"), "details.repayment_collection.last_contact_at"),
        (set_("details", "last_contact_at", value="1764000000"), "details.repayment_collection.last_contact_at"),
    ],
    "privacy": [(set_("details", "data_involved", value=[]), "details.privacy.data_involved")],
    "product_design": [(drop("details", "product_code"), "details.product_design.product_code")],
    "other": [],
}


def mutations(payload: dict[str, Any]) -> st.SearchStrategy[tuple[Mutation, str]]:
    """What makes ``payload`` invalid, with the field the refusal must name: a known mutation, or
    a refused character inside one of its text fields."""
    category = payload["details"]["category"]
    known = st.sampled_from(MUTATIONS + CATEGORY_MUTATIONS[category])
    present = [f for f in fields_of(category) if _holds(payload, f.keys)]

    def inject(field: TextField, char: str) -> tuple[Mutation, str]:
        def apply(p: dict[str, Any]) -> None:
            value = get(p, field.keys)
            put(p, field.keys, value + char + value)

        return apply, field.loc

    return known | st.builds(inject, st.sampled_from(present), st.sampled_from(REFUSED_CHARACTERS))


@st.composite
def invalid_payloads(draw: st.DrawFn) -> tuple[dict[str, Any], str]:
    payload = copy.deepcopy(draw(valid_payloads()))
    mutate, loc = draw(mutations(payload))
    mutate(payload)
    return payload, loc


def _holds(payload: Any, keys: tuple[str | int, ...]) -> bool:
    try:
        return isinstance(get(payload, keys), str)
    except (KeyError, IndexError):
        return False

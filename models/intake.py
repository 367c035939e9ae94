"""What an intake system sends when it files a complaint (step 1 of the process).

Category-specific requirements are expressed as a discriminated union on
``details.category`` so that an error always names the missing field, e.g.
``details.contract_dispute.contract_number``.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from decimal import Decimal
from enum import StrEnum
from typing import Annotated, Literal

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    Strict,
    model_validator,
)

MAX_DESCRIPTION_CHARS = 20_000
MAX_SUMMARY_CHARS = 200

# -- what every text field may hold ----------------------------------------------------
# Refused everywhere (README, "What a complaint carries"): control characters but tab, line
# feed and carriage return (PostgreSQL cannot store NUL; escape sequences would drive the staff
# terminal), the Unicode line and paragraph separators (line breaks that one-line displays,
# logs and SMS do not expect), and the bidirectional embeddings, overrides and isolates (they
# reorder what staff read). The plain direction marks U+200E and U+200F stay allowed. Lone
# surrogates cannot even reach this check: pydantic refuses them as not a valid string.
_REFUSED = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")
_WHY_REFUSED = {
    "Cc": "no control characters but tab, line feed and carriage return",
    "Zl": "no line separators (use line feed)",
    "Zp": "no paragraph separators (use line feed)",
    "Cf": "no bidirectional embeddings, overrides or isolates",
}


def refused_character(text: str) -> str | None:
    """Why ``text`` cannot be kept, naming its first refused character; None when it can."""
    found = _REFUSED.search(text)
    if found is None:
        return None
    char = found.group()
    name = unicodedata.name(char, "control character").lower()
    why = _WHY_REFUSED[unicodedata.category(char)]
    return f"U+{ord(char):04X} ({name}) at character {found.start() + 1} is not allowed: {why}"


def _keepable(text: str) -> str:
    problem = refused_character(text)
    if problem:
        raise ValueError(problem)
    return text


# Last in every text type below, so the length and pattern errors stay pydantic's own.
KEEPABLE = AfterValidator(_keepable)

Code = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9][A-Za-z0-9._:/-]*$"), KEEPABLE]
ShortText = Annotated[str, Field(min_length=1, max_length=500), KEEPABLE]
Name = Annotated[str, Field(min_length=1, max_length=200), KEEPABLE]
ContractNumber = Annotated[str, Field(min_length=3, max_length=64, pattern=r"^[A-Za-z0-9][A-Za-z0-9/-]*$"), KEEPABLE]
RegulatorCode = Annotated[str, Field(min_length=2, max_length=32, pattern=r"^[A-Z][A-Z0-9_-]+$"), KEEPABLE]
CurrencyCode = Annotated[str, Field(max_length=3, pattern=r"^[A-Z]{3}$"), KEEPABLE]

# -- what is not coerced (README, "What a complaint carries") ---------------------------
_NUMBER = re.compile(r"[+-]?(\d+(\.\d*)?|\.\d+)")
_PLAIN_DECIMAL = re.compile(r"[+-]?\d+(\.\d+)?")


def _not_a_timestamp(value: object) -> object:
    if isinstance(value, (int, float, Decimal)) or (isinstance(value, str) and _NUMBER.fullmatch(value.strip())):
        raise ValueError(
            "a number (Unix timestamp) is not accepted: give an ISO 8601 date and time with its offset, "
            "e.g. 2026-11-28T09:30:00+08:00"
        )
    return value


def _plain_decimal(value: object) -> object:
    if isinstance(value, str) and not _PLAIN_DECIMAL.fullmatch(value.strip()):
        raise ValueError(
            "write the amount in plain decimal notation, e.g. 8600.00 "
            "(no exponent, underscores or thousands separators)"
        )
    return value


# A moment: an ISO 8601 string with its offset (or an aware datetime), never a Unix timestamp.
Moment = Annotated[AwareDatetime, BeforeValidator(_not_a_timestamp)]
# A yes/no: JSON true or false only, not "yes", "on", "1" or 1.
Flag = Annotated[bool, Strict()]
# An amount: a JSON number or a string in plain decimal notation.
Amount = Annotated[Decimal, BeforeValidator(_plain_decimal), Field(gt=0, max_digits=16, decimal_places=2)]


class StrictModel(BaseModel):
    """Unknown fields are errors: a typo in an intake payload must not vanish silently."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True, frozen=True)


class Channel(StrEnum):
    PHONE = "phone"
    EMAIL = "email"
    WEB_PLATFORM = "web_platform"
    APP = "app"
    LETTER = "letter"
    IN_PERSON = "in_person"
    REGULATOR_REFERRAL = "regulator_referral"


class Category(StrEnum):
    CONTRACT_DISPUTE = "contract_dispute"
    SERVICE_ATTITUDE = "service_attitude"
    FEES_AND_INTEREST = "fees_and_interest"
    REPAYMENT_COLLECTION = "repayment_collection"
    PRIVACY = "privacy"
    PRODUCT_DESIGN = "product_design"
    OTHER = "other"


class ComplaintFlag(StrEnum):
    """What a complaint is about that a regulatory pack may give its own limit (ASIC RG 271: 21 days)."""

    DEFAULT_NOTICE = "default_notice"
    HARDSHIP = "hardship"


class Money(StrictModel):
    amount: Amount
    currency: CurrencyCode = "CNY"


class Customer(StrictModel):
    customer_id: Code
    name: Name
    company: Name | None = None
    language: Literal["zh", "en"] = "zh"
    email: Annotated[str, Field(max_length=254, pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$"), KEEPABLE] | None = None
    phone: Annotated[str, Field(max_length=21, pattern=r"^\+?[0-9][0-9 -]{5,19}$"), KEEPABLE] | None = None
    postal_address: Annotated[str, Field(min_length=5, max_length=500), KEEPABLE] | None = None

    @model_validator(mode="after")
    def _reachable(self) -> Customer:
        if not (self.email or self.phone or self.postal_address):
            raise ValueError("customer needs at least one of email, phone or postal_address")
        return self


class EvidenceRef(StrictModel):
    """A pointer to a document held elsewhere, with a hash so it cannot change unnoticed."""

    uri: ShortText
    sha256: Annotated[str, Field(max_length=64, pattern=r"^[0-9a-f]{64}$"), KEEPABLE]
    description: ShortText | None = None


class ContractDisputeDetails(StrictModel):
    category: Literal[Category.CONTRACT_DISPUTE] = Category.CONTRACT_DISPUTE
    contract_number: ContractNumber
    claims: list[ShortText] = Field(min_length=1, max_length=50)
    amounts_in_dispute: list[Money] = Field(min_length=1, max_length=50)
    clause_references: list[ShortText] = Field(default_factory=list, max_length=50)


class ServiceAttitudeDetails(StrictModel):
    category: Literal[Category.SERVICE_ATTITUDE] = Category.SERVICE_ATTITUDE
    staff_id: Code
    incident_at: Moment | None = None
    location: ShortText | None = None


class FeesAndInterestDetails(StrictModel):
    category: Literal[Category.FEES_AND_INTEREST] = Category.FEES_AND_INTEREST
    contract_number: ContractNumber
    charge_type: Literal[
        "interest", "penalty_interest", "arrangement_fee", "early_repayment_fee", "service_fee", "other"
    ]
    amount_disputed: Money


class RepaymentCollectionDetails(StrictModel):
    category: Literal[Category.REPAYMENT_COLLECTION] = Category.REPAYMENT_COLLECTION
    contract_number: ContractNumber
    practice: Literal[
        "harassment", "third_party_contact", "excessive_frequency", "threats", "misrepresentation", "other"
    ]
    last_contact_at: Moment
    collector: ShortText | None = None


class PrivacyDetails(StrictModel):
    category: Literal[Category.PRIVACY] = Category.PRIVACY
    data_involved: list[ShortText] = Field(min_length=1, max_length=20)
    disclosed_to: ShortText | None = None
    discovered_at: Moment | None = None


class ProductDesignDetails(StrictModel):
    category: Literal[Category.PRODUCT_DESIGN] = Category.PRODUCT_DESIGN
    product_code: Code
    defect: Annotated[str, Field(min_length=1, max_length=2000), KEEPABLE]
    contract_number: ContractNumber | None = None


class OtherDetails(StrictModel):
    category: Literal[Category.OTHER] = Category.OTHER


ComplaintDetails = Annotated[
    ContractDisputeDetails
    | ServiceAttitudeDetails
    | FeesAndInterestDetails
    | RepaymentCollectionDetails
    | PrivacyDetails
    | ProductDesignDetails
    | OtherDetails,
    Field(discriminator="category"),
]


class ComplaintIntake(StrictModel):
    """One complaint as an intake system files it. Validated before any workflow starts."""

    source_system: Code
    source_reference: Annotated[str, Field(min_length=1, max_length=128), KEEPABLE]
    channel: Channel
    received_at: Moment
    customer: Customer
    summary: Annotated[str, Field(min_length=1, max_length=MAX_SUMMARY_CHARS), KEEPABLE]
    description: Annotated[str, Field(min_length=1, max_length=MAX_DESCRIPTION_CHARS), KEEPABLE]
    details: ComplaintDetails
    regulators: list[RegulatorCode] = Field(
        default_factory=list,
        max_length=10,
        description="Regulators the complaint was lodged with or referred by (e.g. NFRA, PBOC).",
    )
    staff_misconduct_alleged: Flag = False
    evidence: list[EvidenceRef] = Field(default_factory=list, max_length=100)
    flags: list[ComplaintFlag] = Field(
        default_factory=list,
        max_length=len(ComplaintFlag),
        description="About a default notice or hardship (a pack may give these a limit of their own).",
    )
    product: Code | None = Field(
        default=None,
        description="The product complained about, a code of the policy's product catalogue "
        "(reporting.products); a product design complaint's product_code stands in when absent.",
    )
    region: Annotated[str, Field(max_length=6, pattern=r"^[A-Z]{2}(-[A-Z0-9]{1,3})?$"), KEEPABLE] | None = Field(
        default=None,
        description="Where the customer is, as an ISO 3166-1 or 3166-2 code (CN-SH, GB-ENG), for surge detection.",
    )

    @model_validator(mode="after")
    def _consistent(self) -> ComplaintIntake:
        if len(set(self.regulators)) != len(self.regulators):
            raise ValueError("regulators: each regulator may be named once")
        if self.channel == Channel.REGULATOR_REFERRAL and not self.regulators:
            raise ValueError("regulators: a regulator referral must name the referring regulator")
        return self

    @property
    def category(self) -> Category:
        return Category(self.details.category)

    @property
    def contract_number(self) -> str | None:
        return getattr(self.details, "contract_number", None)

    @property
    def product_code(self) -> str | None:
        """The product the complaint is about: as filed, or the defective product's code."""
        return self.product or getattr(self.details, "product_code", None)

    @property
    def clause_references(self) -> list[str]:
        return list(getattr(self.details, "clause_references", []))

    @property
    def amounts(self) -> list[Money]:
        if isinstance(self.details, ContractDisputeDetails):
            return list(self.details.amounts_in_dispute)
        if isinstance(self.details, FeesAndInterestDetails):
            return [self.details.amount_disputed]
        return []

    @property
    def complaint_id(self) -> str:
        return complaint_id_for(self.source_system, self.source_reference)


def complaint_id_for(source_system: str, source_reference: str) -> str:
    """Same source system and reference, same complaint id: re-filing finds the first one."""
    digest = hashlib.sha256(f"{source_system}\x1f{source_reference}".encode()).hexdigest()
    return f"CMP-{digest[:12].upper()}"


def workflow_id_for(complaint_id: str) -> str:
    return f"complaint-{complaint_id}"

"""What an intake system sends when it files a complaint (step 1 of the process).

Category-specific requirements are expressed as a discriminated union on
``details.category`` so that an error always names the missing field, e.g.
``details.contract_dispute.contract_number``.
"""

from __future__ import annotations

import hashlib
from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import Annotated, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, model_validator

MAX_DESCRIPTION_CHARS = 20_000
MAX_SUMMARY_CHARS = 200

Code = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9][A-Za-z0-9._:/-]*$")]
ShortText = Annotated[str, Field(min_length=1, max_length=500)]
ContractNumber = Annotated[str, Field(min_length=3, max_length=64, pattern=r"^[A-Za-z0-9][A-Za-z0-9/-]*$")]
RegulatorCode = Annotated[str, Field(min_length=2, max_length=32, pattern=r"^[A-Z][A-Z0-9_-]+$")]


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


class Money(StrictModel):
    amount: Decimal = Field(gt=0, max_digits=16, decimal_places=2)
    currency: str = Field(default="CNY", pattern=r"^[A-Z]{3}$")


class Customer(StrictModel):
    customer_id: Code
    name: Annotated[str, Field(min_length=1, max_length=200)]
    company: Annotated[str, Field(min_length=1, max_length=200)] | None = None
    language: Literal["zh", "en"] = "zh"
    email: Annotated[str, Field(max_length=254, pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$")] | None = None
    phone: Annotated[str, Field(pattern=r"^\+?[0-9][0-9 -]{5,19}$")] | None = None
    postal_address: Annotated[str, Field(min_length=5, max_length=500)] | None = None

    @model_validator(mode="after")
    def _reachable(self) -> Customer:
        if not (self.email or self.phone or self.postal_address):
            raise ValueError("customer needs at least one of email, phone or postal_address")
        return self


class EvidenceRef(StrictModel):
    """A pointer to a document held elsewhere, with a hash so it cannot change unnoticed."""

    uri: Annotated[str, Field(min_length=1, max_length=500)]
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$")
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
    incident_at: AwareDatetime | None = None
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
    last_contact_at: AwareDatetime
    collector: ShortText | None = None


class PrivacyDetails(StrictModel):
    category: Literal[Category.PRIVACY] = Category.PRIVACY
    data_involved: list[ShortText] = Field(min_length=1, max_length=20)
    disclosed_to: ShortText | None = None
    discovered_at: AwareDatetime | None = None


class ProductDesignDetails(StrictModel):
    category: Literal[Category.PRODUCT_DESIGN] = Category.PRODUCT_DESIGN
    product_code: Code
    defect: Annotated[str, Field(min_length=1, max_length=2000)]
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
    source_reference: Annotated[str, Field(min_length=1, max_length=128)]
    channel: Channel
    received_at: AwareDatetime
    customer: Customer
    summary: Annotated[str, Field(min_length=1, max_length=MAX_SUMMARY_CHARS)]
    description: Annotated[str, Field(min_length=1, max_length=MAX_DESCRIPTION_CHARS)]
    details: ComplaintDetails
    regulators: list[RegulatorCode] = Field(
        default_factory=list,
        max_length=10,
        description="Regulators the complaint was lodged with or referred by (e.g. NFRA, PBOC).",
    )
    staff_misconduct_alleged: bool = False
    evidence: list[EvidenceRef] = Field(default_factory=list, max_length=100)

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


def received_at_problem(received_at: datetime, now: datetime, skew_seconds: int = 300) -> str | None:
    """A complaint cannot be received in the future (clock skew aside)."""
    if (received_at - now).total_seconds() > skew_seconds:
        return "received_at: lies in the future"
    return None

"""Messages to customers and staff; each idempotency key goes out once."""

from __future__ import annotations

from typing import Any

from pydantic import AwareDatetime, Field

from models.base import Model
from models.clocks import Clock
from models.complaint import Classification
from models.intake import ComplaintIntake, Customer


class AcknowledgementRequest(Model):
    complaint_id: str
    intake: ComplaintIntake
    classification: Classification
    clocks: list[Clock]


class CustomerAddress(Model):
    """What a letter to the customer needs of the complaint: who, how to reach them, about what."""

    customer: Customer
    summary: str
    received_at: AwareDatetime

    @classmethod
    def of(cls, intake: ComplaintIntake) -> CustomerAddress:
        return cls(customer=intake.customer, summary=intake.summary, received_at=intake.received_at)


class CustomerNotification(Model):
    """A templated message to the customer; the key makes it go out once."""

    idempotency_key: str
    complaint_id: str
    kind: str  # a template name in activities/templates: feedback, resolution_proposal, ...
    to: CustomerAddress | None = None
    intake: ComplaintIntake | None = Field(
        default=None, description="Only in messages scheduled before they were lean: the whole intake."
    )
    policy_version: str
    context: dict[str, Any] = Field(default_factory=dict)

    @property
    def address(self) -> CustomerAddress:
        if self.to is not None:
            return self.to
        if self.intake is None:
            raise ValueError("to: a customer notification needs the customer's address")
        return CustomerAddress.of(self.intake)


class StaffNotification(Model):
    """A notice to staff (by staff id); each recipient gets it once per key."""

    idempotency_key: str
    complaint_id: str
    kind: str
    recipients: list[str]
    subject: str
    body: str


class NotificationReceipt(Model):
    idempotency_key: str
    channel: str
    recipient: str
    subject: str
    already_sent: bool

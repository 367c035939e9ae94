"""Messages to customers and staff; each idempotency key goes out once."""

from __future__ import annotations

from typing import Any

from pydantic import Field

from models.base import Model
from models.clocks import Clock
from models.complaint import Classification
from models.intake import ComplaintIntake


class AcknowledgementRequest(Model):
    complaint_id: str
    intake: ComplaintIntake
    classification: Classification
    clocks: list[Clock]


class CustomerNotification(Model):
    """A templated message to the customer; the key makes it go out once."""

    idempotency_key: str
    complaint_id: str
    kind: str  # a template name in activities/templates: feedback, resolution_proposal, ...
    intake: ComplaintIntake
    policy_version: str
    context: dict[str, Any] = Field(default_factory=dict)


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

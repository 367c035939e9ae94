"""Customer and staff notifications behind one ``Notifier`` interface.

Every message carries an idempotency key; a notifier sends a key at most once, so an
activity retry or a worker crash can never send a message twice.
"""

from __future__ import annotations

import hashlib
import smtplib
from dataclasses import dataclass
from datetime import datetime
from email.message import EmailMessage
from pathlib import Path
from typing import Protocol

import httpx
import structlog
from jinja2 import Environment, FileSystemLoader, StrictUndefined
from sqlalchemy import Engine
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, select
from temporalio import activity

from activities import metrics
from activities.logging import activity_logger
from db.tables import OutboxMessage, utc_now
from domain.policy import PolicyStore
from domain.times import fmt_utc
from models.intake import Customer
from models.notifications import (
    AcknowledgementRequest,
    CustomerAddress,
    CustomerNotification,
    NotificationReceipt,
    StaffNotification,
)

TEMPLATES = Path(__file__).resolve().parent / "templates"

TIER_LABELS = {
    "zh": {"simple": "简单投诉", "complex": "复杂投诉", "major": "重大投诉"},
    "en": {"simple": "simple", "complex": "complex", "major": "major"},
}
CLOCK_LABELS_ZH = {
    "acknowledgement": "受理确认",
    "simple_first_response": "解决方案（简单投诉）",
    "complex_first_response": "首次反馈（复杂投诉）",
    "major_first_response": "启动内部调查（重大投诉）",
    "regulatory_decision": "处理决定（监管时限）",
}


@dataclass(frozen=True)
class OutgoingMessage:
    idempotency_key: str
    complaint_id: str
    kind: str
    channel: str
    recipient: str
    language: str
    subject: str
    body: str


def send_staff_notices(
    notifier: Notifier,
    key: str,
    recipients: list[str],
    *,
    kind: str,
    subject: str,
    body: str,
    always_suffix: bool = False,
) -> int:
    """A notice about something other than one complaint (training, a risk case, a clause review)
    to each of ``recipients``, once each: the key is ``key`` for a lone recipient (unless
    ``always_suffix``), else ``key:<staff id>``. Returns how many were sent now."""
    sent = 0
    for staff_id in recipients:
        once = key if len(recipients) == 1 and not always_suffix else f"{key}:{staff_id}"
        message = OutgoingMessage(
            idempotency_key=once,
            complaint_id="",  # about a person, a customer or a clause, not one complaint
            kind=kind,
            channel="staff",
            recipient=staff_id,
            language="en",
            subject=subject,
            body=body,
        )
        sent += notifier.send(message)
    return sent


class Notifier(Protocol):
    def send(self, message: OutgoingMessage) -> bool:
        """Deliver the message once; False when its key was delivered before."""
        ...


def message_id(idempotency_key: str) -> str:
    """A Message-ID fixed by the idempotency key, so a resend is recognisably the same message."""
    return f"<{hashlib.sha256(idempotency_key.encode()).hexdigest()[:32]}@complaints.local>"


class SmtpSender:
    def __init__(self, host: str, port: int, sender: str, timeout: float = 10) -> None:
        self._host, self._port, self._sender, self._timeout = host, port, sender, timeout

    def deliver(self, message: OutgoingMessage) -> None:
        mail = EmailMessage()
        mail["From"], mail["To"], mail["Subject"] = self._sender, message.recipient, message.subject
        mail["Message-ID"] = message_id(message.idempotency_key)
        mail["Content-Language"] = message.language
        mail.set_content(message.body)
        with smtplib.SMTP(self._host, self._port, timeout=self._timeout) as smtp:
            smtp.send_message(mail)


class SmsGateway:
    """An SMS provider's HTTP API; the Idempotency-Key header lets it drop a resend."""

    def __init__(self, endpoint: str, timeout: float = 10) -> None:
        self._endpoint = endpoint
        self._client = httpx.Client(timeout=timeout)

    def deliver(self, message: OutgoingMessage) -> None:
        response = self._client.post(
            self._endpoint,
            json={"to": message.recipient, "text": f"{message.subject}\n{message.body}"},
            headers={"Idempotency-Key": message.idempotency_key},
        )
        response.raise_for_status()


class ChannelNotifier:
    """E-mail over SMTP and SMS over HTTP; letters and staff notices stay in the outbox.

    The outbox row is written as ``pending`` before anything leaves and marked ``sent`` after,
    so a message is never lost; a retry after a crash between the two resends with the same
    Message-ID / Idempotency-Key, which the receiving side uses to drop the duplicate.
    """

    def __init__(self, engine: Engine, email: SmtpSender | None = None, sms: SmsGateway | None = None) -> None:
        self._engine = engine
        self._adapters = {"email": email, "sms": sms}
        self._log = structlog.get_logger()

    def send(self, message: OutgoingMessage) -> bool:
        with Session(self._engine) as session:
            row = session.exec(
                select(OutboxMessage).where(OutboxMessage.idempotency_key == message.idempotency_key)
            ).first()
            if row is not None and row.status == "sent":
                return False
            if row is None:
                session.add(OutboxMessage(**message.__dict__, status="pending", created_at=utc_now()))
                try:
                    session.commit()
                except IntegrityError:
                    session.rollback()
        adapter = self._adapters.get(message.channel)
        if adapter is not None:
            try:
                adapter.deliver(message)  # an exception leaves the row pending; the activity retries
            except Exception:
                metrics.notification_failed(message.channel)
                raise
        with Session(self._engine) as session:
            row = session.exec(
                select(OutboxMessage).where(OutboxMessage.idempotency_key == message.idempotency_key)
            ).one()
            row.status, row.sent_at = "sent", utc_now()
            session.add(row)
            session.commit()
        self._log.info(
            "notification sent",
            complaint_id=message.complaint_id,
            key=message.idempotency_key,
            channel=message.channel,
            # A member of staff by id; a customer's address and the letter stay out of the log
            # (the outbox keeps them, sealed at rest: README, "The projection: encrypted at rest").
            recipient=message.recipient if message.channel == "staff" else None,
            via=message.channel if adapter else "outbox",
        )
        return True


class OutboxNotifier(ChannelNotifier):
    """The default: no channel adapters, so the outbox table (and the log) is the delivery."""

    def __init__(self, engine: Engine) -> None:
        super().__init__(engine)


def contact_channel(customer: Customer) -> tuple[str, str]:
    """The customer's preferred reachable channel: e-mail, then SMS, then letter."""
    if customer.email:
        return "email", customer.email
    if customer.phone:
        return "sms", customer.phone
    return "letter", customer.postal_address or ""


class Templates:
    def __init__(self, directory: Path = TEMPLATES) -> None:
        self._env = Environment(
            loader=FileSystemLoader(directory), undefined=StrictUndefined, keep_trailing_newline=True
        )
        self._env.filters["utc"] = _utc

    def render(self, name: str, language: str, **context: object) -> tuple[str, str]:
        """(subject, body): the first rendered line is the subject."""
        text = self._env.get_template(f"{name}.{language}.j2").render(**context)
        subject, _, body = text.partition("\n")
        return subject.strip(), body.lstrip("\n")


def _utc(value: object) -> object:
    """A moment as every reader sees it (``domain.times``): converted to UTC and labelled."""
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value)
        except ValueError:
            return value
    if not isinstance(value, datetime):
        return value
    return fmt_utc(value)


class NotificationActivities:
    def __init__(self, notifier: Notifier, policies: PolicyStore, templates: Templates | None = None) -> None:
        self._notifier = notifier
        self._policies = policies
        self._templates = templates or Templates()

    @activity.defn
    def send_acknowledgement(self, request: AcknowledgementRequest) -> NotificationReceipt:
        """Tell the customer we have the complaint and which deadlines now apply."""
        language = request.intake.customer.language
        return self._to_customer(
            CustomerNotification(
                idempotency_key=f"{request.complaint_id}:acknowledgement",
                complaint_id=request.complaint_id,
                kind="acknowledgement",
                to=CustomerAddress.of(request.intake),
                policy_version=request.classification.policy_version,
                context={
                    "tier_label": TIER_LABELS[language][request.classification.tier.value],
                    "clocks": [
                        {**c.model_dump(), "label_zh": CLOCK_LABELS_ZH.get(c.name, c.label)} for c in request.clocks
                    ],
                },
            )
        )

    @activity.defn
    def notify_customer(self, request: CustomerNotification) -> NotificationReceipt:
        """A templated message to the customer (feedback, proposal, extension, final response, ...)."""
        return self._to_customer(request)

    def _to_customer(self, request: CustomerNotification) -> NotificationReceipt:
        to = request.address
        language = to.customer.language
        channel, recipient = contact_channel(to.customer)
        subject, body = self._templates.render(
            request.kind,
            language,
            complaint_id=request.complaint_id,
            customer=to.customer,
            summary=to.summary,
            received_at=to.received_at,
            **request.context,
        )
        sent = self._notifier.send(
            OutgoingMessage(
                idempotency_key=request.idempotency_key,
                complaint_id=request.complaint_id,
                kind=request.kind,
                channel=channel,
                recipient=recipient,
                language=language,
                subject=subject,
                body=body,
            )
        )
        activity_logger(request.complaint_id).info(
            "customer notified", kind=request.kind, sent_now=sent, channel=channel
        )
        return NotificationReceipt(
            idempotency_key=request.idempotency_key,
            channel=channel,
            recipient=recipient,
            subject=subject,
            already_sent=not sent,
        )

    @activity.defn
    def notify_staff(self, request: StaffNotification) -> int:
        """Tell staff (by id) about a complaint; returns how many were sent now."""
        sent = 0
        for staff_id in request.recipients:
            sent += self._notifier.send(
                OutgoingMessage(
                    idempotency_key=f"{request.idempotency_key}:{staff_id}",
                    complaint_id=request.complaint_id,
                    kind=request.kind,
                    channel="staff",
                    recipient=staff_id,
                    language="en",
                    subject=request.subject,
                    body=request.body,
                )
            )
        activity_logger(request.complaint_id).info("staff notified", kind=request.kind, recipients=request.recipients)
        return sent

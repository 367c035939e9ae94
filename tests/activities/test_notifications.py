"""Notifications that really leave: SMTP on loopback, outbox recorded before sending."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from email.message import Message

import pytest
from sqlalchemy import Engine
from temporalio.client import Client

from activities.notifications import (
    ChannelNotifier,
    OutgoingMessage,
    SmtpSender,
    message_id,
)
from complaints.intake import ComplaintIntakeClient
from domain.policy import PolicyStore
from models.complaint import Status
from tests.factories import intake_payload
from tests.helpers import outbox, status_once
from tests.smtp_server import SmtpServer
from worker import build_worker


def outgoing(key: str, recipient: str) -> OutgoingMessage:
    return OutgoingMessage(
        idempotency_key=key,
        complaint_id="CMP-UNIT",
        kind="acknowledgement",
        channel="email",
        recipient=recipient,
        language="en",
        subject="We have your complaint",
        body="Hello",
    )


@asynccontextmanager
async def smtp_worker(
    client: Client, engine: Engine, policies: PolicyStore, port: int
) -> AsyncIterator[ComplaintIntakeClient]:
    task_queue = f"smtp-{uuid.uuid4().hex[:6]}"
    notifier = ChannelNotifier(engine, email=SmtpSender("127.0.0.1", port, "complaints@lender.example"))
    with ThreadPoolExecutor(max_workers=8) as executor:
        async with build_worker(
            client, task_queue=task_queue, engine=engine, policies=policies, executor=executor, notifier=notifier
        ):
            yield ComplaintIntakeClient(client, task_queue=task_queue)


async def test_the_acknowledgement_leaves_by_smtp_once(client: Client, engine: Engine, policies: PolicyStore) -> None:
    with SmtpServer() as smtp:
        smtp.mailbox.refuse_next = 2  # the mail server is busy at first: the activity retries
        async with smtp_worker(client, engine, policies, smtp.port) as intake:
            address = f"{uuid.uuid4().hex[:8]}@customer.example"
            payload = intake_payload(
                "fees_and_interest",
                customer={"customer_id": "C-SMTP", "name": "Mail Test", "language": "en", "email": address},
            )
            filed = await intake.file(payload)
            await status_once(intake.handle(filed.complaint_id), {Status.IN_HANDLING})

            [mail] = smtp.mailbox.to(address)
            assert mail["Subject"] == f"We have received your complaint {filed.complaint_id}"
            assert mail["Message-ID"] == message_id(f"{filed.complaint_id}:acknowledgement")
            assert "Decision (regulatory)" in _text(mail)
            [row] = outbox(engine, filed.complaint_id, "acknowledgement")
            assert row.status == "sent" and row.sent_at is not None
            await intake.withdraw(filed.complaint_id, "test done", "test")


def _text(mail: Message) -> str:
    payload = mail.get_payload(decode=True)
    return payload.decode() if isinstance(payload, bytes) else str(payload)


def test_a_crash_between_sending_and_recording_resends_the_same_message(engine: Engine) -> None:
    """The row stays pending; the retry resends with the same Message-ID, so the receiver keeps one."""
    with SmtpServer() as smtp:
        sender = SmtpSender("127.0.0.1", smtp.port, "complaints@lender.example")
        address, key = f"{uuid.uuid4().hex[:8]}@customer.example", f"CMP-UNIT:{uuid.uuid4().hex[:6]}"

        class DiesAfterSending:
            def deliver(self, message: OutgoingMessage) -> None:
                sender.deliver(message)
                raise RuntimeError("worker killed after the SMTP server accepted the message")

        with pytest.raises(RuntimeError):
            ChannelNotifier(engine, email=DiesAfterSending()).send(outgoing(key, address))  # type: ignore[arg-type]
        assert [r.status for r in outbox(engine, "CMP-UNIT") if r.idempotency_key == key] == ["pending"]

        notifier = ChannelNotifier(engine, email=sender)
        assert notifier.send(outgoing(key, address)) is True
        assert notifier.send(outgoing(key, address)) is False, "sent once recorded, never again"

        assert smtp.mailbox.distinct_ids(address) == {message_id(key)}
        assert [r.status for r in outbox(engine, "CMP-UNIT") if r.idempotency_key == key] == ["sent"]


def test_letters_write_every_time_in_utc_labelled_whatever_its_offset() -> None:
    """One convention for every time a person reads (README): converted to UTC, labelled."""
    from datetime import datetime, timedelta, timezone

    from activities.notifications import Templates

    templates = Templates()
    shanghai = datetime(2026, 12, 12, 9, 30, tzinfo=timezone(timedelta(hours=8)))
    for language in ("en", "zh"):
        _, body = templates.render(
            "extension",
            language,
            complaint_id="CMP-TZ",
            customer={"name": "T"},
            reason="r",
            label="l",
            new_due=shanghai.isoformat(),
        )
        assert "2026-12-12 01:30 UTC" in body, body
        assert "09:30" not in body and "CST" not in body

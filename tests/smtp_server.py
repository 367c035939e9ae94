"""An SMTP server on loopback (aiosmtpd) that keeps what arrives and can refuse for a while."""

from __future__ import annotations

import asyncio
import email
import threading
from email.message import Message
from typing import Any

from aiosmtpd.controller import Controller

from tests.conftest import free_port


class Mailbox:
    def __init__(self) -> None:
        self.messages: list[Message] = []
        self.refuse_next = 0  # answer "451 try again" to this many messages first
        self.hold = threading.Event()  # while set, a message's answer waits (the sender hangs)
        self.held = threading.Event()  # set once a message is being held

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        while self.hold.is_set():
            self.held.set()
            await asyncio.sleep(0.05)
        if self.refuse_next:
            self.refuse_next -= 1
            return "451 4.3.0 try again later"
        self.messages.append(email.message_from_bytes(envelope.content))
        return "250 OK"

    def to(self, recipient: str) -> list[Message]:
        return [m for m in self.messages if m["To"] == recipient]

    def distinct_ids(self, recipient: str) -> set[str]:
        return {m["Message-ID"] for m in self.to(recipient)}


class SmtpServer:
    def __init__(self) -> None:
        self.mailbox = Mailbox()
        self.port = free_port()
        self._controller = Controller(self.mailbox, hostname="127.0.0.1", port=self.port)

    def __enter__(self) -> SmtpServer:
        self._controller.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.mailbox.hold.clear()
        self._controller.stop()

"""SMS through a provider's HTTP API on loopback: one message per key, even when it fails first."""

from __future__ import annotations

import json
import threading
import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from sqlalchemy import Engine
from temporalio.client import Client

from activities.notifications import ChannelNotifier, SmsGateway
from complaints.intake import ComplaintIntakeClient
from domain.policy import PolicyStore
from models.complaint import Status
from tests.factories import intake_payload
from tests.helpers import outbox, status_once
from worker import build_worker


class SmsProvider:
    """Keeps the first text per Idempotency-Key; answers 503 to the first ``fail_first`` posts."""

    def __init__(self, fail_first: int = 0) -> None:
        self.texts: dict[str, dict[str, Any]] = {}
        self.posts: Counter[str] = Counter()
        self.fail_first = fail_first
        provider = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                key = self.headers.get("Idempotency-Key", "")
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))))
                provider.posts[key] += 1
                status = 503 if sum(provider.posts.values()) <= provider.fail_first else 200
                if status == 200:
                    provider.texts.setdefault(key, body)
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

        self._http = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._http.server_address[1]}/sms"
        threading.Thread(target=self._http.serve_forever, daemon=True).start()

    def close(self) -> None:
        self._http.shutdown()
        self._http.server_close()


async def test_the_acknowledgement_goes_out_by_sms_once(client: Client, engine: Engine, policies: PolicyStore) -> None:
    provider = SmsProvider(fail_first=2)
    phone = f"+86 139 {uuid.uuid4().int % 10**8:08d}"
    try:
        task_queue = f"sms-{uuid.uuid4().hex[:6]}"
        notifier = ChannelNotifier(engine, sms=SmsGateway(provider.url))
        with ThreadPoolExecutor(max_workers=8) as executor:
            async with build_worker(
                client, task_queue=task_queue, engine=engine, policies=policies, executor=executor, notifier=notifier
            ):
                intake = ComplaintIntakeClient(client, task_queue=task_queue)
                filed = await intake.file(
                    intake_payload(
                        "other", customer={"customer_id": "C-SMS", "name": "王芳", "language": "zh", "phone": phone}
                    )
                )
                await status_once(intake.handle(filed.complaint_id), {Status.IN_HANDLING})

                key = f"{filed.complaint_id}:acknowledgement"
                assert list(provider.texts) == [key] and provider.posts[key] == 3, "two 503s, then sent once"
                text = provider.texts[key]
                assert text["to"] == phone and text["text"].startswith(f"【投诉受理确认】{filed.complaint_id}")
                [row] = outbox(engine, filed.complaint_id, "acknowledgement")
                assert (row.channel, row.status) == ("sms", "sent")
                await intake.withdraw(filed.complaint_id, "test done", "test")
    finally:
        provider.close()

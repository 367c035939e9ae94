"""A regulator's intake endpoint on loopback: records reports, dedupes by Idempotency-Key,
and can fail a number of times, be down, reject reports, or hold a request."""

from __future__ import annotations

import json
import threading
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class RegulatorServer:
    def __init__(self) -> None:
        self.reports: dict[str, dict[str, Any]] = {}  # first body per key: what was filed
        self.posts: Counter[str] = Counter()  # every POST per key, including failed ones
        self.fail_first = 0  # per key, answer 503 this many times first
        self.down = threading.Event()  # while set, every POST gets 503
        self.reject = False  # answer 422: the report is invalid
        self.hold = threading.Event()  # while set, a POST is recorded, then the answer waits
        self.held = threading.Event()  # set when a request is being held
        self._lock = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:  # quiet
                pass

            def do_POST(self) -> None:
                key = self.headers.get("Idempotency-Key", "")
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))))
                with server._lock:
                    server.posts[key] += 1
                    attempt = server.posts[key]
                if server.reject:
                    return self._answer(422, {"error": "missing field: contract_annex"})
                if server.down.is_set() or attempt <= server.fail_first:
                    return self._answer(503, {"error": "unavailable"})
                with server._lock:
                    duplicate = key in server.reports
                    server.reports.setdefault(key, body)
                if server.hold.is_set():
                    server.held.set()
                    while server.hold.is_set():
                        threading.Event().wait(0.05)
                self._answer(200, {"acknowledgement_id": f"ACK-{abs(hash(key)) % 10**8}", "duplicate": duplicate})

            def _answer(self, status: int, payload: dict[str, Any]) -> None:
                data = json.dumps(payload).encode()
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the worker was killed while we held the request

        self._http = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._http.server_address[1]}/reports"
        self._thread = threading.Thread(target=self._http.serve_forever, daemon=True)

    def __enter__(self) -> RegulatorServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.hold.clear()
        self._http.shutdown()
        self._http.server_close()

    def filed_for(self, complaint_id: str) -> dict[str, dict[str, Any]]:
        return {k: v for k, v in self.reports.items() if k.startswith(complaint_id)}

"""A real HTTP receiver on 127.0.0.1 that checks Standard Webhooks signatures.

Runs ``http.server`` in a thread of the test process. Each endpoint is a path
(``/hooks/<name>``) with its own secret, scripted answers and an optional delay.
"""

from __future__ import annotations

import json
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from standardwebhooks import Webhook, WebhookVerificationError


@dataclass
class Received:
    path: str
    webhook_id: str
    verified: bool
    body: dict[str, Any]
    status: int


@dataclass
class Route:
    secret: str | None = None
    # answers to give in order; when used up, ``default`` is answered
    script: list[int] = field(default_factory=list)
    default: int = 200
    delay: float = 0.0


class Receiver:
    def __init__(self) -> None:
        self.routes: dict[str, Route] = {}
        self.received: list[Received] = []
        self.arrived: list[str] = []  # webhook-ids as requests arrive, before any delay
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                length = int(self.headers.get("content-length", "0"))
                raw = self.rfile.read(length)
                webhook_id = self.headers.get("webhook-id", "")
                with receiver.lock:
                    receiver.arrived.append(webhook_id)
                    route = receiver.routes.get(self.path, Route(default=404))
                    status = route.script.pop(0) if route.script else route.default
                if route.delay:
                    time.sleep(route.delay)
                verified = False
                if route.secret:
                    try:
                        Webhook(route.secret).verify(raw, dict(self.headers.items()))
                        verified = True
                    except WebhookVerificationError:
                        verified = False
                with receiver.lock:
                    receiver.received.append(
                        Received(self.path, webhook_id, verified, json.loads(raw), status)
                    )
                body = b"ok" if status < 300 else b"receiver says no"
                try:
                    self.send_response(status)
                    self.send_header("content-type", "text/plain")
                    self.send_header("content-length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the sender died mid-request (the crash tests do that on purpose)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def base_url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}"

    def url(self, name: str) -> str:
        return f"{self.base_url}/hooks/{name}"

    def route(self, name: str) -> Route:
        return self.routes.setdefault(f"/hooks/{name}", Route())

    def for_route(self, name: str) -> list[Received]:
        with self.lock:
            return [r for r in self.received if r.path == f"/hooks/{name}"]

    def counts(self, name: str) -> Counter[str]:
        return Counter(r.webhook_id for r in self.for_route(name))

    def start(self) -> Receiver:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

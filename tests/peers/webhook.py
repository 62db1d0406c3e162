"""Webhook receiver peer: verifies the HMAC signature and timestamp, then stores the records.

Verification is written here independently of the connector (a shared helper
would hide a shared bug): ``X-Bonito-Signature`` must be ``sha256=`` + the
HMAC-SHA256 of ``X-Bonito-Timestamp + "." + raw body`` under the secret, and
the timestamp within ``tolerance`` seconds of now; 401 otherwise.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from collections import Counter
from typing import Any

from tests.peers.base import PeerServer, Reply, Request, decompress

DEFAULT_SECRET = "whsec-0123456789abcdef-peer"
RECORD_KEYS = frozenset({
    "id", "org_id", "log_type", "event_type", "severity", "timestamp", "trace_id", "user_id",
    "resource_id", "resource_type", "action", "metadata", "duration_ms", "cost", "message",
})


class WebhookPeer(PeerServer):
    name = "webhook"
    path = "/hooks/bonito"

    def __init__(self, secret: str = DEFAULT_SECRET, tolerance: float = 300.0) -> None:
        super().__init__()
        self.secret = secret
        self.tolerance = tolerance
        self.deliveries: Counter[str] = Counter()
        self.tests = 0

    @property
    def hook_url(self) -> str:
        return self.url + self.path

    def set_secret(self, secret: str) -> None:
        self.secret = secret

    def record_id(self, event: Any) -> str | None:
        return event.get("id") if isinstance(event, dict) else None

    def failure_reply(self, request: Request, status: int) -> Reply:
        return Reply(status, {"error": f"unavailable ({status})"})

    def dispatch(self, request: Request) -> Reply:
        if request.method != "POST" or request.path != self.path:
            return Reply(404, {"error": "no such hook"})
        problem = self._verify(request)
        if problem:
            return Reply(401, {"error": problem})
        if (request.header("content-type") or "").split(";")[0] != "application/json":
            return Reply(415, {"error": "Content-Type must be application/json"})
        try:
            records = json.loads(decompress(request))
        except ValueError as exc:
            return Reply(400, {"error": f"body is not JSON: {exc}"})
        if not isinstance(records, list):
            return Reply(400, {"error": "body must be a JSON array"})
        for i, record in enumerate(records):
            if not isinstance(record, dict) or set(record) != RECORD_KEYS:
                return Reply(400, {"error": f"record {i} does not have the record's fields"})
        if request.header("x-bonito-test"):
            with self.lock:
                self.tests += 1
            return Reply(200, {"ok": True, "test": True})
        with self.lock:
            self.deliveries[request.header("x-bonito-delivery") or ""] += 1
        self.accept(records)
        return Reply(200, {"ok": True, "received": len(records)})

    def _verify(self, request: Request) -> str | None:
        timestamp = request.header("x-bonito-timestamp")
        signature = request.header("x-bonito-signature")
        if not timestamp or not signature:
            return "missing signature headers"
        try:
            age = abs(time.time() - int(timestamp))
        except ValueError:
            return "bad timestamp"
        if age > self.tolerance:
            return "timestamp outside tolerance (replay?)"
        expected = "sha256=" + hmac.new(self.secret.encode(), timestamp.encode() + b"." + request.body,
                                        hashlib.sha256).hexdigest()
        if not hmac.compare_digest(expected, signature):
            return "invalid signature"
        return None

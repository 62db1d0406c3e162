"""Datadog logs intake peer: ``POST /api/v2/logs`` and ``GET /api/v1/validate``.

Follows Datadog's "Send logs" reference: ``DD-API-KEY`` (403 ``{"errors":["Forbidden"]}``),
gzip bodies, a JSON array of at most 1,000 entries and 5 MB uncompressed (413
beyond), 202 ``{}`` on success. Like Datadog, an entry over 1 MB is accepted but
truncated (counted in ``truncated``, so tests can assert it never happens).
On top, our contract: every entry carries ``message``, ``ddsource``, ``ddtags``,
``hostname``, ``service``, ``status`` and an integer epoch-ms ``timestamp`` (400 otherwise).
"""

from __future__ import annotations

import json
from typing import Any

from tests.peers.base import PeerServer, Reply, Request, decompress

DEFAULT_API_KEY = "0123456789abcdef0123456789abcdef"
REQUIRED = ("message", "ddsource", "ddtags", "hostname", "service", "status", "timestamp")
STATUSES = frozenset({"emergency", "alert", "critical", "error", "warn", "warning", "notice",
                      "info", "debug", "ok"})


class DatadogPeer(PeerServer):
    name = "datadog"

    def __init__(self, api_key: str = DEFAULT_API_KEY) -> None:
        super().__init__()
        self.api_key = api_key
        self.max_entries = 1_000
        self.max_payload_bytes = 5_000_000
        self.max_entry_bytes = 1_000_000
        self.truncated = 0

    def set_api_key(self, api_key: str) -> None:
        """The key the peer accepts from now on (the connector's becomes a bad credential)."""
        self.api_key = api_key

    def limits(self, *, max_entries: int | None = None, max_payload_bytes: int | None = None) -> None:
        """Tighten the limits (e.g. to make the connector meet a 413)."""
        if max_entries is not None:
            self.max_entries = max_entries
        if max_payload_bytes is not None:
            self.max_payload_bytes = max_payload_bytes

    def record_id(self, event: Any) -> str | None:
        return event.get("id") if isinstance(event, dict) else None

    def failure_reply(self, request: Request, status: int) -> Reply:
        text = {429: "Too Many Requests", 408: "Request Timeout", 500: "Internal Server Error",
                503: "Service Unavailable"}.get(status, "Error")
        return Reply(status, {"errors": [text]})

    def dispatch(self, request: Request) -> Reply:
        if request.method == "GET" and request.path == "/api/v1/validate":
            if request.header("dd-api-key") == self.api_key:
                return Reply(200, {"valid": True})
            return Reply(403, {"errors": ["Forbidden"]})
        if request.method == "POST" and request.path == "/api/v2/logs":
            return self._intake(request)
        return Reply(404, {"errors": ["Not found"]})

    def _intake(self, request: Request) -> Reply:
        if request.header("dd-api-key") != self.api_key:
            return Reply(403, {"errors": ["Forbidden"]})
        content_type = (request.header("content-type") or "").split(";")[0].strip()
        if content_type != "application/json":
            return Reply(400, {"errors": [f"Content-Type must be application/json, got {content_type!r}"]})
        try:
            raw = decompress(request)
        except ValueError as exc:
            return Reply(400, {"errors": [str(exc)]})
        if len(raw) > self.max_payload_bytes:
            return Reply(413, {"errors": [f"Payload too large: {len(raw)} bytes uncompressed "
                                          f"(limit {self.max_payload_bytes})"]})
        try:
            entries = json.loads(raw)
        except ValueError as exc:
            return Reply(400, {"errors": [f"body is not JSON: {exc}"]})
        if not isinstance(entries, list):
            return Reply(400, {"errors": ["body must be a JSON array of log entries"]})
        if len(entries) > self.max_entries:
            return Reply(413, {"errors": [f"Too many entries: {len(entries)} "
                                          f"(limit {self.max_entries})"]})
        for i, entry in enumerate(entries):
            problem = _problem(entry)
            if problem:
                return Reply(400, {"errors": [f"entry {i}: {problem}"]})
        for entry in entries:
            if len(json.dumps(entry, separators=(",", ":")).encode()) > self.max_entry_bytes:
                with self.lock:
                    self.truncated += 1
        self.accept(entries)
        return Reply(202, {})


def _problem(entry: Any) -> str | None:
    if not isinstance(entry, dict):
        return "must be a JSON object"
    for name in REQUIRED:
        if name not in entry:
            return f"missing field {name!r}"
    for name in ("message", "ddsource", "ddtags", "hostname", "service", "status"):
        if not isinstance(entry[name], str):
            return f"{name} must be a string"
    if not isinstance(entry["timestamp"], int) or isinstance(entry["timestamp"], bool):
        return "timestamp must be an integer of epoch milliseconds"
    if entry["timestamp"] < 10**12:
        return "timestamp must be in milliseconds, not seconds"
    if entry["status"] not in STATUSES:
        return f"status {entry['status']!r} is not a Datadog log status"
    return None

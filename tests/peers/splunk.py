"""Splunk HTTP Event Collector peer: event, ack and health endpoints with HEC's codes.

Answers ``{"text", "code"}`` like HEC: 0 Success, 1 Token disabled, 2 Token is
required, 3 Invalid authorization, 4 Invalid token, 5 No data, 6 Invalid data
format, 7 Incorrect index, 8 Internal server error, 9 Server is busy, 10 Data
channel is missing, 11 Invalid data channel, 12 Event field is required, 13
Event field cannot be blank, 14 ACK is disabled, 15 Error in handling indexed
fields, 17 HEC is healthy, 18-20 HEC is unhealthy. The body is JSON objects one
after another (not an array); at the first bad event HEC stops, keeps the
events before it and names it in ``invalid-event-number``.
"""

from __future__ import annotations

import json
import time
import uuid
from typing import Any

from tests.peers.base import PeerServer, Reply, Request, decompress

DEFAULT_TOKEN = "11111111-2222-4333-8444-555555555555"
TEXT = {
    0: "Success", 1: "Token disabled", 2: "Token is required", 3: "Invalid authorization",
    4: "Invalid token", 5: "No data", 6: "Invalid data format", 7: "Incorrect index",
    8: "Internal server error", 9: "Server is busy", 10: "Data channel is missing",
    11: "Invalid data channel", 12: "Event field is required", 13: "Event field cannot be blank",
    14: "ACK is disabled", 15: "Error in handling indexed fields",
    16: "Query string authorization is not enabled", 17: "HEC is healthy",
    18: "HEC is unhealthy, queues are full", 19: "HEC is unhealthy, ack service unavailable",
    20: "HEC is unhealthy, queues are full, ack service unavailable",
}
EVENT_PATHS = ("/services/collector/event", "/services/collector", "/services/collector/event/1.0")


def hec(code: int, **extra: Any) -> dict[str, Any]:
    return {"text": TEXT[code], "code": code, **extra}


class SplunkPeer(PeerServer):
    name = "splunk"

    def __init__(self, token: str = DEFAULT_TOKEN) -> None:
        super().__init__()
        self.token = token
        self.token_enabled = True
        self.ack_enabled = False
        self.ack_delay = 0.0
        self.indexes: set[str] | None = None  # None: any index is fine
        self.max_content_length = 1_000_000
        self._channels: dict[str, dict[int, float]] = {}  # channel -> ackId -> ready at
        self._poisoned: dict[str, int] = {}  # record id -> HEC code to answer for its event

    # Control ----------------------------------------------------------------------------------
    def set_token(self, token: str) -> None:
        self.token = token

    def disable_token(self) -> None:
        self.token_enabled = False

    def enable_acks(self, delay: float = 0.0) -> None:
        """Indexer acknowledgement on: a channel is required, acks turn true after ``delay``."""
        self.ack_enabled = True
        self.ack_delay = delay

    def poison(self, record_id: str, code: int = 13) -> None:
        """Treat the event carrying our record ``record_id`` as invalid with ``code`` (12, 13, 15, 6)."""
        self._poisoned[record_id] = code

    def record_id(self, event: Any) -> str | None:
        inner = event.get("event") if isinstance(event, dict) else None
        return inner.get("id") if isinstance(inner, dict) else None

    def failure_reply(self, request: Request, status: int) -> Reply:
        if request.path.endswith("/health"):
            return Reply(status, hec(18))
        code = {500: 8, 503: 9, 429: 9}.get(status)
        return Reply(status, hec(code) if code is not None else {"text": f"HTTP {status}"})

    # Endpoints --------------------------------------------------------------------------------
    def dispatch(self, request: Request) -> Reply:
        if request.path in ("/services/collector/health", "/services/collector/health/1.0"):
            return Reply(200, hec(17))
        if request.method != "POST":
            return Reply(405, {"text": "Method not allowed"})
        if request.path in EVENT_PATHS:
            return self._event(request)
        if request.path == "/services/collector/ack":
            return self._ack(request)
        return Reply(404, {"text": "The requested URL was not found on this server.", "code": 404})

    def _auth(self, request: Request) -> Reply | None:
        header = request.header("authorization")
        if header is None:
            return Reply(401, hec(2))
        scheme, _, token = header.partition(" ")
        if scheme != "Splunk" or not token:
            return Reply(401, hec(3))
        if token != self.token:
            return Reply(403, hec(4))
        if not self.token_enabled:
            return Reply(403, hec(1))
        return None

    def _channel(self, request: Request) -> tuple[str | None, Reply | None]:
        channel = request.header("x-splunk-request-channel") or (request.query.get("channel") or [None])[0]
        if channel is None:
            return None, (Reply(400, hec(10)) if self.ack_enabled else None)
        try:
            uuid.UUID(channel)
        except ValueError:
            return None, Reply(400, hec(11))
        return channel, None

    def _event(self, request: Request) -> Reply:
        denied = self._auth(request)
        if denied:
            return denied
        channel, bad_channel = self._channel(request)
        if bad_channel:
            return bad_channel
        try:
            raw = decompress(request)
        except ValueError:
            return Reply(400, hec(6))
        if len(raw) > self.max_content_length:
            return Reply(413, {"text": f"Content-Length of {len(raw)} too large "
                                       f"(maximum is {self.max_content_length})"})
        text = raw.decode("utf-8", errors="replace")
        if not text.strip():
            return Reply(400, hec(5))
        events, error = self._parse(text)
        self.accept(events)  # HEC keeps what came before the bad event
        if error:
            return Reply(400, error)
        answer = hec(0)
        if channel is not None and self.ack_enabled:
            with self.lock:
                acks = self._channels.setdefault(channel, {})
                ack_id = len(acks)
                acks[ack_id] = time.monotonic() + self.ack_delay
            answer["ackId"] = ack_id
        return Reply(200, answer)

    def _parse(self, text: str) -> tuple[list[dict[str, Any]], dict[str, Any] | None]:
        decoder = json.JSONDecoder()
        events: list[dict[str, Any]] = []
        pos, n = 0, 0
        while True:
            while pos < len(text) and text[pos] in " \t\r\n":
                pos += 1
            if pos >= len(text):
                return events, None
            if text[pos] == "[":  # an array is not the HEC format
                return events, hec(6, **{"invalid-event-number": n})
            try:
                event, pos = decoder.raw_decode(text, pos)
            except ValueError:
                return events, hec(6, **{"invalid-event-number": n})
            code = self._problem(event)
            if code is not None:
                return events, hec(code, **{"invalid-event-number": n})
            events.append(event)
            n += 1

    def _problem(self, event: Any) -> int | None:
        if not isinstance(event, dict):
            return 6
        if "event" not in event:
            return 12
        body = event["event"]
        if body is None or (isinstance(body, str) and not body.strip()) or body == {}:
            return 13
        if "time" in event:
            value = event["time"]
            if isinstance(value, bool) or not isinstance(value, int | float | str):
                return 6
            try:
                float(value)
            except ValueError:
                return 6
        fields = event.get("fields")
        if fields is not None:
            if not isinstance(fields, dict):
                return 15
            for value in fields.values():
                values = value if isinstance(value, list) else [value]
                if not all(isinstance(v, str) for v in values):
                    return 15
        if self.indexes is not None and event.get("index") not in self.indexes | {None}:
            return 7
        return self._poisoned.get(self.record_id(event) or "")

    def _ack(self, request: Request) -> Reply:
        denied = self._auth(request)
        if denied:
            return denied
        if not self.ack_enabled:
            return Reply(400, hec(14))
        channel, bad_channel = self._channel(request)
        if bad_channel or channel is None:
            return bad_channel or Reply(400, hec(10))
        try:
            ids = json.loads(request.body)["acks"]
        except (ValueError, KeyError, TypeError):
            return Reply(400, hec(6))
        now = time.monotonic()
        with self.lock:
            known = self._channels.get(channel, {})
            return Reply(200, {"acks": {str(i): i in known and known[i] <= now for i in ids}})

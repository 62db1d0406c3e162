"""A threaded HTTP contract server on 127.0.0.1 with fault injection, the base of every peer.

A peer records each request and each accepted event (and counts events by our
record id, so duplicates show), and can be told to misbehave:
``fail_with(status, count=None, seconds=None)``, ``hang(seconds)``, ``latency(seconds)``.
"""

from __future__ import annotations

import gzip
import json
import threading
import time
import zlib
from collections import Counter
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit


@dataclass
class Request:
    """One request as the peer saw it (body as received, before any decompression)."""

    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: bytes
    status: int | None = None
    answer: Any = None

    def header(self, name: str) -> str | None:
        return self.headers.get(name.lower())


@dataclass
class Reply:
    status: int
    body: Any = field(default_factory=dict)  # JSON-encoded unless bytes
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class _Failure:
    status: int
    remaining: int | None
    until: float | None
    retry_after: float | None
    body: Any


class PeerServer:
    """Subclasses implement ``dispatch(request) -> Reply`` and ``record_id(event)``."""

    name = "peer"

    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.requests: list[Request] = []
        self.events: list[Any] = []
        self.ids: Counter[str] = Counter()
        self._failure: _Failure | None = None
        self._hang_until = 0.0
        self._latency = 0.0
        self._stopping = threading.Event()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self._server.daemon_threads = True
        self._server.peer = self  # type: ignore[attr-defined]
        self._thread: threading.Thread | None = None

    # Lifecycle ------------------------------------------------------------------------------
    @property
    def port(self) -> int:
        return self._server.server_address[1]

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> PeerServer:
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.05,),
                                        name=f"{self.name}-peer", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self) -> PeerServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # Control ----------------------------------------------------------------------------------
    def fail_with(self, status: int, count: int | None = None, seconds: float | None = None, *,
                  retry_after: float | None = None, body: Any = None) -> None:
        """Answer ``status`` (with the vendor's body) to the next ``count`` requests, or for
        ``seconds``, or until ``heal()`` when neither is given."""
        until = time.monotonic() + seconds if seconds is not None else None
        with self.lock:
            self._failure = _Failure(status, count, until, retry_after, body)

    def hang(self, seconds: float) -> None:
        """For the next ``seconds``, accept requests and never answer (then drop the connection)."""
        with self.lock:
            self._hang_until = time.monotonic() + seconds

    def latency(self, seconds: float) -> None:
        """Wait ``seconds`` before answering every request."""
        self._latency = seconds

    def heal(self) -> None:
        with self.lock:
            self._failure = None
            self._hang_until = 0.0
            self._latency = 0.0

    # Accounting -------------------------------------------------------------------------------
    def record_id(self, event: Any) -> str | None:
        return None

    def accept(self, events: list[Any]) -> None:
        with self.lock:
            self.events.extend(events)
            for event in events:
                rid = self.record_id(event)
                if rid is not None:
                    self.ids[rid] += 1

    @property
    def duplicates(self) -> int:
        with self.lock:
            return sum(n - 1 for n in self.ids.values() if n > 1)

    def received_ids(self) -> set[str]:
        with self.lock:
            return set(self.ids)

    def requests_to(self, path: str) -> list[Request]:
        with self.lock:
            return [r for r in self.requests if r.path == path]

    # Vendor hooks -----------------------------------------------------------------------------
    def dispatch(self, request: Request) -> Reply:
        raise NotImplementedError

    def failure_reply(self, request: Request, status: int) -> Reply:
        return Reply(status, {"error": f"injected failure {status}"})

    # Plumbing ---------------------------------------------------------------------------------
    def _injected(self, request: Request) -> Reply | None:
        with self.lock:
            failure = self._failure
            if failure is None:
                return None
            if failure.until is not None and time.monotonic() >= failure.until:
                self._failure = None
                return None
            if failure.remaining is not None:
                if failure.remaining <= 0:
                    self._failure = None
                    return None
                failure.remaining -= 1
        reply = self.failure_reply(request, failure.status)
        if failure.body is not None:
            reply.body = failure.body
        if failure.retry_after is not None:
            reply.headers["Retry-After"] = f"{failure.retry_after:g}"
        return reply

    def _hanging(self) -> float:
        with self.lock:
            return self._hang_until - time.monotonic()


def decompress(request: Request) -> bytes:
    """The body after ``Content-Encoding`` (gzip or deflate); ``ValueError`` when it is corrupt."""
    encoding = (request.header("content-encoding") or "identity").lower()
    try:
        if encoding == "gzip":
            return gzip.decompress(request.body)
        if encoding == "deflate":
            return zlib.decompress(request.body)
    except (OSError, EOFError, zlib.error) as exc:
        raise ValueError(f"body is not valid {encoding}: {exc}") from None
    if encoding != "identity":
        raise ValueError(f"unsupported Content-Encoding {encoding}")
    return request.body


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "bonito-peer"

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - keep test output quiet
        pass

    def do_GET(self) -> None:  # noqa: N802 - http.server's naming
        self._handle()

    def do_POST(self) -> None:  # noqa: N802
        self._handle()

    def do_PUT(self) -> None:  # noqa: N802
        self._handle()

    def _handle(self) -> None:
        peer: PeerServer = self.server.peer  # type: ignore[attr-defined]
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        parts = urlsplit(self.path)
        request = Request(self.command, parts.path, parse_qs(parts.query),
                          {k.lower(): v for k, v in self.headers.items()}, body)
        with peer.lock:
            peer.requests.append(request)
        if peer._latency:
            peer._stopping.wait(peer._latency)
        wait = peer._hanging()
        if wait > 0:
            peer._stopping.wait(wait)
            self.close_connection = True  # no answer at all
            return
        reply = peer._injected(request) or peer.dispatch(request)
        request.status, request.answer = reply.status, reply.body
        data = reply.body if isinstance(reply.body, bytes) else json.dumps(reply.body).encode()
        self.send_response(reply.status)
        self.send_header("Content-Type", "application/json; charset=UTF-8")
        self.send_header("Content-Length", str(len(data)))
        for name, value in reply.headers.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)

"""Health probes with no dependencies: a raw Kafka Metadata request and OpenSearch's
``GET /_cluster/health``. Both are synchronous and fast, so ``stack status`` stays cheap.
"""

from __future__ import annotations

import json
import socket
import struct
import urllib.error
import urllib.request
from dataclasses import dataclass

_METADATA_API_KEY = 3
_METADATA_VERSION = 4  # Kafka 4 removed v0-v3; v4 is the oldest it still answers


@dataclass(frozen=True)
class Probe:
    healthy: bool
    detail: str


def kafka_metadata_request(correlation_id: int = 1, client_id: str = "bonito-stack") -> bytes:
    """A Metadata v4 request for no topics (we only want the broker list)."""
    cid = client_id.encode()
    body = struct.pack(">hhih", _METADATA_API_KEY, _METADATA_VERSION, correlation_id, len(cid))
    body += cid
    body += struct.pack(">ib", 0, 0)  # topics: empty array; allow_auto_topic_creation: false
    return struct.pack(">i", len(body)) + body


def parse_metadata_brokers(payload: bytes, correlation_id: int = 1) -> list[tuple[int, str, int]]:
    """(node_id, host, port) of each broker in a Metadata v4 response (size prefix removed)."""
    got_cid, _throttle, count = struct.unpack_from(">iii", payload, 0)
    if got_cid != correlation_id:
        raise ValueError(f"correlation id {got_cid} != {correlation_id}")
    pos = 12
    brokers = []
    for _ in range(count):
        node_id, host_len = struct.unpack_from(">ih", payload, pos)
        pos += 6
        host = payload[pos:pos + host_len].decode()
        pos += host_len
        (port, rack_len) = struct.unpack_from(">ih", payload, pos)
        pos += 6 + max(rack_len, 0)
        brokers.append((node_id, host, port))
    return brokers


def probe_kafka(host: str, port: int, timeout_s: float = 3.0) -> Probe:
    try:
        with socket.create_connection((host, port), timeout=timeout_s) as sock:
            sock.sendall(kafka_metadata_request())
            (size,) = struct.unpack(">i", _recv_exact(sock, 4))
            brokers = parse_metadata_brokers(_recv_exact(sock, size))
    except (OSError, ValueError, struct.error) as exc:
        return Probe(False, f"no metadata from {host}:{port}: {exc or type(exc).__name__}")
    if not brokers:
        return Probe(False, f"{host}:{port} answered but lists no broker yet")
    return Probe(True, f"{len(brokers)} broker(s): " + ", ".join(f"{h}:{p}" for _, h, p in brokers))


def _recv_exact(sock: socket.socket, n: int) -> bytes:
    chunks = []
    while n:
        chunk = sock.recv(n)
        if not chunk:
            raise ConnectionError("connection closed mid-response")
        chunks.append(chunk)
        n -= len(chunk)
    return b"".join(chunks)


def probe_opensearch(base_url: str, timeout_s: float = 3.0) -> Probe:
    url = base_url.rstrip("/") + "/_cluster/health"
    try:
        with urllib.request.urlopen(url, timeout=timeout_s) as resp:  # noqa: S310 (local URL)
            body = json.load(resp)
    except urllib.error.HTTPError as exc:
        return Probe(False, f"{url} answered HTTP {exc.code}")
    except (OSError, ValueError) as exc:
        return Probe(False, f"{url} unreachable: {getattr(exc, 'reason', exc)}")
    status = body.get("status", "unknown")
    return Probe(status in ("green", "yellow"), f"cluster {body.get('cluster_name')!r} is {status}")

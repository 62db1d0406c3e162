"""Datadog: the entry format, batching at the exact limits, and the response classification."""

from __future__ import annotations

import gzip
import json

import httpx
import orjson
import pytest

from bonito_logs.config import Settings
from bonito_logs.connectors import DatadogConnector
from bonito_logs.connectors.datadog import MAX_ENTRY_BYTES, MAX_PAYLOAD_BYTES
from bonito_logs.schemas import build_record
from tests.peers.records import make_records, padded

KEY = "0123456789abcdef0123456789abcdef"
ORG = "2f1b0c2e-8a8d-4c1e-9a53-0d7f1e4c2b11"
SETTINGS = Settings(allow_private_destinations=True, connector_timeout_s=2)
CONFIG = {"site": "datadoghq.com", "service": "gateway", "tags": ["env:prod", "team:core"],
          "endpoint_url": "http://127.0.0.1:1"}


def connector(handler=None) -> DatadogConnector:
    http = httpx.AsyncClient(transport=httpx.MockTransport(handler)) if handler else None
    return DatadogConnector(CONFIG, {"api_key": KEY}, org_id=ORG, settings=SETTINGS, http=http)


def entry_size(c: DatadogConnector):
    return lambda record: len(orjson.dumps(c.encode(record)))


def test_entry_format_exactly():
    record = build_record(
        id="6f9619ff-8b86-4d01-b42d-00cf4fc964ff", org_id=ORG, log_type="gateway",
        event_type="request_done", severity="warn", timestamp="2024-01-02T03:04:05.123456Z",
        trace_id="t1", user_id="u1", resource_id="r1", resource_type="model", action="execute",
        metadata={"k": "v"}, duration_ms=12.5, cost=0.25, message="hello")
    assert connector().encode(record) == {
        "id": "6f9619ff-8b86-4d01-b42d-00cf4fc964ff", "org_id": ORG, "log_type": "gateway",
        "event_type": "request_done", "severity": "warn", "trace_id": "t1", "user_id": "u1",
        "resource_id": "r1", "resource_type": "model", "action": "execute", "duration_ms": 12.5,
        "cost": 0.25, "metadata": {"k": "v"},
        "message": "hello", "ddsource": "bonito-logs",
        "ddtags": "env:prod,team:core,log_type:gateway,event_type:request_done",
        "hostname": "bonito-logs", "service": "gateway", "status": "warn",
        "timestamp": 1704164645123,
    }


@pytest.mark.parametrize(("severity", "status"), [("debug", "debug"), ("info", "info"),
                                                  ("warn", "warn"), ("error", "error"),
                                                  ("critical", "critical")])
def test_status_mapping(severity, status):
    record = build_record(org_id=ORG, log_type="auth", event_type="login", severity=severity)
    entry = connector().encode(record)
    assert entry["status"] == status
    assert entry["message"] == "login"  # no message: the event type stands in
    assert "trace_id" not in entry  # empty fields are left out


def test_batches_at_most_1000_entries():
    c = connector()
    batches, rejected = c.batches(make_records(1000))
    assert [len(b) for b in batches] == [1000] and rejected == []
    batches, _ = c.batches(make_records(2001))
    assert [len(b) for b in batches] == [1000, 1000, 1]


def test_payload_of_exactly_5mb_is_one_batch_one_byte_more_is_two():
    c = connector()
    base = make_records(5)
    size = entry_size(c)
    # four entries of 999,999 bytes, one of 999,998, four commas, two brackets: 5,000,000
    exact = [padded(r, size, 999_999) for r in base[:4]] + [padded(base[4], size, 999_998)]
    batches, rejected = c.batches(exact)
    assert rejected == [] and [len(b) for b in batches] == [5]
    assert batches[0].size == MAX_PAYLOAD_BYTES == len(c.body(batches[0]))
    over = exact[:4] + [padded(base[4], size, 999_999)]
    batches, _ = c.batches(over)
    assert [len(b) for b in batches] == [4, 1]
    assert all(len(c.body(b)) <= MAX_PAYLOAD_BYTES for b in batches)


def test_entry_of_1mb_passes_one_byte_more_is_rejected():
    c = connector()
    size = entry_size(c)
    a, b, d = make_records(3)
    records = [padded(a, size, MAX_ENTRY_BYTES), padded(b, size, MAX_ENTRY_BYTES + 1), d]
    batches, rejected = c.batches(records)
    assert [r.record["id"] for r in rejected] == [b["id"]]
    assert rejected[0].index == 1 and "1000000-byte limit per log" in rejected[0].reason
    assert [r["id"] for batch in batches for r in batch.records] == [a["id"], d["id"]]


async def test_request_shape():
    seen = {}

    def handler(request: httpx.Request) -> httpx.Response:
        seen["url"] = str(request.url)
        seen["headers"] = request.headers
        seen["body"] = json.loads(gzip.decompress(request.content))
        return httpx.Response(202, json={})

    c = connector(handler)
    records = make_records(3)
    (batch,), _ = c.batches(records)
    result = await c.send(batch)
    assert result.ok and result.status == 202
    assert seen["url"] == "http://127.0.0.1:1/api/v2/logs"
    assert seen["headers"]["DD-API-KEY"] == KEY
    assert seen["headers"]["Content-Type"] == "application/json"
    assert seen["headers"]["Content-Encoding"] == "gzip"
    assert [e["id"] for e in seen["body"]] == [r["id"] for r in records]


@pytest.mark.parametrize(("status", "outcome"), [
    (200, "ok"), (202, "ok"),
    (408, "retry"), (429, "retry"), (500, "retry"), (502, "retry"), (503, "retry"), (504, "retry"),
    (400, "permanent"), (401, "permanent"), (403, "permanent"), (404, "permanent"),
    (413, "permanent"),  # a single entry too large: nothing left to split
])
async def test_classification(status, outcome):
    def handler(request):
        return httpx.Response(status, json={"errors": ["Forbidden"]} if status == 403 else {},
                              headers={"Retry-After": "7"} if status == 429 else {})

    c = connector(handler)
    (batch,), _ = c.batches(make_records(1))
    result = await c.send(batch)
    assert result.outcome == outcome
    assert result.status == status
    if status == 429:
        assert result.retry_after == 7
    if status == 403:
        assert result.reason == "Datadog answered 403: Forbidden"


async def test_transport_errors_are_retried():
    def handler(request):
        raise httpx.ConnectError("refused")

    result = await connector(handler).send(connector().batches(make_records(1)).batches[0])
    assert result.outcome == "retry" and "ConnectError" in result.reason


async def test_413_splits_and_resends():
    received = []

    def handler(request):
        entries = json.loads(gzip.decompress(request.content))
        if len(entries) > 3:
            return httpx.Response(413, json={"errors": ["Payload too large"]})
        received.extend(e["id"] for e in entries)
        return httpx.Response(202, json={})

    records = make_records(10)
    c = connector(handler)
    (batch,), _ = c.batches(records)
    result = await c.send(batch)
    assert result.ok and result.rejected == ()
    assert sorted(received) == sorted(r["id"] for r in records)
    assert result.requests == 7  # 10 → 5+5 → (2+3)+(2+3)


async def test_413_split_then_retry_keeps_what_is_pending():
    calls = {"n": 0}
    received = []

    def handler(request):
        entries = json.loads(gzip.decompress(request.content))
        calls["n"] += 1
        if len(entries) > 5:
            return httpx.Response(413, json={})
        if calls["n"] == 3:  # the second half fails once
            return httpx.Response(503, json={})
        received.extend(e["id"] for e in entries)
        return httpx.Response(202, json={})

    records = make_records(10)
    c = connector(handler)
    (batch,), _ = c.batches(records)
    result = await c.send(batch)
    assert result.outcome == "retry"
    assert [r["id"] for r in result.pending.records] == [r["id"] for r in records[5:]]
    again = await c.send(result.pending)
    assert again.ok
    assert received == [r["id"] for r in records]


async def test_check_uses_validate_endpoint():
    def handler(request):
        assert request.url.path == "/api/v1/validate" and request.method == "GET"
        ok = request.headers.get("DD-API-KEY") == KEY
        return httpx.Response(200 if ok else 403, json={"valid": True} if ok else {"errors": ["Forbidden"]})

    assert (await connector(handler).check()).ok
    bad = DatadogConnector(CONFIG, {"api_key": "f" * 32}, org_id=ORG, settings=SETTINGS,
                           http=httpx.AsyncClient(transport=httpx.MockTransport(handler)))
    result = await bad.check()
    assert not result.ok and result.message == "Datadog answered 403: Forbidden"

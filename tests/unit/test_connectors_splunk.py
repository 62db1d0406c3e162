"""Splunk HEC: the event envelope, the 1 MB request limit, HEC codes and acknowledgements."""

from __future__ import annotations

import gzip
import json

import httpx
import orjson
import pytest

from bonito_logs.config import Settings
from bonito_logs.connectors import SplunkConnector
from bonito_logs.connectors.splunk import MAX_REQUEST_BYTES, classify
from bonito_logs.schemas import build_record, record_to_json
from tests.peers.records import make_records, padded

TOKEN = "11111111-2222-4333-8444-555555555555"
ORG = "2f1b0c2e-8a8d-4c1e-9a53-0d7f1e4c2b11"
SETTINGS = Settings(allow_private_destinations=True, connector_timeout_s=2)


def connector(handler=None, **config) -> SplunkConnector:
    http = httpx.AsyncClient(transport=httpx.MockTransport(handler)) if handler else None
    return SplunkConnector({"host": "http://127.0.0.1:8088", "index": "main", **config},
                           {"hec_token": TOKEN}, org_id=ORG, settings=SETTINGS, http=http)


def events_of(request: httpx.Request) -> list[dict]:
    text = gzip.decompress(request.content).decode()
    decoder, pos, out = json.JSONDecoder(), 0, []
    while pos < len(text):
        event, pos = decoder.raw_decode(text, pos)
        out.append(event)
        while pos < len(text) and text[pos].isspace():
            pos += 1
    return out


def test_event_format_exactly():
    record = build_record(
        id="6f9619ff-8b86-4d01-b42d-00cf4fc964ff", org_id=ORG, log_type="agent",
        event_type="tool_call", severity="warn", timestamp="2024-01-02T03:04:05.123456Z",
        trace_id="t1", user_id="u1", resource_type="tool", action="execute",
        metadata={"k": [1, 2]}, duration_ms=3.0, message="hi")
    assert connector(sourcetype="bonito:log", source="src", hostname="h1").encode(record) == {
        "time": 1704164645.123456, "host": "h1", "source": "src", "sourcetype": "bonito:log",
        "index": "main", "event": record_to_json(record),
        "fields": {"org_id": ORG, "log_type": "agent", "event_type": "tool_call", "severity": "warn",
                   "trace_id": "t1", "user_id": "u1", "resource_type": "tool", "action": "execute",
                   "level": "WARNING"},
    }


def test_fields_are_flat_strings_and_defaults():
    c = SplunkConnector({"host": "http://127.0.0.1"}, {"hec_token": TOKEN}, org_id=ORG, settings=SETTINGS)
    for record in make_records(50):
        event = c.encode(record)
        assert all(isinstance(v, str) for v in event["fields"].values())
        assert isinstance(event["time"], float)
        assert "index" not in event and event["sourcetype"] == "_json"


def test_body_is_concatenated_objects_not_an_array():
    c = connector()
    (batch,), _ = c.batches(make_records(3))
    body = c.body(batch)
    assert not body.startswith(b"[")
    assert [orjson.loads(line)["event"]["id"] for line in body.split(b"\n")] == [r["id"] for r in batch.records]


def test_request_of_exactly_1mb_is_one_batch_one_byte_more_is_two():
    c = connector()
    size = lambda r: len(orjson.dumps(c.encode(r)))  # noqa: E731
    base = make_records(4)
    # 3 newlines + four events = 1,000,000 bytes
    exact = [padded(r, size, 250_000) for r in base[:3]] + [padded(base[3], size, 249_997)]
    batches, rejected = c.batches(exact)
    assert rejected == [] and [len(b) for b in batches] == [4]
    assert len(c.body(batches[0])) == MAX_REQUEST_BYTES == batches[0].size
    over = exact[:3] + [padded(base[3], size, 249_998)]
    assert [len(b) for b in c.batches(over).batches] == [3, 1]


def test_single_event_over_1mb_is_rejected():
    c = connector()
    size = lambda r: len(orjson.dumps(c.encode(r)))  # noqa: E731
    a, b = make_records(2)
    batches, rejected = c.batches([padded(a, size, MAX_REQUEST_BYTES), padded(b, size, MAX_REQUEST_BYTES + 1)])
    assert [len(x) for x in batches] == [1] and [r.index for r in rejected] == [1]


CODE_TABLE = [
    (200, 0, "ok"), (403, 1, "permanent"), (401, 2, "permanent"), (401, 3, "permanent"),
    (403, 4, "permanent"), (400, 5, "permanent"), (400, 6, "permanent"), (400, 7, "permanent"),
    (500, 8, "retry"), (503, 9, "retry"), (400, 10, "permanent"), (400, 11, "permanent"),
    (400, 12, "permanent"), (400, 13, "permanent"), (400, 14, "permanent"), (400, 15, "permanent"),
    (400, 16, "permanent"), (503, 18, "retry"), (503, 19, "retry"), (503, 20, "retry"),
    (502, None, "retry"), (504, None, "retry"), (429, None, "retry"), (408, None, "retry"),
    (404, None, "permanent"), (200, None, "ok"),
]


@pytest.mark.parametrize(("status", "code", "outcome"), CODE_TABLE)
def test_code_classification_table(status, code, outcome):
    result = classify(status, code, "why", 3.0)
    assert result.outcome == outcome
    assert result.code == (None if code is None else str(code))
    if outcome == "retry":
        assert result.retry_after == 3.0


@pytest.mark.parametrize(("status", "code", "outcome"), [row for row in CODE_TABLE if row[1] != 0])
async def test_send_classifies_each_answer(status, code, outcome):
    body = {"text": "Invalid token", "code": code} if code is not None else {"text": "x"}

    def handler(request):
        return httpx.Response(status, json=body)

    c = connector(handler)
    (batch,), _ = c.batches(make_records(2))
    result = await c.send(batch)
    assert result.outcome == outcome
    if code == 4:
        assert result.reason == "Splunk answered 403 (code 4): Invalid token"


async def test_request_headers():
    seen = {}

    def handler(request):
        seen.update(request.headers)
        seen["path"] = request.url.path
        return httpx.Response(200, json={"text": "Success", "code": 0})

    c = connector(handler)
    assert (await c.send(c.batches(make_records(1)).batches[0])).ok
    assert seen["authorization"] == f"Splunk {TOKEN}"
    assert seen["content-encoding"] == "gzip" and seen["path"] == "/services/collector/event"
    assert "x-splunk-request-channel" not in seen


async def test_invalid_event_number_names_the_event_and_resends_the_rest():
    requests = []

    def handler(request):
        events = events_of(request)
        requests.append([e["event"]["id"] for e in events])
        for n, event in enumerate(events):
            if event["event"]["message"] == "poison":
                return httpx.Response(400, json={"text": "Event field cannot be blank", "code": 13,
                                                 "invalid-event-number": n})
        return httpx.Response(200, json={"text": "Success", "code": 0})

    records = make_records(6)
    records[2] = dict(records[2], message="poison")
    c = connector(handler)
    (batch,), _ = c.batches(records)
    result = await c.send(batch)
    assert result.ok and result.requests == 2
    assert [(r.index, r.record["id"]) for r in result.rejected] == [(2, records[2]["id"])]
    assert "Event field cannot be blank (event 2)" in result.rejected[0].reason
    assert requests[1] == [r["id"] for r in records[3:]]  # HEC kept 0 and 1


async def test_invalid_event_then_outage_leaves_the_tail_pending():
    calls = {"n": 0}

    def handler(request):
        calls["n"] += 1
        if calls["n"] == 1:
            return httpx.Response(400, json={"text": "Event field is required", "code": 12,
                                             "invalid-event-number": 1})
        return httpx.Response(503, json={"text": "Server is busy", "code": 9})

    records = make_records(4)
    c = connector(handler)
    result = await c.send(c.batches(records).batches[0])
    assert result.outcome == "retry" and result.code == "9"
    assert [r.index for r in result.rejected] == [1]
    assert [r["id"] for r in result.pending.records] == [r["id"] for r in records[2:]]


async def test_ack_is_awaited():
    polls = []

    def handler(request):
        assert request.headers["X-Splunk-Request-Channel"]
        if request.url.path == "/services/collector/ack":
            assert request.url.params["channel"] == request.headers["X-Splunk-Request-Channel"]
            ids = json.loads(request.content)["acks"]
            polls.append(ids)
            return httpx.Response(200, json={"acks": {str(i): len(polls) >= 3 for i in ids}})
        return httpx.Response(200, json={"text": "Success", "code": 0, "ackId": 7})

    c = connector(handler, use_ack=True)
    result = await c.send(c.batches(make_records(1)).batches[0])
    assert result.ok and polls == [[7], [7], [7]]


async def test_ack_timeout_is_a_retry():
    def handler(request):
        if request.url.path == "/services/collector/ack":
            return httpx.Response(200, json={"acks": {"0": False}})
        return httpx.Response(200, json={"text": "Success", "code": 0, "ackId": 0})

    c = connector(handler, use_ack=True, ack_timeout_s=1)
    result = await c.send(c.batches(make_records(1)).batches[0])
    assert result.outcome == "retry" and "acknowledge" in result.reason


async def test_ack_disabled_is_permanent():
    def handler(request):
        if request.url.path == "/services/collector/ack":
            return httpx.Response(400, json={"text": "ACK is disabled", "code": 14})
        return httpx.Response(200, json={"text": "Success", "code": 0, "ackId": 0})

    c = connector(handler, use_ack=True)
    result = await c.send(c.batches(make_records(1)).batches[0])
    assert result.outcome == "permanent" and "ACK is disabled" in result.reason


async def test_check_health_then_test_event():
    paths = []

    def handler(request):
        paths.append((request.method, request.url.path))
        if request.url.path.endswith("/health"):
            return httpx.Response(200, json={"text": "HEC is healthy", "code": 17})
        return httpx.Response(403, json={"text": "Invalid token", "code": 4})

    result = await connector(handler).check()
    assert paths == [("GET", "/services/collector/health"), ("POST", "/services/collector/event")]
    assert not result.ok and result.message == "Splunk answered 403 (code 4): Invalid token"

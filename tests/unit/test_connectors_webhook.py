"""Webhook: signature over the exact bytes, reserved headers, batching and classification."""

from __future__ import annotations

import gzip
import hashlib
import hmac
import json

import httpx
import orjson
import pytest

from bonito_logs.config import Settings
from bonito_logs.connectors import WebhookConnector
from bonito_logs.connectors.webhook import MAX_BODY_BYTES, MAX_RECORDS, delivery_id, sign
from bonito_logs.schemas import FIELDS, record_to_json
from tests.peers.records import make_records, padded

SECRET = "whsec-0123456789abcdef"
ORG = "2f1b0c2e-8a8d-4c1e-9a53-0d7f1e4c2b11"
SETTINGS = Settings(allow_private_destinations=True, connector_timeout_s=2)


def connector(handler=None, clock=lambda: 1_700_000_000.9, **config) -> WebhookConnector:
    http = httpx.AsyncClient(transport=httpx.MockTransport(handler)) if handler else None
    return WebhookConnector({"url": "http://127.0.0.1:1/hook", **config}, {"secret": SECRET},
                            org_id=ORG, settings=SETTINGS, http=http, clock=clock)


def test_sign_known_vector():
    expected = hmac.new(b"k", b"1700000000.[]", hashlib.sha256).hexdigest()
    assert sign("k", "1700000000", b"[]") == "sha256=" + expected


async def test_signed_request_over_exact_bytes():
    seen = {}

    def handler(request):
        seen["headers"] = request.headers
        seen["content"] = request.content
        return httpx.Response(200, json={"ok": True})

    c = connector(handler, headers={"X-Team": "core"})
    records = make_records(3)
    (batch,), _ = c.batches(records)
    assert (await c.send(batch)).ok
    headers, content = seen["headers"], seen["content"]
    assert headers["X-Bonito-Timestamp"] == "1700000000"
    assert headers["X-Bonito-Signature"] == sign(SECRET, "1700000000", content)
    assert headers["X-Team"] == "core" and headers["Content-Type"] == "application/json"
    assert headers["X-Bonito-Delivery"] == delivery_id(batch)
    assert json.loads(content) == [json.loads(orjson.dumps(record_to_json(r))) for r in records]
    assert list(json.loads(content)[0]) == list(FIELDS)


async def test_gzip_signature_covers_the_compressed_bytes():
    seen = {}

    def handler(request):
        seen["request"] = request
        return httpx.Response(204)

    c = connector(handler, gzip=True)
    (batch,), _ = c.batches(make_records(2))
    assert (await c.send(batch)).ok
    request = seen["request"]
    assert request.headers["Content-Encoding"] == "gzip"
    assert request.headers["X-Bonito-Signature"] == sign(SECRET, "1700000000", request.content)
    assert len(json.loads(gzip.decompress(request.content))) == 2


def test_delivery_id_is_stable_for_the_same_records():
    c = connector()
    records = make_records(4)
    (a,), _ = c.batches(records)
    (b,), _ = c.batches(records)
    (d,), _ = c.batches(records[:3])
    assert delivery_id(a) == delivery_id(b) != delivery_id(d)


def test_batching_limits():
    c = connector()
    assert [len(b) for b in c.batches(make_records(MAX_RECORDS + 1)).batches] == [1000, 1]
    size = lambda r: len(orjson.dumps(c.encode(r)))  # noqa: E731
    base = make_records(2)
    # two records + comma + brackets = 1,048,576
    exact = [padded(base[0], size, 524_287), padded(base[1], size, 524_286)]
    batches, rejected = c.batches(exact)
    assert rejected == [] and [len(b) for b in batches] == [2]
    assert len(c.body(batches[0])) == MAX_BODY_BYTES
    over = [exact[0], padded(base[1], size, 524_287)]
    assert [len(b) for b in c.batches(over).batches] == [1, 1]
    too_big = padded(base[0], size, MAX_BODY_BYTES - 1)
    assert len(c.batches([too_big]).rejected) == 1


@pytest.mark.parametrize(("status", "outcome"), [
    (200, "ok"), (201, "ok"), (202, "ok"), (204, "ok"),
    (408, "retry"), (429, "retry"), (500, "retry"), (503, "retry"),
    (400, "permanent"), (401, "permanent"), (403, "permanent"), (404, "permanent"),
    (410, "permanent"), (422, "permanent"),
])
async def test_classification(status, outcome):
    def handler(request):
        return httpx.Response(status, text="nope", headers={"Retry-After": "Wed, 21 Oct 2015 07:28:00 GMT"}
                              if status == 503 else {"Retry-After": "12"})

    result = await connector(handler).send(connector().batches(make_records(1)).batches[0])
    assert result.outcome == outcome
    if status == 429:
        assert result.retry_after == 12
    if status == 503:
        assert result.retry_after == 0  # a date in the past means "now"
    if outcome == "permanent":
        assert result.reason == f"webhook answered {status}: nope"


async def test_check_sends_a_signed_test_post():
    seen = {}

    def handler(request):
        seen["request"] = request
        return httpx.Response(200, text="welcome")

    result = await connector(handler).check()
    assert result.ok and result.message == "webhook answered 200: welcome"
    request = seen["request"]
    assert request.headers["X-Bonito-Test"] == "true"
    assert request.headers["X-Bonito-Signature"] == sign(SECRET, "1700000000", request.content)
    (record,) = json.loads(request.content)
    assert list(record) == list(FIELDS) and record["org_id"] == ORG


async def test_check_failure_reports_the_reason():
    result = await connector(lambda r: httpx.Response(401, text="invalid signature")).check()
    assert not result.ok and result.status == 401 and "invalid signature" in result.message


async def test_injected_client_still_gets_the_ssrf_check():
    def handler(request):  # pragma: no cover - must never be reached
        raise AssertionError("request went out")

    c = WebhookConnector({"url": "http://127.0.0.1:1/hook"}, {"secret": SECRET}, org_id=ORG,
                         settings=Settings(), http=httpx.AsyncClient(transport=httpx.MockTransport(handler)))
    result = await c.send(c.batches(make_records(1)).batches[0])
    assert result.outcome == "permanent" and "SSRF" in result.reason


async def test_secrets_never_reach_logs_or_reasons(caplog):
    caplog.set_level("DEBUG")

    def handler(request):
        raise RuntimeError("boom")  # an unexpected failure is logged with its traceback

    c = connector(handler)
    result = await c.send(c.batches(make_records(1)).batches[0])
    check = await c.check()
    assert result.outcome == "retry" and not check.ok
    for text in (caplog.text, result.reason, check.message, repr(c), str(c.config)):
        assert SECRET not in text

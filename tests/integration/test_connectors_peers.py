"""The peers themselves honour the vendors' contracts (raw requests, no connector involved)."""

from __future__ import annotations

import gzip
import hashlib
import hmac
import json
import time
import uuid

import httpx
import pytest

from tests.peers.datadog import DEFAULT_API_KEY
from tests.peers.fixtures import datadog_peer, splunk_peer, webhook_peer  # noqa: F401
from tests.peers.splunk import DEFAULT_TOKEN
from tests.peers.webhook import DEFAULT_SECRET

# One client for the module: building one per request costs ~0.2 s of TLS setup each.
HTTP = httpx.Client(timeout=5, trust_env=False)

ENTRY = {"message": "m", "ddsource": "s", "ddtags": "a:b", "hostname": "h", "service": "svc",
         "status": "info", "timestamp": 1_700_000_000_000, "id": "r1"}


def dd_post(peer, body, *, key=DEFAULT_API_KEY, gz=True, content_type="application/json"):
    data = json.dumps(body).encode() if not isinstance(body, bytes) else body
    headers = {"DD-API-KEY": key, "Content-Type": content_type}
    if gz:
        data, headers["Content-Encoding"] = gzip.compress(data), "gzip"
    return HTTP.post(peer.url + "/api/v2/logs", content=data, headers=headers)


def test_datadog_peer_contract(datadog_peer):  # noqa: F811
    assert dd_post(datadog_peer, [ENTRY]).status_code == 202
    assert dd_post(datadog_peer, [ENTRY], gz=False).status_code == 202
    bad = dd_post(datadog_peer, [ENTRY], key="x")
    assert bad.status_code == 403 and bad.json() == {"errors": ["Forbidden"]}
    assert dd_post(datadog_peer, [ENTRY], content_type="text/plain").status_code == 400
    assert dd_post(datadog_peer, [ENTRY] * 1001).status_code == 413
    assert dd_post(datadog_peer, [ENTRY] * 1000).status_code == 202
    missing = dict(ENTRY)
    del missing["ddtags"]
    answer = dd_post(datadog_peer, [ENTRY, missing])
    assert answer.status_code == 400 and "entry 1: missing field 'ddtags'" in answer.json()["errors"][0]
    assert dd_post(datadog_peer, [dict(ENTRY, timestamp=1_700_000_000)]).status_code == 400
    assert dd_post(datadog_peer, [dict(ENTRY, timestamp="1700000000000")]).status_code == 400
    big = dict(ENTRY, message="x" * 5_000_000)
    assert dd_post(datadog_peer, [big]).status_code == 413
    assert dd_post(datadog_peer, b"\x1f\x8bnot gzip", gz=False,
                   content_type="application/json").status_code == 400
    huge = dict(ENTRY, message="x" * 1_000_001)
    assert dd_post(datadog_peer, [huge]).status_code == 202 and datadog_peer.truncated == 1
    assert datadog_peer.ids["r1"] == 1003 and datadog_peer.duplicates == 1002
    ok = HTTP.get(datadog_peer.url + "/api/v1/validate", headers={"DD-API-KEY": DEFAULT_API_KEY})
    assert ok.json() == {"valid": True}
    assert HTTP.get(datadog_peer.url + "/api/v1/validate").status_code == 403


def test_peer_fault_controls(datadog_peer):  # noqa: F811
    datadog_peer.fail_with(429, count=2, retry_after=9)
    first = dd_post(datadog_peer, [ENTRY])
    assert first.status_code == 429 and first.headers["Retry-After"] == "9"
    assert dd_post(datadog_peer, [ENTRY]).status_code == 429
    assert dd_post(datadog_peer, [ENTRY]).status_code == 202
    datadog_peer.fail_with(503, seconds=0.2)
    assert dd_post(datadog_peer, [ENTRY]).status_code == 503
    time.sleep(0.25)
    assert dd_post(datadog_peer, [ENTRY]).status_code == 202
    datadog_peer.hang(0.5)
    with pytest.raises(httpx.TimeoutException):
        HTTP.post(datadog_peer.url + "/api/v2/logs", content=b"[]", timeout=0.2)
    datadog_peer.heal()
    datadog_peer.latency(0.2)
    started = time.monotonic()
    assert dd_post(datadog_peer, [ENTRY]).status_code == 202
    assert time.monotonic() - started >= 0.2


def hec_post(peer, data: bytes, *, token=DEFAULT_TOKEN, channel=None, auth=None):
    headers = {"Authorization": auth if auth is not None else f"Splunk {token}"}
    if channel:
        headers["X-Splunk-Request-Channel"] = channel
    return HTTP.post(peer.url + "/services/collector/event", content=data, headers=headers)


def ev(**kw):
    return json.dumps({"time": 1.5, "event": {"id": kw.pop("id", "e")}, **kw}).encode()


def test_splunk_peer_contract(splunk_peer):  # noqa: F811
    ok = hec_post(splunk_peer, ev(id="a") + b"\n" + ev(id="b") + ev(id="c"))
    assert ok.json() == {"text": "Success", "code": 0} and len(splunk_peer.events) == 3
    assert HTTP.post(splunk_peer.url + "/services/collector/event", content=ev()).json()["code"] == 2
    assert hec_post(splunk_peer, ev(), auth="Bearer x").json()["code"] == 3
    assert hec_post(splunk_peer, ev(), token="nope").json() == {"text": "Invalid token", "code": 4}
    assert hec_post(splunk_peer, b"  ").json()["code"] == 5
    array = hec_post(splunk_peer, b"[" + ev() + b"]")
    assert array.status_code == 400 and array.json()["code"] == 6
    missing = hec_post(splunk_peer, ev(id="d") + json.dumps({"time": 1}).encode())
    assert missing.json() == {"text": "Event field is required", "code": 12, "invalid-event-number": 1}
    assert splunk_peer.ids["d"] == 1  # the event before the bad one was kept
    blank = hec_post(splunk_peer, json.dumps({"event": ""}).encode())
    assert blank.json()["code"] == 13 and blank.json()["invalid-event-number"] == 0
    nested = hec_post(splunk_peer, ev(fields={"a": {"b": "c"}}))
    assert nested.json()["code"] == 15
    assert hec_post(splunk_peer, ev(time="soon")).json()["code"] == 6
    assert hec_post(splunk_peer, ev(), channel="not-a-uuid").json()["code"] == 11
    splunk_peer.max_content_length = 100
    assert hec_post(splunk_peer, ev() * 10).status_code == 413
    health = HTTP.get(splunk_peer.url + "/services/collector/health")
    assert health.json() == {"text": "HEC is healthy", "code": 17}


def test_splunk_peer_acks(splunk_peer):  # noqa: F811
    channel = str(uuid.uuid4())
    ack_url = splunk_peer.url + "/services/collector/ack"
    auth = {"Authorization": f"Splunk {DEFAULT_TOKEN}", "X-Splunk-Request-Channel": channel}
    assert HTTP.post(ack_url, json={"acks": [0]}, headers=auth).json()["code"] == 14
    splunk_peer.enable_acks(delay=1.5)
    assert hec_post(splunk_peer, ev()).json() == {"text": "Data channel is missing", "code": 10}
    first = hec_post(splunk_peer, ev(), channel=channel).json()
    second = hec_post(splunk_peer, ev(), channel=channel).json()
    assert (first["ackId"], second["ackId"]) == (0, 1)
    assert HTTP.post(ack_url, json={"acks": [0, 1, 7]}, headers=auth).json() == {
        "acks": {"0": False, "1": False, "7": False}}
    time.sleep(1.6)
    assert HTTP.post(ack_url, json={"acks": [0, 1]}, headers=auth).json() == {"acks": {"0": True, "1": True}}


def test_webhook_peer_verifies_signatures(webhook_peer):  # noqa: F811
    record = {k: None for k in ("id", "org_id", "log_type", "event_type", "severity", "timestamp",
                                "trace_id", "user_id", "resource_id", "resource_type", "action",
                                "metadata", "duration_ms", "cost", "message")}
    body = json.dumps([dict(record, id="w1")]).encode()

    def post(ts: str, secret: str = DEFAULT_SECRET, content: bytes = body):
        signature = "sha256=" + hmac.new(secret.encode(), ts.encode() + b"." + body, hashlib.sha256).hexdigest()
        return HTTP.post(webhook_peer.hook_url, content=content, headers={
            "Content-Type": "application/json", "X-Bonito-Timestamp": ts, "X-Bonito-Signature": signature})

    now = str(int(time.time()))
    assert post(now).status_code == 200 and webhook_peer.ids["w1"] == 1
    assert post(now, secret="wrong-secret-wrong").status_code == 401
    assert post(now, content=body.replace(b"w1", b"w2")).status_code == 401  # tampered body
    assert post(str(int(time.time()) - 3600)).json() == {"error": "timestamp outside tolerance (replay?)"}
    assert HTTP.post(webhook_peer.hook_url, content=body).status_code == 401

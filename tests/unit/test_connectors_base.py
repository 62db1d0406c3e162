"""Shared connector helpers: size accounting, Retry-After, exception classification, results."""

from __future__ import annotations

from datetime import UTC, datetime

import httpx
import pytest

from bonito_logs.connectors import Batch, Rejected, SendResult
from bonito_logs.connectors.base import classify_exception, classify_status
from bonito_logs.connectors.encoding import epoch_ms, epoch_seconds, pack, retry_after_seconds
from bonito_logs.errors import ValidationError
from bonito_logs.netguard import BlockedDestination


def entries(*sizes):
    return [({"id": str(i)}, f"e{i}", size) for i, size in enumerate(sizes)]


def test_pack_counts_envelope_and_separators():
    # [a,b,c] with sizes 3+3+2, two commas, two brackets = 12
    (batch,) = pack(entries(3, 3, 2), max_items=10, max_bytes=12, separator=1, envelope=2)
    assert len(batch) == 3 and batch.size == 12
    a, b = pack(entries(3, 3, 3), max_items=10, max_bytes=12, separator=1, envelope=2)
    assert (len(a), a.size, len(b), b.size) == (2, 9, 1, 5)


def test_pack_respects_count_and_keeps_order():
    batches = pack(entries(*[1] * 7), max_items=3, max_bytes=10**6)
    assert [len(b) for b in batches] == [3, 3, 1]
    assert [r["id"] for b in batches for r in b.records] == [str(i) for i in range(7)]


def test_pack_joinable_rule_and_key():
    batches = pack(entries(1, 1, 1, 1), max_items=10, max_bytes=100, key="k",
                   joinable=lambda batch, event: len(batch) < 2)
    assert [len(b) for b in batches] == [2, 2] and {b.key for b in batches} == {"k"}
    assert pack([], max_items=1, max_bytes=1) == []


@pytest.mark.parametrize(("value", "seconds"), [
    ("12", 12.0), ("0.5", 0.5), ("-3", 0.0), (None, None), ("", None), ("soon", None),
    ("Wed, 21 Oct 2015 07:28:00 GMT", 0.0),
])
def test_retry_after(value, seconds):
    assert retry_after_seconds(value) == seconds


def test_retry_after_http_date_in_the_future():
    now = datetime(2015, 10, 21, 7, 27, 0, tzinfo=UTC).timestamp()
    assert retry_after_seconds("Wed, 21 Oct 2015 07:28:00 GMT", now=now) == 60


def test_epoch_conversions_are_exact():
    record = {"timestamp": datetime(2024, 1, 2, 3, 4, 5, 999999, tzinfo=UTC)}
    assert epoch_ms(record) == 1704164645999
    assert epoch_seconds(record) == 1704164645.999999


@pytest.mark.parametrize(("exc", "outcome", "words"), [
    (httpx.ConnectError("refused"), "retry", "ConnectError"),
    (httpx.ReadTimeout("slow"), "retry", "timed out"),
    (httpx.RemoteProtocolError("closed"), "retry", "RemoteProtocolError"),
    (ConnectionResetError(), "retry", "transport error"),
    (BlockedDestination("url", "resolves to a loopback address"), "permanent", "SSRF guard"),
    (ValidationError("config.url", "bad"), "permanent", "config.url"),
    (KeyError("surprise"), "retry", "unexpected error"),
])
def test_classify_exception(exc, outcome, words):
    result = classify_exception(exc)
    assert result.outcome == outcome and words in result.reason


@pytest.mark.parametrize(("status", "outcome"), [
    (200, "ok"), (299, "ok"), (408, "retry"), (429, "retry"), (500, "retry"), (599, "retry"),
    (300, "permanent"), (400, "permanent"), (401, "permanent"), (403, "permanent"), (499, "permanent"),
])
def test_classify_status(status, outcome):
    assert classify_status(status, "r").outcome == outcome


def test_send_result_flags_and_json():
    record = {"id": "r1"}
    result = SendResult("ok", "fine", rejected=(Rejected(record, "too big", 3),))
    assert result.ok and not result.retryable and not result.permanent
    assert result.to_json()["rejected"] == [{"id": "r1", "index": 3, "reason": "too big"}]
    assert SendResult("retry").retryable and SendResult("permanent").permanent


def test_batch_slice():
    batch = Batch([{"id": "a"}, {"id": "b"}, {"id": "c"}], [b"1", b"2", b"3"], 9, "k")
    tail = batch.slice(1, size=4)
    assert [r["id"] for r in tail.records] == ["b", "c"] and tail.events == [b"2", b"3"]
    assert tail.size == 4 and tail.key == "k"

"""CloudWatch Logs: PutLogEvents limits at their exact edges, stream grouping, error codes."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import orjson
import pytest
from botocore import exceptions as bx

from bonito_logs.config import Settings
from bonito_logs.connectors import CloudWatchConnector
from bonito_logs.connectors.cloudwatch import (
    EVENT_OVERHEAD,
    MAX_BATCH_BYTES,
    MAX_EVENTS,
    _rejected,
    classify,
)
from bonito_logs.schemas import build_record, record_to_json
from tests.peers.records import make_records, padded

ORG = "2f1b0c2e-8a8d-4c1e-9a53-0d7f1e4c2b11"
NOW = datetime(2025, 6, 1, 12, 0, 0, tzinfo=UTC)
CREDS = {"aws_access_key_id": "AKIAIOSFODNN7EXAMPLE", "aws_secret_access_key": "x" * 40}


def connector(stream: str = "{org_id}", now: datetime = NOW) -> CloudWatchConnector:
    return CloudWatchConnector({"region": "us-east-1", "log_group": "/bonito", "log_stream": stream},
                               CREDS, org_id=ORG, settings=Settings(), clock=lambda: now.timestamp())


def weight(c: CloudWatchConnector):
    """What counts against the 1,048,576 bytes: UTF-8 message plus 26."""
    return lambda record: len(c.encode(record)["message"].encode()) + EVENT_OVERHEAD


def at(offset: timedelta, **kw) -> dict:
    return build_record(org_id=ORG, log_type=kw.get("log_type", "gateway"), event_type="e",
                        severity="info", timestamp=NOW + offset, message=kw.get("message"))


def test_event_format():
    record = at(timedelta(seconds=-1), message="hé")
    event = connector().encode(record)
    assert event == {"timestamp": int((NOW.timestamp() - 1) * 1000),
                     "message": orjson.dumps(record_to_json(record)).decode()}


def test_at_most_10000_events():
    # Our messages (a whole record as JSON) are far over 78 bytes, so the byte limit binds
    # first in practice; tiny messages show the count limit on its own.
    c = connector()
    c.encode = lambda r: {"timestamp": int(r["timestamp"].timestamp() * 1000), "message": "x"}
    records = make_records(MAX_EVENTS + 1, org_id=ORG, start=NOW - timedelta(hours=1),
                           step=timedelta(milliseconds=1))
    assert [len(b) for b in c.batches(records[:MAX_EVENTS]).batches] == [10_000]
    assert [len(b) for b in c.batches(records).batches] == [10_000, 1]


def test_real_records_fill_batches_by_bytes():
    c = connector()
    records = make_records(5_000, org_id=ORG, start=NOW - timedelta(hours=1),
                           step=timedelta(milliseconds=1))
    batches, rejected = c.batches(records)
    assert rejected == [] and sum(map(len, batches)) == 5_000
    for b in batches:
        assert len(b) <= MAX_EVENTS
        assert sum(len(e["message"].encode()) + 26 for e in b.events) == b.size <= MAX_BATCH_BYTES
    for b in batches[:-1]:  # greedy: the next event would not have fit
        assert b.size > MAX_BATCH_BYTES - 2_000


def test_bytes_counted_with_26_per_event_exact_edge():
    c = connector()
    size = weight(c)
    base = [at(timedelta(seconds=-i)) for i in range(4, 0, -1)]
    exact = [padded(r, size, 262_144) for r in base]  # 4 × 262,144 = 1,048,576
    batches, rejected = c.batches(exact)
    assert rejected == [] and [len(b) for b in batches] == [4]
    assert batches[0].size == MAX_BATCH_BYTES
    assert sum(len(e["message"].encode()) + 26 for e in batches[0].events) == MAX_BATCH_BYTES
    over = exact[:3] + [padded(base[3], size, 262_145)]
    assert [len(b) for b in c.batches(over).batches] == [3, 1]


def test_multibyte_messages_count_bytes_not_characters():
    c = connector()
    record = at(timedelta(seconds=-1), message="é" * 1000)
    assert weight(c)(record) - len(c.encode(record)["message"]) - 26 == 1000


def test_single_event_limit():
    c = connector()
    size = weight(c)
    a, b = at(timedelta(seconds=-2)), at(timedelta(seconds=-1))
    batches, rejected = c.batches([padded(a, size, MAX_BATCH_BYTES), padded(b, size, MAX_BATCH_BYTES + 1)])
    assert [len(x) for x in batches] == [1]
    assert [r.index for r in rejected] == [1] and "26-byte overhead" in rejected[0].reason


def test_span_of_24h_is_one_batch_a_millisecond_more_is_two():
    c = connector()
    start = timedelta(days=-3)
    same = [at(start), at(start + timedelta(hours=12)), at(start + timedelta(hours=24))]
    assert [len(b) for b in c.batches(same).batches] == [3]
    split = [at(start), at(start + timedelta(hours=12)), at(start + timedelta(hours=24, milliseconds=1))]
    batches = c.batches(split).batches
    assert [len(b) for b in batches] == [2, 1]
    for b in batches:
        assert b.events[-1]["timestamp"] - b.events[0]["timestamp"] <= 24 * 3600 * 1000


def test_events_are_sorted_by_time_within_each_batch():
    c = connector()
    records = make_records(500, org_id=ORG, start=NOW - timedelta(days=2), step=timedelta(minutes=5))
    shuffled = records[:]
    random.Random(5).shuffle(shuffled)
    batches, rejected = c.batches(shuffled)
    assert rejected == []
    stamps = [e["timestamp"] for b in batches for e in b.events]
    assert stamps == sorted(stamps)
    assert sorted(r["id"] for b in batches for r in b.records) == sorted(r["id"] for r in records)


def test_ties_keep_input_order():
    c = connector()
    same_time = [at(timedelta(seconds=-1), message=str(i)) for i in range(5)]
    (batch,), _ = c.batches(same_time)
    assert [r["message"] for r in batch.records] == ["0", "1", "2", "3", "4"]


def test_too_old_and_too_new_are_rejected_at_the_exact_edges():
    c = connector()
    records = [
        at(-timedelta(days=14)),  # exactly 14 days: accepted
        at(-timedelta(days=14, milliseconds=1)),  # older: refused
        at(timedelta(hours=2)),  # exactly 2 h ahead: accepted
        at(timedelta(hours=2, milliseconds=1)),  # further: refused
    ]
    batches, rejected = c.batches(records)
    assert [r.index for r in rejected] == [1, 3]
    assert "older than 14 days" in rejected[0].reason
    assert "more than 2 hours in the future" in rejected[1].reason
    assert sorted(r["id"] for b in batches for r in b.records) == sorted([records[0]["id"], records[2]["id"]])
    # and the accepted pair (16 days apart) is split by the 24 h rule
    assert len(batches) == 2


def test_stream_template_groups_records():
    c = connector("{org_id}/{log_type}")
    records = make_records(70, org_id=ORG, start=NOW - timedelta(hours=1), log_types=("gateway", "auth", "kb"))
    batches, _ = c.batches(records)
    assert {b.key for b in batches} == {f"{ORG}/gateway", f"{ORG}/auth", f"{ORG}/kb"}
    for b in batches:
        assert all(f"{ORG}/{r['log_type']}" == b.key for r in b.records)


def client_error(code: str, status: int, message: str = "m") -> bx.ClientError:
    return bx.ClientError({"Error": {"Code": code, "Message": message},
                           "ResponseMetadata": {"HTTPStatusCode": status}}, "PutLogEvents")


@pytest.mark.parametrize(("code", "status", "outcome"), [
    ("ThrottlingException", 400, "retry"), ("Throttling", 400, "retry"),
    ("ServiceUnavailableException", 503, "retry"), ("ServiceUnavailable", 503, "retry"),
    ("InternalFailure", 500, "retry"), ("RequestLimitExceeded", 400, "retry"),
    ("OperationAbortedException", 400, "retry"), ("SomethingNew", 502, "retry"),
    ("SomethingNew", 429, "retry"),
    ("InvalidParameterException", 400, "permanent"), ("UnrecognizedClientException", 400, "permanent"),
    ("InvalidClientTokenId", 403, "permanent"), ("InvalidSignatureException", 400, "permanent"),
    ("AccessDeniedException", 400, "permanent"), ("ExpiredTokenException", 400, "permanent"),
    ("DataAlreadyAcceptedException", 400, "ok"),
])
def test_error_classification(code, status, outcome):
    result = classify(client_error(code, status, "because"))
    assert result.outcome == outcome and result.code == code
    assert result.reason == f"CloudWatch Logs answered {code}: because"


@pytest.mark.parametrize(("exc", "outcome"), [
    (bx.EndpointConnectionError(endpoint_url="http://x"), "retry"),
    (bx.ConnectTimeoutError(endpoint_url="http://x"), "retry"),
    (bx.ReadTimeoutError(endpoint_url="http://x"), "retry"),
    (bx.ConnectionClosedError(endpoint_url="http://x"), "retry"),
    (bx.NoCredentialsError(), "permanent"),
])
def test_transport_classification(exc, outcome):
    assert classify(exc).outcome == outcome


def test_xml_error_body_is_read():
    body = ('<ErrorResponse><Errors><Error><Code>InvalidClientTokenId</Code><Message>The security '
            'token included in the request is invalid.</Message></Error></Errors></ErrorResponse>')
    result = classify(client_error("403", 403, body))
    assert result.outcome == "permanent" and result.code == "InvalidClientTokenId"
    assert result.reason.endswith("The security token included in the request is invalid.")


def test_rejected_info_maps_to_records():
    c = connector()
    (batch,), _ = c.batches([at(timedelta(seconds=-i)) for i in range(6, 0, -1)])
    rejected = _rejected(batch, {"tooOldLogEventEndIndex": 1, "tooNewLogEventStartIndex": 5})
    assert [r.index for r in rejected] == [0, 1, 5]
    assert [r.record["id"] for r in rejected] == [batch.records[i]["id"] for i in (0, 1, 5)]

"""Documents: what to_document adds, and from_document(to_document(r)) == record_to_json(r)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import orjson
import pytest

from bonito_logs.config import Settings
from bonito_logs.schemas import FIELDS, build_record, record_to_json
from bonito_logs.store import MAPPINGS, from_document, index_for, index_template, to_document
from bonito_logs.store.documents import MAX_FLAT_DEPTH, MAX_FLAT_VALUE_BYTES, flat_safe

ORG = "0b8e6d1c-3f0a-4d5e-9a7b-2c1d0e9f8a7b"


def full_record(**over):
    fields = dict(
        org_id=ORG, log_type="agent", event_type="tool_use", severity="critical",
        timestamp=datetime(2024, 2, 29, 23, 59, 59, 999999, tzinfo=UTC),
        trace_id="5f0c8d7e-1111-4222-8333-944455556666", user_id="user-ü-1",
        resource_id="agent-7", resource_type="agent", action="execute",
        metadata={"tool": "search", "nested": {"deep": [1, 2.5, None, True, {"x": "日本語"}]},
                  "emoji": "🐟", "big": 2**53, "neg": -1e-300},
        duration_ms=1.7976931348623157e308, cost=5e-324, message="line1\nline2 \"quoted\", ✓",
    )
    fields.update(over)
    return build_record(**fields)


def json_round_trip(doc):
    return orjson.loads(orjson.dumps(doc))


RECORDS = [
    full_record(),
    full_record(metadata=None, message=None, trace_id=None, action=None, resource_type=None,
                duration_ms=None, cost=None, user_id=None, resource_id=None),
    full_record(metadata={}, duration_ms=0, cost=3),
    full_record(timestamp=datetime(1, 1, 1, tzinfo=UTC)),
    full_record(timestamp=datetime(9999, 12, 31, 23, 59, 59, 999999, tzinfo=UTC)),
    full_record(timestamp=datetime(1969, 12, 31, 23, 59, 59, 1, tzinfo=UTC)),
    full_record(metadata={"long": "x" * 60_000}),
    full_record(metadata={"k" * 1000: 1}),
]


@pytest.mark.parametrize("record", RECORDS)
def test_round_trip(record):
    doc = to_document(record)
    assert from_document(json_round_trip(doc)) == record_to_json(record)
    assert list(from_document(doc)) == list(FIELDS)


def test_document_fields_are_exactly_the_mapping():
    mapped = set(MAPPINGS["properties"])
    for record in RECORDS:
        assert set(to_document(record)) <= mapped
    assert set(FIELDS) <= mapped


def test_derived_fields():
    rec = full_record()
    doc = to_document(rec)
    assert doc["timestamp"] == "2024-02-29T23:59:59.999999Z"
    assert doc["timestamp_us"] == 1709251199999999
    assert doc["severity_rank"] == 4
    assert doc["metadata"] == rec["metadata"] and "metadata_original" not in doc
    for word in ("search", "日本語", "🐟", "9007199254740992", "2.5", "true"):
        assert word in doc["metadata_text"].split()
    assert "tool" not in doc["metadata_text"].split()  # values, not keys
    ingested = datetime.fromisoformat(doc["ingested_at"].replace("Z", "+00:00"))
    assert abs(ingested - datetime.now(UTC)) < timedelta(seconds=5)


def test_document_timestamp_pads_early_years():
    doc = to_document(full_record(timestamp=datetime(1, 1, 1, tzinfo=UTC)))
    assert doc["timestamp"] == "0001-01-01T00:00:00.000000Z"
    assert doc["timestamp_us"] == -62135596800000000


def test_json_shaped_record_is_accepted_too():
    rec = full_record()
    assert to_document(record_to_json(rec))["timestamp_us"] == to_document(rec)["timestamp_us"]


def test_metadata_made_safe_for_flat_object_keeps_the_original():
    meta = {"long": "é" * 10_000, "ok": "fine", "k" * 300: "v"}
    doc = to_document(full_record(metadata=meta))
    assert doc["metadata_original"] == meta
    assert len(doc["metadata"]["long"].encode()) <= MAX_FLAT_VALUE_BYTES
    assert doc["metadata"]["ok"] == "fine"
    assert all(len(k.encode()) <= 256 for k in doc["metadata"])
    assert "é" * 10_000 in doc["metadata_text"]  # full text keeps the whole value


def test_deep_metadata_is_collapsed_below_the_depth_limit():
    deep = cur = {}
    for _ in range(MAX_FLAT_DEPTH + 5):
        cur["k"] = {}
        cur = cur["k"]
    cur["v"] = "bottom"
    safe, changed = flat_safe(deep, 0)
    assert changed
    depth, node = 0, safe
    while isinstance(node, dict):
        node, depth = node["k"], depth + 1
    assert depth == MAX_FLAT_DEPTH and isinstance(node, str) and "bottom" in node
    same, changed = flat_safe({"a": [{"b": "c"}], "n": None}, 0)
    assert not changed and same == {"a": [{"b": "c"}], "n": None}


def test_index_for_uses_the_utc_day():
    s = Settings().replace(index_prefix="p-")
    assert index_for(datetime(2024, 1, 31, 23, 30, tzinfo=UTC), s) == "p-2024.01.31"
    assert index_for(datetime(2024, 2, 1, 0, 30, tzinfo=timezone(timedelta(hours=2))), s) == "p-2024.01.31"
    assert index_for(datetime(2024, 2, 1, 0, 30), s) == "p-2024.02.01"
    assert index_for(datetime(1, 1, 1, tzinfo=UTC), s) == "p-0001.01.01"


def test_template_uses_settings():
    s = Settings().replace(index_prefix="t-x-logs-", index_shards=3, index_replicas=1)
    body = index_template(s)
    assert body["index_patterns"] == ["t-x-logs-*"]
    assert body["template"]["settings"]["index"]["number_of_shards"] == 3
    assert body["template"]["settings"]["index"]["number_of_replicas"] == 1
    assert body["template"]["mappings"]["dynamic"] == "strict"

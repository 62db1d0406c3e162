"""Avro single-object encoding: round trips, Apache avro interop, compatibility."""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime
from itertools import product
from pathlib import Path

import avro.io
import avro.schema
import pytest
from avro.compatibility import ReaderWriterCompatibilityChecker, SchemaCompatibilityType
from fastavro.schema import to_parsing_canonical_form

from bonito_logs.errors import DecodeError, UnknownSchema
from bonito_logs.schemas import (
    MARKER,
    build_record,
    crc64_avro,
    current_schema,
    decode,
    encode,
    record_to_json,
    schema_versions,
)

ORG = "0b8e6d1c-3f0a-4d5e-9a7b-2c1d0e9f8a7b"
AVSC = Path(__file__).parents[2] / "bonito_logs" / "schemas" / "avsc"


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


@pytest.mark.parametrize("rec", [
    full_record(),
    full_record(metadata=None, message=None, trace_id=None, action=None, resource_type=None,
                duration_ms=None, cost=None, user_id=None, resource_id=None),
    full_record(timestamp=datetime(1970, 1, 1, tzinfo=UTC), duration_ms=0, cost=0),
    full_record(timestamp=datetime(9999, 12, 31, 23, 59, 59, 999999, tzinfo=UTC)),
    full_record(metadata={}, message=""),
])
def test_round_trip_every_field(rec):
    data = encode(rec)
    assert data[:2] == MARKER
    assert data[2:10] == current_schema().fingerprint
    assert decode(data) == rec


def test_microseconds_survive():
    rec = full_record(timestamp=datetime(2024, 1, 1, 0, 0, 0, 1, tzinfo=UTC))
    assert decode(encode(rec))["timestamp"].microsecond == 1


def test_apache_avro_reads_our_bytes():
    rec = full_record()
    data = encode(rec)
    schema = avro.schema.parse((AVSC / "log_record.v1.avsc").read_text())
    # The fingerprint is CRC-64-AVRO of the spec's Parsing Canonical Form, computed
    # with Apache avro's own implementation of the algorithm.
    pcf = to_parsing_canonical_form(json.loads((AVSC / "log_record.v1.avsc").read_text()))
    assert avro.schema._crc_64_fingerprint(pcf.encode()) == data[2:10]
    assert crc64_avro(pcf.encode()) == data[2:10]
    decoded = avro.io.DatumReader(schema).read(avro.io.BinaryDecoder(io.BytesIO(data[10:])))
    assert decoded["id"] == rec["id"]
    assert decoded["log_type"] == "agent" and decoded["severity"] == "critical"
    assert decoded["timestamp"] == rec["timestamp"]
    assert json.loads(decoded["metadata"]) == rec["metadata"]
    assert decoded["message"] == rec["message"]
    assert decoded["duration_ms"] == rec["duration_ms"] and decoded["cost"] == rec["cost"]


def test_apache_avro_written_body_decodes_with_our_reader():
    schema = avro.schema.parse((AVSC / "log_record.v1.avsc").read_text())
    rec = full_record()
    datum = dict(rec, metadata=json.dumps(rec["metadata"]))
    buf = io.BytesIO()
    avro.io.DatumWriter(schema).write(datum, avro.io.BinaryEncoder(buf))
    assert decode(current_schema().header + buf.getvalue()) == rec


def test_unknown_fingerprint_is_a_typed_error():
    data = bytearray(encode(full_record()))
    data[2:10] = b"\x00" * 8
    with pytest.raises(UnknownSchema, match="unknown schema fingerprint 0000000000000000"):
        decode(bytes(data))


@pytest.mark.parametrize("garbage", [b"", b"\xc3", b"hello world", b"\xc3\x01" + b"\xff" * 8,
                                     b"\x00" * 64])
def test_garbage_is_a_decode_error(garbage):
    with pytest.raises(DecodeError):
        decode(garbage)


def test_truncated_body_is_a_decode_error():
    data = encode(full_record())
    with pytest.raises(DecodeError, match="corrupt"):
        decode(data[:-5])


def test_trailing_bytes_are_a_decode_error():
    with pytest.raises(DecodeError, match="trailing"):
        decode(encode(full_record()) + b"\x00")


def test_every_shipped_version_is_mutually_compatible():
    versions = schema_versions()
    assert [v.version for v in versions] == list(range(1, len(versions) + 1))
    parsed = [avro.schema.parse((AVSC / f"log_record.v{v.version}.avsc").read_text())
              for v in versions]
    checker = ReaderWriterCompatibilityChecker()
    for reader, writer in product(parsed, parsed):
        result = checker.get_compatibility(reader, writer)
        assert result.compatibility is SchemaCompatibilityType.compatible, result.messages


def test_the_compatibility_check_can_fail():
    """Guard for the test above: a version dropping an enum symbol is detected."""
    v1 = json.loads((AVSC / "log_record.v1.avsc").read_text())
    broken = json.loads(json.dumps(v1))
    broken["fields"][2]["type"]["symbols"].remove("billing")
    checker = ReaderWriterCompatibilityChecker()
    result = checker.get_compatibility(avro.schema.parse(json.dumps(broken)),
                                       avro.schema.parse(json.dumps(v1)))
    assert result.compatibility is SchemaCompatibilityType.incompatible


def test_record_to_json_is_json_ready():
    rec = full_record()
    out = record_to_json(rec)
    assert out["timestamp"] == "2024-02-29T23:59:59.999999Z"
    assert list(out) == list(rec)
    json.dumps(out)


def test_timestamps_format_with_four_digit_years():
    from bonito_logs.schemas import format_timestamp

    assert format_timestamp(datetime(1, 1, 1, tzinfo=UTC)) == "0001-01-01T00:00:00.000000Z"
    assert format_timestamp(datetime(999, 12, 31, 23, 59, 59, 5, tzinfo=UTC)) == "0999-12-31T23:59:59.000005Z"

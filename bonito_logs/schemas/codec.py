"""Avro single-object encoding of log records, with fastavro on the hot path.

Wire format (Avro spec, "Single object encoding"): ``C3 01``, the 8-byte
little-endian CRC-64-AVRO fingerprint of the writer's schema, then the Avro
binary body. Decoding looks the fingerprint up among every schema version we
ship and resolves the writer's schema to the current one, so records written
by older producers stay readable.
"""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime, timedelta
from functools import cache
from importlib import resources
from typing import Any

import fastavro
import orjson
from fastavro.schema import to_parsing_canonical_form

from bonito_logs.errors import DecodeError, UnknownSchema, ValidationError
from bonito_logs.schemas.model import FIELDS, MAX_RECORD_BYTES, metadata_json

MARKER = b"\xc3\x01"
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)
HEADER_LENGTH = 10

_EMPTY64 = 0xC15D213AA4D7A795


def _crc64_table() -> list[int]:
    table = []
    for i in range(256):
        fp = i
        for _ in range(8):
            fp = (fp >> 1) ^ (_EMPTY64 & -(fp & 1))
        table.append(fp)
    return table


_TABLE = _crc64_table()


def crc64_avro(data: bytes) -> bytes:
    """The CRC-64-AVRO (Rabin) fingerprint of ``data``, as 8 little-endian bytes."""
    fp = _EMPTY64
    for b in data:
        fp = (fp >> 8) ^ _TABLE[(fp ^ b) & 0xFF]
    return fp.to_bytes(8, "little")


class SchemaVersion:
    """One shipped ``.avsc``: its number, JSON, parsed form and fingerprint."""

    def __init__(self, version: int, text: str) -> None:
        self.version = version
        self.json: dict[str, Any] = json.loads(text)
        self.parsed = fastavro.parse_schema(self.json)
        # The wire format of a logical type is its primitive; encoding and decoding
        # through the plain schema (and converting timestamps ourselves) halves
        # fastavro's per-record cost on the emit path.
        self.plain = fastavro.parse_schema(_strip_logical_types(self.json))
        self.canonical_form: str = to_parsing_canonical_form(self.parsed)
        self.fingerprint: bytes = crc64_avro(self.canonical_form.encode())
        self.header = MARKER + self.fingerprint

    def __repr__(self) -> str:
        return f"SchemaVersion(v{self.version}, fingerprint={self.fingerprint.hex()})"


def _strip_logical_types(node: Any) -> Any:
    if isinstance(node, dict):
        return {k: _strip_logical_types(v) for k, v in node.items() if k != "logicalType"}
    if isinstance(node, list):
        return [_strip_logical_types(v) for v in node]
    return node


@cache
def schema_versions() -> tuple[SchemaVersion, ...]:
    """Every shipped version, oldest first (files ``avsc/log_record.v<N>.avsc``)."""
    folder = resources.files("bonito_logs.schemas") / "avsc"
    found = []
    for entry in folder.iterdir():
        name = entry.name
        if name.startswith("log_record.v") and name.endswith(".avsc"):
            found.append(SchemaVersion(int(name[len("log_record.v"):-len(".avsc")]), entry.read_text()))
    found.sort(key=lambda v: v.version)
    return tuple(found)


def current_schema() -> SchemaVersion:
    return schema_versions()[-1]


@cache
def _by_fingerprint() -> dict[bytes, SchemaVersion]:
    return {v.fingerprint: v for v in schema_versions()}


_writer = fastavro.write.schemaless_writer
_reader = fastavro.read.schemaless_reader


def encode(record: dict[str, Any]) -> bytes:
    """Single-object encode a canonical record (from ``build_record``).

    Serialises metadata to JSON (checking its size) and enforces the whole-record
    limit; raises ``ValidationError`` naming the field and the rule.
    """
    schema = current_schema()
    datum = dict(record)
    datum["metadata"] = metadata_json(record.get("metadata"))
    datum["timestamp"] = (record["timestamp"] - _EPOCH) // _MICROSECOND
    buf = io.BytesIO()
    buf.write(schema.header)
    try:
        _writer(buf, schema.plain, datum)
    except UnicodeEncodeError:
        raise _bad_text(datum) from None
    data = buf.getvalue()
    if len(data) > MAX_RECORD_BYTES:
        raise ValidationError("record", f"must encode to at most {MAX_RECORD_BYTES} bytes (got {len(data)})")
    return data


def _bad_text(datum: dict[str, Any]) -> ValidationError:
    for name in FIELDS:
        value = datum.get(name)
        if isinstance(value, str):
            try:
                value.encode()
            except UnicodeEncodeError:
                return ValidationError(name, "must be valid Unicode text (no lone surrogates)")
    return ValidationError("record", "must be valid Unicode text")


def decode(data: bytes) -> dict[str, Any]:
    """Decode single-object bytes into the canonical record dict.

    Raises ``UnknownSchema`` for a fingerprint we do not ship and ``DecodeError``
    for anything else that is not a readable record.
    """
    if not isinstance(data, bytes | bytearray | memoryview):
        raise DecodeError(f"expected bytes, got {type(data).__name__}")
    if len(data) < HEADER_LENGTH or data[:2] != MARKER:
        raise DecodeError("not Avro single-object encoding (missing C3 01 marker)")
    fingerprint = bytes(data[2:HEADER_LENGTH])
    writer = _by_fingerprint().get(fingerprint)
    if writer is None:
        raise UnknownSchema(f"unknown schema fingerprint {fingerprint.hex()}")
    reader = current_schema()
    buf = io.BytesIO(data)
    buf.seek(HEADER_LENGTH)
    try:
        if writer is reader:
            datum = _reader(buf, writer.plain)
        else:
            datum = _reader(buf, writer.plain, reader.plain)
    except Exception as exc:  # fastavro raises several types for corrupt input
        raise DecodeError(f"corrupt Avro body: {type(exc).__name__}: {exc}") from None
    if buf.tell() != len(data):
        raise DecodeError(f"{len(data) - buf.tell()} trailing bytes after the record")
    try:
        datum["timestamp"] = _EPOCH + timedelta(microseconds=datum["timestamp"])
    except OverflowError:
        raise DecodeError(f"timestamp out of range: {datum['timestamp']}") from None
    raw_meta = datum.get("metadata")
    if raw_meta is not None:
        try:
            datum["metadata"] = orjson.loads(raw_meta)
        except orjson.JSONDecodeError as exc:
            raise DecodeError(f"metadata is not JSON: {exc}") from None
    return datum


def format_timestamp(ts: datetime) -> str:
    """``2024-01-02T03:04:05.123456Z``: always microseconds, always UTC, 4-digit years.

    (``strftime("%Y")`` leaves years before 1000 unpadded, which ISO 8601 readers reject.)
    """
    ts = ts.astimezone(UTC)
    return (f"{ts.year:04d}-{ts.month:02d}-{ts.day:02d}T{ts.hour:02d}:{ts.minute:02d}:"
            f"{ts.second:02d}.{ts.microsecond:06d}Z")


def record_to_json(record: dict[str, Any]) -> dict[str, Any]:
    """The record with JSON-ready values (ISO timestamp), keys in schema order."""
    out = {name: record.get(name) for name in FIELDS}
    out["timestamp"] = format_timestamp(record["timestamp"])
    return out

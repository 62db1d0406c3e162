"""A canonical record as an OpenSearch document, and back.

``to_document`` adds what search needs (exact microseconds, severity rank,
metadata as searchable text) and ``from_document`` returns exactly
``schemas.record_to_json(record)``.

``flat_object`` indexes every metadata leaf as a keyword term ``path=value``; a
term over 32766 bytes fails the whole document. So the indexed ``metadata`` is
a bounded copy (long strings and keys cut, very deep objects collapsed to JSON
text) and, only when that copy differs, the caller's dict is kept verbatim in
the unindexed ``metadata_original``.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import orjson

from bonito_logs.schemas import FIELDS, SEVERITY_RANK, format_timestamp

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_US = timedelta(microseconds=1)

MAX_FLAT_DEPTH = 16  # nested objects kept as structure; deeper ones become JSON text
MAX_FLAT_KEY_BYTES = 256
MAX_FLAT_VALUE_BYTES = 8192  # 16 keys * 256 + 8192 stays far below Lucene's 32766-byte term


def timestamp_us(ts: datetime) -> int:
    """Exact microseconds since the Unix epoch (a naive ``ts`` is UTC)."""
    if ts.tzinfo is None:
        ts = ts.replace(tzinfo=UTC)
    return (ts - EPOCH) // _US


def from_timestamp_us(us: int) -> datetime:
    return EPOCH + timedelta(microseconds=us)


def iso_timestamp(ts: datetime) -> str:
    """``0001-01-01T00:00:00.000000Z``: what an OpenSearch ``date`` parses for every year.

    (``strftime("%Y")`` does not pad years before 1000, which OpenSearch rejects.)
    """
    ts = ts.astimezone(UTC)
    return (f"{ts.year:04d}-{ts.month:02d}-{ts.day:02d}T{ts.hour:02d}:{ts.minute:02d}:"
            f"{ts.second:02d}.{ts.microsecond:06d}Z")


def _as_datetime(value: Any) -> datetime:
    if isinstance(value, datetime):
        return value if value.tzinfo is not None else value.replace(tzinfo=UTC)
    if isinstance(value, str):  # a record_to_json-shaped record
        return datetime.fromisoformat(value[:-1] + "+00:00" if value.endswith("Z") else value)
    raise TypeError(f"timestamp must be a datetime, got {type(value).__name__}")


def to_document(record: dict[str, Any]) -> dict[str, Any]:
    """The ``_source`` for a canonical record (from ``build_record`` or ``decode``)."""
    ts = _as_datetime(record["timestamp"])
    metadata = record.get("metadata")
    doc: dict[str, Any] = {name: record.get(name) for name in FIELDS}
    doc["timestamp"] = iso_timestamp(ts)
    doc["timestamp_us"] = timestamp_us(ts)
    doc["severity_rank"] = SEVERITY_RANK[record["severity"]]
    doc["metadata_text"] = metadata_text(metadata) if metadata else None
    if metadata is not None:
        flat, changed = flat_safe(metadata, 0)
        doc["metadata"] = flat
        if changed:
            doc["metadata_original"] = metadata
    doc["ingested_at"] = iso_timestamp(datetime.now(UTC))
    return doc


def from_document(source: dict[str, Any]) -> dict[str, Any]:
    """The API's JSON record: ``record_to_json`` shape, keys in schema order.

    The timestamp is rebuilt from the exact ``timestamp_us`` and formatted by the
    schema's own ``format_timestamp``, so it is byte-for-byte what the API returns
    for a record it has in memory.
    """
    out = {name: source.get(name) for name in FIELDS}
    us = source.get("timestamp_us")
    out["timestamp"] = (format_timestamp(from_timestamp_us(us)) if isinstance(us, int)
                        else format_timestamp(_as_datetime(source["timestamp"])))
    if "metadata_original" in source:
        out["metadata"] = source["metadata_original"]
    for name in ("duration_ms", "cost"):  # a double may come back as 3 rather than 3.0
        if out[name] is not None:
            out[name] = float(out[name])
    return out


def metadata_text(metadata: Any) -> str:
    """Every leaf value (not the keys) of the metadata, space separated, for full text."""
    parts: list[str] = []
    _leaves(metadata, parts)
    return " ".join(parts)


def _leaves(node: Any, out: list[str]) -> None:
    if isinstance(node, dict):
        for value in node.values():
            _leaves(value, out)
    elif isinstance(node, list | tuple):
        for value in node:
            _leaves(value, out)
    elif isinstance(node, str):
        if node:
            out.append(node)
    elif isinstance(node, bool):
        out.append("true" if node else "false")
    elif node is not None:
        out.append(str(node))


def _cut(text: str, limit: int) -> str:
    raw = text.encode("utf-8", "surrogatepass")
    if len(raw) <= limit:
        return text
    return raw[:limit].decode("utf-8", "ignore")


def flat_safe(node: Any, depth: int) -> tuple[Any, bool]:
    """A copy of ``node`` every flat_object term of which fits; and whether it differs."""
    if isinstance(node, str):
        cut = _cut(node, MAX_FLAT_VALUE_BYTES)
        return cut, cut is not node
    if isinstance(node, dict):
        if depth >= MAX_FLAT_DEPTH:
            return _cut(orjson.dumps(node).decode(), MAX_FLAT_VALUE_BYTES), True
        changed = False
        out: dict[str, Any] = {}
        for key, value in node.items():
            safe_key = _cut(key, MAX_FLAT_KEY_BYTES)
            safe_value, value_changed = flat_safe(value, depth + 1)
            changed = changed or value_changed or safe_key is not key or safe_key in out
            out[safe_key] = safe_value
        return out, changed
    if isinstance(node, list | tuple):
        changed = isinstance(node, tuple)
        items = []
        for value in node:
            safe_value, value_changed = flat_safe(value, depth)
            changed = changed or value_changed
            items.append(safe_value)
        return items, changed
    return node, False

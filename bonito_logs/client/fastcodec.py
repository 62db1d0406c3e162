"""``fast_encode``: byte-for-byte ``bonito_logs.schemas.encode``, about three times cheaper.

fastavro's generic writer resolves every union and walks the schema on each call,
which makes it most of ``emit``'s cost. Here the current schema is compiled once
into a straight-line function (the technique ``dataclasses`` uses) that writes
the same Avro single-object bytes.

Safety: the compiler knows only the shapes the record schema uses (string, enum,
long, double, and unions of null with those); for anything else, or when a
self-check against ``encode`` on sample records disagrees, ``fast_encode`` *is*
``encode``. At run time anything unusual (text that is not valid Unicode, a
record over the size limit, a value of an unexpected type) is handed to
``encode``, so errors are exactly the schema module's.
"""

from __future__ import annotations

import logging
import struct
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from bonito_logs.schemas import MAX_RECORD_BYTES, current_schema, encode

log = logging.getLogger("bonito_logs.client")

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def _long(n: int) -> bytes:
    """Avro long: zig-zag, then base-128 varint."""
    n = (n << 1) ^ (n >> 63)
    if n < 0x80:
        return _SMALL[n]
    out = bytearray()
    while n >= 0x80:
        out.append((n & 0x7F) | 0x80)
        n >>= 7
    out.append(n)
    return bytes(out)


_SMALL = [bytes((i,)) for i in range(0x80)]
_LENGTHS = [_long(i) for i in range(1024)]  # string lengths up to 1 KiB: a table lookup


def _length(n: int) -> bytes:
    return _LENGTHS[n] if n < 1024 else _long(n)


class _Unsupported(Exception):
    pass


def _field_code(index: int, name: str, ftype: Any, env: dict[str, Any]) -> list[str]:
    """Source lines that append field ``name`` to ``out``; raises _Unsupported."""
    value = f"r[{name!r}]"
    if isinstance(ftype, list):  # a union: only [null, X]
        if len(ftype) != 2 or ftype[0] != "null":
            raise _Unsupported(f"union {ftype}")
        inner = _field_code(index, name, ftype[1], env)
        return [f"v = {value}",
                "if v is None:",
                "    a(b'\\x00')",
                "else:",
                "    a(b'\\x02')",
                *("    " + line for line in inner)]
    kind = ftype.get("type") if isinstance(ftype, dict) else ftype
    logical = ftype.get("logicalType") if isinstance(ftype, dict) else None
    src = "v" if index in env["_unions"] else value
    if kind == "long" and logical == "timestamp-micros":  # a datetime, as encode() converts it
        return [f"d = {src} - EPOCH",
                "a(LONG((d.days * 86400 + d.seconds) * 1000000 + d.microseconds))"]
    if kind == "string":
        if name == "metadata":
            src = "meta"  # encode() writes the dict as compact JSON text
        return [f"s = {src}.encode()", "a(LEN(len(s)))", "a(s)"]
    if kind == "enum":
        table = f"ENUM_{index}"
        env[table] = {sym: _long(i) for i, sym in enumerate(ftype["symbols"])}
        return [f"a({table}[{src}])"]
    if kind == "double":
        return [f"a(DOUBLE({src}))"]
    if kind == "long":
        return [f"a(LONG({src}))"]
    raise _Unsupported(f"{name}: {ftype}")


def compile_encoder(schema_json: dict[str, Any], header: bytes,
                    metadata_json: Callable[[Any], str | None]) -> Callable[[dict], bytes]:
    """A function writing ``header`` + the Avro body of a canonical record for this schema."""
    if schema_json.get("type") != "record":
        raise _Unsupported("not a record")
    env: dict[str, Any] = {
        "EPOCH": _EPOCH, "LONG": _long, "LEN": _length, "DOUBLE": struct.Struct("<d").pack,
        "HEADER": header, "META": metadata_json, "_unions": set(),
    }
    lines = ["def encode_fast(r):",
             "    m = r['metadata']",
             "    meta = None if m is None else META(m)",
             "    out = [HEADER]",
             "    a = out.append"]
    for index, field in enumerate(schema_json["fields"]):
        if isinstance(field["type"], list):
            env["_unions"].add(index)
        lines.extend("    " + line for line in _field_code(index, field["name"], field["type"], env))
    lines.append("    return b''.join(out)")
    namespace: dict[str, Any] = {}
    exec(compile("\n".join(lines), "<bonito_logs fast encoder>", "exec"), env, namespace)  # noqa: S102
    return namespace["encode_fast"]


def _samples() -> list[dict[str, Any]]:
    from bonito_logs.schemas import build_record

    org = "0b7e5f0e-8a52-4b8e-9b4a-0c6f1d2e3a4b"
    return [
        build_record(org_id=org, log_type="gateway", event_type="request", severity="info"),
        build_record(org_id=org, log_type="billing", event_type="charge", severity="critical",
                     timestamp=datetime(1901, 2, 3, 4, 5, 6, 7, tzinfo=UTC), trace_id="t" * 256,
                     user_id="ü", resource_id="r", resource_type="model", action="search",
                     metadata={"a": [1, 2.5, None, "ß"]}, duration_ms=0.0, cost=1e300,
                     message="✓" * 2000),
    ]


def _build() -> Callable[[dict], bytes]:
    try:
        from bonito_logs.schemas.model import metadata_json

        schema = current_schema()
        fast = compile_encoder(schema.json, schema.header, metadata_json)
        for sample in _samples():
            if fast(sample) != encode(sample):
                raise _Unsupported("self-check: bytes differ from encode()")
    except Exception as exc:  # any doubt: the reference encoder
        log.warning("fast Avro encoder disabled (%s); using bonito_logs.schemas.encode", exc)
        return encode

    limit = MAX_RECORD_BYTES

    def fast_encode(record: dict[str, Any]) -> bytes:
        try:
            data = fast(record)
        except Exception:  # bad text, odd types: let encode() raise its precise error
            return encode(record)
        if len(data) > limit:
            return encode(record)
        return data

    return fast_encode


fast_encode: Callable[[dict[str, Any]], bytes] = _build()

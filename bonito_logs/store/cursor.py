"""Opaque page cursors: ``search_after`` values, signed and bound to an org and a query.

Token = url-safe base64 (no padding) of ``HMAC-SHA256(key, context + payload) || payload``
where the context holds the org and the query's fingerprint (filters + sort).
A cursor altered in any byte, minted for another org, or replayed with other
filters or another sort fails verification with the same ``ValidationError``
on ``cursor`` ("invalid cursor"), revealing nothing about why.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
from typing import Any

import orjson

from bonito_logs.errors import ValidationError

_VERSION = 1
_MAC_BYTES = 32
MAX_CURSOR_CHARS = 2048


def _mac(secret: str, org_id: str, binding: str, payload: bytes) -> bytes:
    context = b"bonito-logs cursor\x00" + org_id.encode() + b"\x00" + binding.encode() + b"\x00"
    return hmac.new(secret.encode(), context + payload, hashlib.sha256).digest()


def encode_cursor(values: list[Any], *, org_id: str, binding: str, secret: str) -> str:
    """A cursor that resumes after the hit whose sort values are ``values``."""
    payload = orjson.dumps({"v": _VERSION, "a": values})
    token = _mac(secret, org_id, binding, payload) + payload
    return base64.urlsafe_b64encode(token).rstrip(b"=").decode("ascii")


def decode_cursor(cursor: Any, *, org_id: str, binding: str, secret: str,
                  length: int | None = None) -> list[Any]:
    """The ``search_after`` values of a cursor, or ``ValidationError("cursor", "invalid cursor")``."""
    invalid = ValidationError("cursor", "invalid cursor")
    if not isinstance(cursor, str) or not cursor or len(cursor) > MAX_CURSOR_CHARS:
        raise invalid
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
    except (binascii.Error, ValueError):
        raise invalid from None
    mac, payload = raw[:_MAC_BYTES], raw[_MAC_BYTES:]
    if len(mac) != _MAC_BYTES or not hmac.compare_digest(mac, _mac(secret, org_id, binding, payload)):
        raise invalid
    try:
        data = orjson.loads(payload)
    except orjson.JSONDecodeError:
        raise invalid from None
    values = data.get("a") if isinstance(data, dict) and data.get("v") == _VERSION else None
    if (not isinstance(values, list) or not values
            or any(v is not None and not isinstance(v, int | float | str) for v in values)
            or (length is not None and len(values) != length)):
        raise invalid
    return values

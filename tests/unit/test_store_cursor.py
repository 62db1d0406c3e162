"""Cursors: round trip, and every way of misusing one is the same 'invalid cursor'."""

from __future__ import annotations

import base64

import pytest

from bonito_logs.errors import ValidationError
from bonito_logs.store import decode_cursor, encode_cursor

ORG = "0b8e6d1c-3f0a-4d5e-9a7b-2c1d0e9f8a7b"
OTHER = "1b8e6d1c-3f0a-4d5e-9a7b-2c1d0e9f8a7b"
KW = {"org_id": ORG, "binding": "filters-hash", "secret": "s3cret"}
VALUES = ["Infinity", 1704067200000001, "5f0c8d7e-1111-4222-8333-944455556666"]


def invalid(token, **over):
    with pytest.raises(ValidationError) as info:
        decode_cursor(token, **{**KW, **over})
    assert info.value.problems == [{"field": "cursor", "rule": "invalid cursor"}]


def test_round_trip_is_url_safe():
    token = encode_cursor(VALUES, **KW)
    assert set(token) <= set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")
    assert decode_cursor(token, **KW) == VALUES
    assert decode_cursor(token, **KW, length=3) == VALUES
    assert decode_cursor(encode_cursor([1.5, -2, "x"], **KW), **KW) == [1.5, -2, "x"]


def test_bound_to_org_filters_and_secret():
    token = encode_cursor(VALUES, **KW)
    invalid(token, org_id=OTHER)
    invalid(token, binding="other-filters")
    invalid(token, secret="another-secret")
    invalid(token, length=2)


def test_tampering_any_byte_is_detected():
    token = encode_cursor(VALUES, **KW)
    raw = bytearray(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
    for i in range(len(raw)):
        changed = bytearray(raw)
        changed[i] ^= 0x01
        invalid(base64.urlsafe_b64encode(bytes(changed)).rstrip(b"=").decode())


@pytest.mark.parametrize("token", [None, "", 5, "!!!", "a", "x" * 3000,
                                   base64.urlsafe_b64encode(b"short").decode()])
def test_garbage_is_invalid(token):
    invalid(token)


def test_well_signed_but_wrong_payload_is_invalid():
    import hashlib
    import hmac

    def forge(payload: bytes) -> str:
        context = b"bonito-logs cursor\x00" + ORG.encode() + b"\x00filters-hash\x00"
        mac = hmac.new(b"s3cret", context + payload, hashlib.sha256).digest()
        return base64.urlsafe_b64encode(mac + payload).rstrip(b"=").decode()

    assert decode_cursor(forge(b'{"v":1,"a":[1]}'), **KW) == [1]
    for payload in (b"not json", b'{"v":2,"a":[1]}', b'{"v":1,"a":[]}', b'{"v":1,"a":[{"x":1}]}',
                    b'{"v":1,"a":"x"}', b"[1]"):
        invalid(forge(payload))

"""API key format, HMAC hashing and verification, field rules (no services)."""

from __future__ import annotations

import hashlib
import hmac

import pytest

from bonito_logs.errors import Unauthorized
from bonito_logs.store.keys import (
    KEY_ID_LENGTH,
    ApiKey,
    check_new_key,
    format_key,
    hash_secret,
    new_key_id,
    parse_key,
    verify_secret,
)


def test_key_ids_are_12_alphanumerics_and_random():
    ids = {new_key_id() for _ in range(200)}
    assert len(ids) == 200
    assert all(len(i) == KEY_ID_LENGTH and i.isalnum() for i in ids)


def test_format_then_parse_round_trips_even_with_underscores_in_the_secret():
    secret = "abc_def-ghi_" + "x" * 40
    token = format_key("AbCdEf012345", secret)
    assert token == f"bnt_AbCdEf012345_{secret}"
    assert parse_key(token) == ("AbCdEf012345", secret)


@pytest.mark.parametrize("token", [
    "",
    "bnt_",
    "xyz_AbCdEf012345_" + "s" * 43,           # wrong prefix
    "bnt_AbCdEf01234_" + "s" * 44,            # key id too short
    "bnt_AbCdEf01234!_" + "s" * 43,           # bad character in key id
    "bnt_AbCdEf012345-" + "s" * 43,           # wrong separator
    "bnt_AbCdEf012345_" + "s" * 10,           # secret too short
    "bnt_AbCdEf012345_" + "s" * 42 + "/",     # not url-safe
    "bnt_AbCdEf012345_" + "s" * 500,          # absurdly long
])
def test_malformed_keys_are_unauthorized(token):
    with pytest.raises(Unauthorized):
        parse_key(token)


def test_hash_is_hmac_sha256_of_the_secret_under_the_secret_key():
    assert hash_secret("k", "s") == hmac.new(b"k", b"s", hashlib.sha256).hexdigest()
    assert hash_secret("k1", "s") != hash_secret("k2", "s")


def test_verify_secret():
    stored = hash_secret("server-secret", "the-secret")
    assert verify_secret("server-secret", "the-secret", stored)
    assert not verify_secret("server-secret", "the-secreT", stored)
    assert not verify_secret("other-server-secret", "the-secret", stored)
    assert not verify_secret("server-secret", "the-secret", "")


def test_check_new_key():
    assert check_new_key("admin") == []
    assert check_new_key("viewer", "ci", "ops@example.com") == []
    assert [p["field"] for p in check_new_key("owner", "", "nope")] == ["role", "name", "email"]
    assert [p["field"] for p in check_new_key(None, 5, 7)] == ["role", "name", "email"]


def test_api_key_metadata_never_carries_the_hash():
    key = ApiKey.from_source({"key_id": "k", "org_id": "o", "role": "admin", "secret_hash": "h"})
    assert "secret_hash" not in key.to_dict()
    assert not key.revoked

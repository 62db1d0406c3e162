"""Credentials at rest: round trip, wrong key, rotation, masking."""

from __future__ import annotations

import pytest

from bonito_logs.config import Settings
from bonito_logs.crypto import (
    CredentialsError,
    decrypt_credentials,
    encrypt_credentials,
    mask,
    mask_credentials,
    rotate,
)

SECRET = {"api_key": "0123456789abcdef0123456789abcdef", "nested": {"x": [1, 2]}, "unicode": "clé ✓"}


def settings(current: str, previous: str = "") -> Settings:
    return Settings(secret_key=current, previous_secret_keys=previous)


def test_round_trip():
    s = settings("k-one")
    token = encrypt_credentials(SECRET, s)
    assert isinstance(token, str)
    assert "0123456789abcdef" not in token
    assert decrypt_credentials(token, s) == SECRET


def test_tokens_differ_each_time():
    s = settings("k-one")
    assert encrypt_credentials(SECRET, s) != encrypt_credentials(SECRET, s)


def test_wrong_key_fails_with_a_typed_error_that_leaks_nothing():
    token = encrypt_credentials(SECRET, settings("k-one"))
    with pytest.raises(CredentialsError) as info:
        decrypt_credentials(token, settings("k-two"))
    text = str(info.value) + repr(info.value)
    for leak in ("k-one", "k-two", token[:20], "0123456789abcdef"):
        assert leak not in text
    assert info.value.__cause__ is None and info.value.__suppress_context__


@pytest.mark.parametrize("token", ["", "not-a-token", "gAAAAA" + "A" * 80, "ünïcode"])
def test_damaged_tokens_fail_typed(token):
    with pytest.raises(CredentialsError):
        decrypt_credentials(token, settings("k-one"))


def test_rotation_reads_old_writes_new():
    old = settings("k-old")
    token = encrypt_credentials(SECRET, old)
    both = settings("k-new", previous="k-older, k-old")
    assert decrypt_credentials(token, both) == SECRET  # previous key still opens it
    rotated = rotate(token, both)
    assert rotated != token
    assert decrypt_credentials(rotated, settings("k-new")) == SECRET  # new key alone suffices
    with pytest.raises(CredentialsError):
        decrypt_credentials(rotated, old)


def test_rotate_with_unknown_key_fails_typed():
    token = encrypt_credentials(SECRET, settings("k-a"))
    with pytest.raises(CredentialsError):
        rotate(token, settings("k-b", previous="k-c"))


def test_key_derivation_uses_a_context_label():
    # The Fernet key is not the raw secret padded: a token made with the raw secret as key fails.
    import base64

    from cryptography.fernet import Fernet

    raw = base64.urlsafe_b64encode(b"k".ljust(32, b"\0"))
    token = Fernet(raw).encrypt(b"{}").decode()
    with pytest.raises(CredentialsError):
        decrypt_credentials(token, settings("k"))


def test_settings_read_previous_keys_from_env():
    s = Settings.from_env({"BONITO_SECRET_KEY": "a", "BONITO_PREVIOUS_SECRET_KEYS": "b,c"})
    assert s.previous_secret_keys == "b,c"
    token = encrypt_credentials({"x": 1}, settings("c"))
    assert decrypt_credentials(token, s) == {"x": 1}


@pytest.mark.parametrize(("value", "shown"), [
    ("my-secret-api-key", "****-key"), ("0123456789ab", "****89ab"), ("01234567890", "****"),
    ("short", "****"), ("", "****"), (None, "****"), (123456789012345, "****2345"),
])
def test_mask(value, shown):
    assert mask(value) == shown


@pytest.mark.parametrize("length", range(0, 64))
def test_mask_never_reveals_more_than_four_characters(length):
    value = "".join(chr(ord("a") + i % 26) for i in range(length))
    masked = mask(value)
    assert len(masked.replace("*", "")) <= 4
    if length < 12:
        assert masked == "****"


def test_mask_credentials():
    assert mask_credentials({"hec_token": "11111111-2222-4333-8444-555555555555", "pin": "1234"}) == {
        "hec_token": "****5555", "pin": "****"}

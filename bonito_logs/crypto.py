"""Integration credentials at rest: Fernet tokens under keys derived from the secret key.

Each secret (``BONITO_SECRET_KEY``, then every ``BONITO_PREVIOUS_SECRET_KEYS``
entry) becomes a Fernet key through HKDF-SHA256 with a fixed context label, so
the same secret never serves two purposes. Encryption always uses the current
key; decryption tries every key (``MultiFernet``), which is what lets an
operator rotate the secret: add the old one to the previous keys, then
``rotate`` stored tokens at leisure.
"""

from __future__ import annotations

import base64
from functools import lru_cache
from typing import Any

import orjson
from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from bonito_logs.config import Settings
from bonito_logs.errors import BonitoError

_CONTEXT = b"bonito-logs/integration-credentials/v1"


class CredentialsError(BonitoError):
    """Stored credentials cannot be read: wrong key, or a damaged token.

    The message never contains the token, the key or any part of a secret.
    """

    code = "credentials_error"


@lru_cache(maxsize=32)
def _fernet(secret: str) -> Fernet:
    raw = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=_CONTEXT).derive(secret.encode())
    return Fernet(base64.urlsafe_b64encode(raw))


def _keys(settings: Settings) -> MultiFernet:
    if not settings.secret_key:
        raise CredentialsError("no secret key configured (BONITO_SECRET_KEY)")
    previous = [k.strip() for k in settings.previous_secret_keys.split(",") if k.strip()]
    return MultiFernet([_fernet(settings.secret_key)] + [_fernet(k) for k in previous])


def encrypt_credentials(credentials: dict[str, Any], settings: Settings) -> str:
    """An opaque token (URL-safe text) holding ``credentials``, under the current key."""
    if not isinstance(credentials, dict):
        raise TypeError("credentials must be a dict")
    return _keys(settings).encrypt(orjson.dumps(credentials)).decode("ascii")


def decrypt_credentials(token: str, settings: Settings) -> dict[str, Any]:
    """The credentials dict in ``token``; ``CredentialsError`` if no configured key opens it."""
    try:
        plain = _keys(settings).decrypt(token.encode("ascii"))
    except (InvalidToken, UnicodeEncodeError, AttributeError):
        raise CredentialsError(
            "cannot decrypt stored credentials: they were encrypted with a key that is neither "
            "BONITO_SECRET_KEY nor one of BONITO_PREVIOUS_SECRET_KEYS, or the token is damaged"
        ) from None
    value = orjson.loads(plain)
    if not isinstance(value, dict):
        raise CredentialsError("stored credentials are not an object")
    return value


def rotate(token: str, settings: Settings) -> str:
    """``token`` re-encrypted under the current key (it may have been under a previous one)."""
    try:
        return _keys(settings).rotate(token.encode("ascii")).decode("ascii")
    except (InvalidToken, UnicodeEncodeError, AttributeError):
        raise CredentialsError("cannot rotate stored credentials: no configured key opens them") from None


def mask(value: Any) -> str:
    """A display form that shows at most the last 4 characters, and only of long values."""
    text = "" if value is None else str(value)
    if len(text) >= 12:
        return "****" + text[-4:]
    return "****"


def mask_credentials(credentials: dict[str, Any]) -> dict[str, str]:
    """Every credential value masked, for API responses and logs."""
    return {key: mask(value) for key, value in credentials.items()}

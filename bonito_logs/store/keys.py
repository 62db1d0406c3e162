"""API keys: one org, one role each, kept in the ``<meta_prefix>keys`` index.

A key reads ``bnt_<key_id>_<secret>``. Only ``HMAC-SHA256(secret_key, secret)`` is
stored, so a leaked index does not leak keys. Every authentication is a realtime
GET by ``key_id`` (no cache), so a revocation takes effect on the very next request.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import re
import secrets
import string
import uuid
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from opensearchpy import AsyncOpenSearch
from opensearchpy import exceptions as os_errors

from bonito_logs.config import Settings
from bonito_logs.errors import NotFound, Unauthorized, ValidationError
from bonito_logs.store.meta_index import create_if_missing, is_outage, unavailable

log = logging.getLogger(__name__)

ROLES: tuple[str, ...] = ("viewer", "member", "admin")
ROLE_RANK: dict[str, int] = {role: rank for rank, role in enumerate(ROLES)}

KEY_PREFIX = "bnt_"
KEY_ID_LENGTH = 12
SECRET_BYTES = 32
MAX_NAME_LENGTH = 200
MAX_EMAIL_LENGTH = 254

_KEY_ID_ALPHABET = string.ascii_letters + string.digits  # no "_" or "-": the id has a fixed span
_KEY_ID = re.compile(rf"[A-Za-z0-9]{{{KEY_ID_LENGTH}}}\Z")
_SECRET = re.compile(r"[A-Za-z0-9_-]{43,128}\Z")
_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+\Z")
_LAST_USED_EVERY = timedelta(minutes=1)  # bounds the write load authentication adds

MAPPING: dict[str, Any] = {
    "dynamic": "strict",
    "properties": {
        "key_id": {"type": "keyword"},
        "org_id": {"type": "keyword"},
        "role": {"type": "keyword"},
        "name": {"type": "keyword"},
        "email": {"type": "keyword"},
        "secret_hash": {"type": "keyword", "index": False, "doc_values": False},
        "created_at": {"type": "date"},
        "revoked_at": {"type": "date"},
        "last_used_at": {"type": "date"},
    },
}


@dataclass(frozen=True)
class ApiKey:
    """A key's metadata: everything but the secret and its hash."""

    key_id: str
    org_id: str
    role: str
    name: str | None = None
    email: str | None = None
    created_at: str | None = None
    revoked_at: str | None = None
    last_used_at: str | None = None

    @property
    def revoked(self) -> bool:
        return self.revoked_at is not None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_source(cls, source: dict[str, Any]) -> ApiKey:
        return cls(**{name: source.get(name) for name in cls.__dataclass_fields__})


@dataclass(frozen=True)
class NewKey:
    """A key just created: ``token`` is shown once and never stored."""

    token: str
    key: ApiKey


def new_key_id() -> str:
    return "".join(secrets.choice(_KEY_ID_ALPHABET) for _ in range(KEY_ID_LENGTH))


def format_key(key_id: str, secret: str) -> str:
    return f"{KEY_PREFIX}{key_id}_{secret}"


def parse_key(token: str) -> tuple[str, str]:
    """``bnt_<key_id>_<secret>`` → (key_id, secret); ``Unauthorized`` when malformed."""
    start = len(KEY_PREFIX)
    end = start + KEY_ID_LENGTH
    key_id, secret = token[start:end], token[end + 1:]
    if (
        not token.startswith(KEY_PREFIX)
        or token[end:end + 1] != "_"
        or not _KEY_ID.match(key_id)
        or not _SECRET.match(secret)
    ):
        raise Unauthorized("malformed API key")
    return key_id, secret


def hash_secret(secret_key: str, secret: str) -> str:
    return hmac.new(secret_key.encode(), secret.encode(), hashlib.sha256).hexdigest()


def verify_secret(secret_key: str, secret: str, expected_hash: str) -> bool:
    return hmac.compare_digest(hash_secret(secret_key, secret), expected_hash)


def check_new_key(role: Any, name: Any = None, email: Any = None) -> list[dict[str, str]]:
    """Problems with the fields of a key to create (empty list when all is well)."""
    problems = []
    if role not in ROLE_RANK:
        problems.append({"field": "role", "rule": f"must be one of {', '.join(ROLES)}"})
    if name is not None and (not isinstance(name, str) or not 1 <= len(name) <= MAX_NAME_LENGTH):
        problems.append({"field": "name", "rule": f"must be a string of 1 to {MAX_NAME_LENGTH} characters"})
    if email is not None and (
        not isinstance(email, str) or len(email) > MAX_EMAIL_LENGTH or not _EMAIL.match(email)
    ):
        problems.append({"field": "email", "rule": "must be an email address"})
    return problems


def _now() -> datetime:
    return datetime.now(UTC)


def _iso(moment: datetime) -> str:
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _parse_iso(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))




class KeyStore:
    """Create, authenticate, list and revoke API keys."""

    def __init__(self, client: AsyncOpenSearch, settings: Settings) -> None:
        self._client = client
        self._settings = settings
        self.index = f"{settings.meta_prefix}keys"
        self._index_ready = False

    async def ensure_index(self) -> None:
        """Create the keys index with its strict mapping unless it exists."""
        if self._index_ready:
            return
        try:
            # Small and rarely written: a short refresh keeps wait_for writes quick.
            await create_if_missing(self._client, self.index, MAPPING, refresh_interval="200ms")
        except os_errors.TransportError as exc:
            if is_outage(exc):
                raise unavailable(exc) from exc
            raise
        self._index_ready = True

    async def create(self, org_id: str, role: str, name: str | None = None,
                     email: str | None = None) -> NewKey:
        problems = check_new_key(role, name, email)
        try:
            org_id = str(uuid.UUID(org_id))
        except (TypeError, ValueError, AttributeError):
            problems.insert(0, {"field": "org_id", "rule": "must be a UUID"})
        if problems:
            raise ValidationError(problems=problems)
        await self.ensure_index()
        key_id, secret = new_key_id(), secrets.token_urlsafe(SECRET_BYTES)
        key = ApiKey(key_id=key_id, org_id=org_id, role=role, name=name, email=email,
                     created_at=_iso(_now()))
        source = {**key.to_dict(), "secret_hash": hash_secret(self._settings.secret_key, secret)}
        try:
            await self._client.create(index=self.index, id=key_id, body=source, refresh="wait_for")
        except os_errors.TransportError as exc:
            if is_outage(exc):
                raise unavailable(exc) from exc
            raise
        return NewKey(token=format_key(key_id, secret), key=key)

    async def authenticate(self, token: str) -> ApiKey:
        """The live key a bearer token stands for; ``Unauthorized`` otherwise."""
        key_id, secret = parse_key(token)
        source = await self._source(key_id)
        if source is None or not verify_secret(self._settings.secret_key, secret,
                                               source.get("secret_hash") or ""):
            raise Unauthorized("invalid API key")
        key = ApiKey.from_source(source)
        if key.revoked:
            raise Unauthorized("API key has been revoked")
        await self._touch(key)
        return key

    async def get(self, key_id: str, org_id: str | None = None) -> ApiKey:
        """A key's metadata; ``NotFound`` when missing or (given ``org_id``) another org's."""
        source = await self._source(key_id) if _KEY_ID.match(key_id) else None
        if source is None or (org_id is not None and source.get("org_id") != org_id):
            raise NotFound("API key not found")
        return ApiKey.from_source(source)

    async def list(self, org_id: str) -> list[ApiKey]:
        """The org's keys, oldest first, revoked ones included."""
        try:
            response = await self._client.search(
                index=self.index,
                body={
                    "query": {"term": {"org_id": org_id}},
                    "sort": [{"created_at": "asc"}, {"key_id": "asc"}],
                    "size": 10_000,
                    "_source": {"excludes": ["secret_hash"]},
                },
                ignore_unavailable=True,
            )
        except os_errors.TransportError as exc:
            if is_outage(exc):
                raise unavailable(exc) from exc
            raise
        return [ApiKey.from_source(hit["_source"]) for hit in response["hits"]["hits"]]

    async def revoke(self, key_id: str, org_id: str | None = None) -> ApiKey:
        """Mark a key revoked (idempotent); ``NotFound`` as for ``get``."""
        key = await self.get(key_id, org_id)
        if key.revoked:
            return key
        revoked_at = _iso(_now())
        try:
            await self._client.update(index=self.index, id=key_id,
                                      body={"doc": {"revoked_at": revoked_at}}, refresh="wait_for",
                                      retry_on_conflict=5)
        except os_errors.TransportError as exc:
            if is_outage(exc):
                raise unavailable(exc) from exc
            raise
        return ApiKey(**{**key.to_dict(), "revoked_at": revoked_at})

    async def _source(self, key_id: str) -> dict[str, Any] | None:
        try:
            response = await self._client.get(index=self.index, id=key_id, realtime=True)
        except os_errors.NotFoundError:  # no such key, or no keys index yet
            return None
        except os_errors.TransportError as exc:
            if is_outage(exc):
                raise unavailable(exc) from exc
            raise
        return response["_source"]

    async def _touch(self, key: ApiKey) -> None:
        """Record ``last_used_at`` at most once a minute; best effort, never fails a request."""
        now = _now()
        if key.last_used_at and now - _parse_iso(key.last_used_at) < _LAST_USED_EVERY:
            return
        try:
            await self._client.update(index=self.index, id=key.key_id,
                                      body={"doc": {"last_used_at": _iso(now)}},
                                      retry_on_conflict=1)
        except Exception as exc:  # noqa: BLE001 - best effort
            log.debug("could not record last use of key %s: %s", key.key_id, exc)

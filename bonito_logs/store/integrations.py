"""Integrations (per-org forwarding destinations) in the ``<meta_prefix>integrations`` index.

A document holds the integration's settings, its credentials as a Fernet token
(``bonito_logs.crypto``; only their masked form is ever shown) and a ``revision``
that grows with every change, which is how the workers notice one. Changes are
conditional on the ``_seq_no``/``_primary_term`` read (``save(integration, version)``),
so two concurrent PATCHes never silently overwrite each other.
"""

from __future__ import annotations

import uuid
from dataclasses import asdict, dataclass, fields, replace
from datetime import UTC, datetime
from typing import Any

from opensearchpy import AsyncOpenSearch
from opensearchpy import exceptions as os_errors

from bonito_logs.config import Settings
from bonito_logs.errors import Conflict, NotFound
from bonito_logs.store.meta_index import create_if_missing, is_outage, unavailable

MAX_INTEGRATIONS = 10_000  # per listing; one org never has nearly as many

Version = tuple[int, int]  # (_seq_no, _primary_term)

_KEYWORD = {"type": "keyword"}
_DATE = {"type": "date"}
_OPAQUE = {"type": "object", "enabled": False}  # stored, never indexed: no mapping growth
MAPPING: dict[str, Any] = {
    "dynamic": "strict",
    "properties": {
        "integration_id": _KEYWORD, "org_id": _KEYWORD, "name": _KEYWORD,
        "integration_type": _KEYWORD, "config": _OPAQUE,
        "credentials": {"type": "keyword", "index": False, "doc_values": False},
        "credentials_masked": _OPAQUE, "filters": _OPAQUE, "enabled": {"type": "boolean"},
        "revision": {"type": "long"}, "created_at": _DATE, "updated_at": _DATE,
        "created_by": _KEYWORD, "start_offsets": _OPAQUE,
    },
}


def now() -> datetime:
    return datetime.now(UTC)


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def new_integration_id() -> str:
    return str(uuid.uuid4())


class IntegrationConflict(Conflict):
    """The integration changed since it was read."""


@dataclass(frozen=True)
class Integration:
    """One integration as stored. ``credentials`` is the encrypted token, never plain text."""

    integration_id: str
    org_id: str
    name: str
    integration_type: str
    config: dict[str, Any]
    credentials: str
    credentials_masked: dict[str, str]
    filters: dict[str, Any]
    enabled: bool = True
    revision: int = 1
    created_at: str | None = None
    updated_at: str | None = None
    created_by: str | None = None
    #: end offsets of the logs topic when it was created ({partition: offset}); None: unknown
    start_offsets: dict[str, int] | None = None

    def with_changes(self, **changes: Any) -> Integration:
        """A changed copy with the next revision."""
        return replace(self, revision=self.revision + 1, updated_at=iso(now()), **changes)

    def to_source(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_source(cls, source: dict[str, Any]) -> Integration:
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in source.items() if k in known})

    def to_public(self) -> dict[str, Any]:
        """Settings as the API shows them: credentials masked, nothing internal."""
        return {"id": self.integration_id, "name": self.name,
                "integration_type": self.integration_type, "config": self.config,
                "credentials": dict(self.credentials_masked), "filters": self.filters,
                "enabled": self.enabled, "revision": self.revision,
                "created_at": self.created_at, "updated_at": self.updated_at}


def _raise(exc: os_errors.TransportError) -> None:
    if is_outage(exc):
        raise unavailable(exc) from exc
    raise exc


class IntegrationStore:
    """Create, read, list, save (conditionally) and delete integrations."""

    def __init__(self, client: AsyncOpenSearch, settings: Settings) -> None:
        self._client = client
        self.index = f"{settings.meta_prefix}integrations"
        self._ready = False

    async def ensure_index(self) -> None:
        if self._ready:
            return
        try:
            await create_if_missing(self._client, self.index, MAPPING, refresh_interval="200ms")
        except os_errors.TransportError as exc:
            _raise(exc)
        self._ready = True

    async def create(self, integration: Integration) -> Version:
        await self.ensure_index()
        try:
            resp = await self._client.create(index=self.index, id=integration.integration_id,
                                             body=integration.to_source(), refresh="wait_for")
        except os_errors.ConflictError as exc:
            raise IntegrationConflict("an integration with this id exists") from exc
        except os_errors.TransportError as exc:
            _raise(exc)
        return resp["_seq_no"], resp["_primary_term"]

    async def find(self, integration_id: str) -> tuple[Integration, Version] | None:
        if not _valid_id(integration_id):
            return None
        try:
            resp = await self._client.get(index=self.index, id=integration_id, realtime=True)
        except os_errors.NotFoundError:
            return None
        except os_errors.TransportError as exc:
            _raise(exc)
        return Integration.from_source(resp["_source"]), (resp["_seq_no"], resp["_primary_term"])

    async def get(self, integration_id: str, org_id: str) -> tuple[Integration, Version]:
        """The org's integration; ``NotFound`` alike for a missing one and another org's."""
        found = await self.find(integration_id)
        if found is None or found[0].org_id != org_id:
            raise NotFound("integration not found")
        return found

    async def list(self, org_id: str) -> list[Integration]:
        """The org's integrations, oldest first."""
        return [i for i, _ in await self._search({"term": {"org_id": org_id}})]

    async def list_all(self) -> list[tuple[Integration, Version]]:
        """Every org's integrations (the workers' and the key rotation's view).

        Writes wait for a refresh (``refresh="wait_for"``), so a search sees them all."""
        return await self._search({"match_all": {}})

    async def save(self, integration: Integration, version: Version) -> Version:
        """Write only if still at ``version``; ``IntegrationConflict`` otherwise."""
        try:
            resp = await self._client.index(
                index=self.index, id=integration.integration_id, body=integration.to_source(),
                if_seq_no=version[0], if_primary_term=version[1], refresh="wait_for")
        except os_errors.ConflictError as exc:
            raise IntegrationConflict("the integration changed meanwhile; read it again") from exc
        except os_errors.TransportError as exc:
            _raise(exc)
        return resp["_seq_no"], resp["_primary_term"]

    async def delete(self, integration_id: str, version: Version) -> None:
        try:
            await self._client.delete(index=self.index, id=integration_id, if_seq_no=version[0],
                                      if_primary_term=version[1], refresh="wait_for")
        except os_errors.ConflictError as exc:
            raise IntegrationConflict("the integration changed meanwhile; read it again") from exc
        except os_errors.NotFoundError:
            return
        except os_errors.TransportError as exc:
            _raise(exc)

    async def _search(self, query: dict[str, Any]) -> list[tuple[Integration, Version]]:
        try:
            resp = await self._client.search(index=self.index, body={
                "query": query, "size": MAX_INTEGRATIONS, "seq_no_primary_term": True,
                "sort": [{"created_at": "asc"}, {"integration_id": "asc"}]},
                ignore_unavailable=True)
        except os_errors.TransportError as exc:
            _raise(exc)
        return [(Integration.from_source(hit["_source"]), (hit["_seq_no"], hit["_primary_term"]))
                for hit in resp["hits"]["hits"]]


def _valid_id(value: str) -> bool:
    try:
        return str(uuid.UUID(value)) == value
    except (TypeError, ValueError, AttributeError):
        return False

"""Export jobs: their state in the ``<meta_prefix>exports`` index, changed only with
optimistic concurrency.

Every change is read-modify-write of the whole document, conditional on the
``_seq_no``/``_primary_term`` that was read (``save(job, version)``). A writer that
lost the race gets ``JobConflict`` and decides again from a fresh read, so two
workers never both claim a job, and a cancel request is never overwritten by a
progress update.
"""

from __future__ import annotations

import uuid
from dataclasses import asdict, dataclass, fields, replace
from datetime import UTC, datetime, timedelta
from typing import Any

from opensearchpy import AsyncOpenSearch
from opensearchpy import exceptions as os_errors

from bonito_logs.config import Settings
from bonito_logs.errors import Conflict, NotFound
from bonito_logs.store.meta_index import create_if_missing, is_outage, unavailable

STATUSES: tuple[str, ...] = ("queued", "running", "completed", "failed", "cancelled", "expired")
FINAL: frozenset[str] = frozenset({"completed", "failed", "cancelled", "expired"})
MAX_LIST = 1000

Version = tuple[int, int]  # (_seq_no, _primary_term)

_KEYWORD = {"type": "keyword"}
_DATE = {"type": "date"}
MAPPING: dict[str, Any] = {
    "dynamic": "strict",
    "properties": {
        "job_id": _KEYWORD, "org_id": _KEYWORD, "key_id": _KEYWORD, "status": _KEYWORD,
        "request": {"type": "object", "enabled": False},
        "created_at": _DATE, "started_at": _DATE, "finished_at": _DATE, "updated_at": _DATE,
        "rows_written": {"type": "long"}, "rows_expected": {"type": "long"},
        "bytes_written": {"type": "long"},
        "error": {"type": "keyword", "index": False},
        "cancel_requested": {"type": "boolean"},
        "owner": _KEYWORD, "lease_expires_at": _DATE, "attempts": {"type": "integer"},
        "file_name": _KEYWORD, "file_key": _KEYWORD, "storage": _KEYWORD,
        "content_type": _KEYWORD, "expires_at": _DATE,
        "notify_email": {"type": "keyword", "index": False},
        "email_status": _KEYWORD, "email_detail": {"type": "keyword", "index": False},
    },
}


class JobConflict(Conflict):
    """The job changed since it was read: read it again and decide again."""


def now() -> datetime:
    return datetime.now(UTC)


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def parse_iso(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def new_job_id() -> str:
    return str(uuid.uuid4())


@dataclass(frozen=True)
class ExportJob:
    """One export job as stored. ``request`` is ``ExportRequest.to_body()``."""

    job_id: str
    org_id: str
    key_id: str
    request: dict[str, Any]
    status: str = "queued"
    created_at: str | None = None
    started_at: str | None = None
    finished_at: str | None = None
    updated_at: str | None = None
    rows_written: int = 0
    rows_expected: int | None = None
    bytes_written: int = 0
    error: str | None = None
    cancel_requested: bool = False
    owner: str | None = None
    lease_expires_at: str | None = None
    attempts: int = 0
    file_name: str | None = None
    file_key: str | None = None
    storage: str | None = None
    content_type: str | None = None
    expires_at: str | None = None
    notify_email: str | None = None
    email_status: str | None = None
    email_detail: str | None = None

    @property
    def final(self) -> bool:
        return self.status in FINAL

    @property
    def export_format(self) -> str:
        return str(self.request.get("export_format", "csv"))

    def lease_expired(self, at: datetime | None = None) -> bool:
        if self.lease_expires_at is None:
            return True
        return parse_iso(self.lease_expires_at) <= (at or now())

    def percent(self) -> float:
        if self.status == "completed":
            return 100.0
        if not self.rows_expected:
            return 0.0
        return round(min(100.0, 100.0 * self.rows_written / self.rows_expected), 1)

    def with_changes(self, **changes: Any) -> ExportJob:
        return replace(self, updated_at=iso(now()), **changes)

    def to_source(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_source(cls, source: dict[str, Any]) -> ExportJob:
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in source.items() if k in known})

    def to_public(self, public_url: str) -> dict[str, Any]:
        """What the API shows: no owner internals, no email address."""
        completed = self.status == "completed"
        return {
            "id": self.job_id,
            "status": self.status,
            "export_format": self.export_format,
            "request": self.request,
            "rows_written": self.rows_written,
            "rows_expected": self.rows_expected,
            "percent": self.percent(),
            "bytes": self.bytes_written,
            "created_at": self.created_at,
            "started_at": self.started_at,
            "finished_at": self.finished_at,
            "error": self.error,
            "cancel_requested": self.cancel_requested,
            "attempts": self.attempts,
            "file_name": self.file_name if completed else None,
            "download_url": (f"{public_url.rstrip('/')}/api/logs/export/{self.job_id}/download"
                             if completed else None),
            "expires_at": self.expires_at,
            "email": {"requested": bool(self.request.get("email_when_complete")),
                      "status": self.email_status, "detail": self.email_detail},
        }




class ExportStore:
    """Create, read, list, save (conditionally) and delete export jobs."""

    def __init__(self, client: AsyncOpenSearch, settings: Settings) -> None:
        self._client = client
        self.index = f"{settings.meta_prefix}exports"
        self._ready = False

    async def ensure_index(self) -> None:
        if self._ready:
            return
        try:
            await create_if_missing(self._client, self.index, MAPPING, refresh_interval="1s")
        except os_errors.TransportError as exc:
            raise (unavailable(exc) if is_outage(exc) else exc) from exc
        self._ready = True

    async def create(self, job: ExportJob) -> Version:
        await self.ensure_index()
        try:
            resp = await self._client.create(index=self.index, id=job.job_id,
                                             body=job.to_source(), refresh="wait_for")
        except os_errors.ConflictError as exc:
            raise JobConflict(f"export job {job.job_id} already exists") from exc
        except os_errors.TransportError as exc:
            raise (unavailable(exc) if is_outage(exc) else exc) from exc
        return resp["_seq_no"], resp["_primary_term"]

    async def find(self, job_id: str) -> tuple[ExportJob, Version] | None:
        """The job and its version, or ``None`` when there is no such job."""
        try:
            resp = await self._client.get(index=self.index, id=job_id, realtime=True)
        except os_errors.NotFoundError:
            return None
        except os_errors.TransportError as exc:
            raise (unavailable(exc) if is_outage(exc) else exc) from exc
        return ExportJob.from_source(resp["_source"]), (resp["_seq_no"], resp["_primary_term"])

    async def find_many(self, job_ids: list[str]) -> dict[str, ExportJob]:
        """The jobs that exist among ``job_ids`` (one realtime multi-get)."""
        if not job_ids:
            return {}
        try:
            resp = await self._client.mget(index=self.index, body={"ids": job_ids}, realtime=True)
        except os_errors.NotFoundError:
            return {}
        except os_errors.TransportError as exc:
            raise (unavailable(exc) if is_outage(exc) else exc) from exc
        return {doc["_id"]: ExportJob.from_source(doc["_source"])
                for doc in resp["docs"] if doc.get("found")}

    async def get(self, job_id: str, org_id: str) -> tuple[ExportJob, Version]:
        """The org's job; ``NotFound`` alike for a missing job and another org's."""
        found = await self.find(job_id) if _valid_id(job_id) else None
        if found is None or found[0].org_id != org_id:
            raise NotFound(f"no export job {job_id!r}")
        return found

    async def save(self, job: ExportJob, version: Version, *, refresh: bool = False) -> Version:
        """Write ``job`` only if it is still at ``version``; ``JobConflict`` otherwise."""
        try:
            resp = await self._client.index(
                index=self.index, id=job.job_id, body=job.to_source(),
                if_seq_no=version[0], if_primary_term=version[1],
                refresh="wait_for" if refresh else "false")
        except os_errors.ConflictError as exc:
            raise JobConflict(f"export job {job.job_id} changed meanwhile") from exc
        except os_errors.TransportError as exc:
            raise (unavailable(exc) if is_outage(exc) else exc) from exc
        return resp["_seq_no"], resp["_primary_term"]

    async def delete(self, job_id: str, version: Version) -> None:
        try:
            await self._client.delete(index=self.index, id=job_id, if_seq_no=version[0],
                                      if_primary_term=version[1], refresh="wait_for")
        except os_errors.ConflictError as exc:
            raise JobConflict(f"export job {job_id} changed meanwhile") from exc
        except os_errors.NotFoundError:
            return
        except os_errors.TransportError as exc:
            raise (unavailable(exc) if is_outage(exc) else exc) from exc

    async def list(self, org_id: str, limit: int = MAX_LIST) -> list[ExportJob]:
        """The org's jobs, newest first."""
        return await self._search({"term": {"org_id": org_id}}, limit,
                                  [{"created_at": "desc"}, {"job_id": "desc"}])

    async def stale_leases(self, at: datetime, limit: int = 100) -> list[ExportJob]:
        """Running jobs whose worker stopped renewing the lease (crashed or cut off)."""
        query = {"bool": {"filter": [{"term": {"status": "running"}},
                                     {"range": {"lease_expires_at": {"lt": iso(at)}}}]}}
        return await self._search(query, limit, [{"lease_expires_at": "asc"}], fresh=True)

    async def expired_files(self, at: datetime, limit: int = 500) -> list[ExportJob]:
        """Completed jobs whose file outlived ``exports_ttl_s``."""
        query = {"bool": {"filter": [{"term": {"status": "completed"}},
                                     {"range": {"expires_at": {"lt": iso(at)}}}]}}
        return await self._search(query, limit, [{"expires_at": "asc"}], fresh=True)

    async def _search(self, query: dict[str, Any], size: int,
                      sort: list[dict[str, Any]], *, fresh: bool = False) -> list[ExportJob]:
        """``fresh``: refresh first, so the search sees every state written so far."""
        try:
            if fresh:
                await self._client.indices.refresh(index=self.index, ignore_unavailable=True)
            resp = await self._client.search(index=self.index, body={
                "query": query, "sort": sort, "size": size, "seq_no_primary_term": False},
                ignore_unavailable=True)
        except os_errors.TransportError as exc:
            raise (unavailable(exc) if is_outage(exc) else exc) from exc
        return [ExportJob.from_source(hit["_source"]) for hit in resp["hits"]["hits"]]


def _valid_id(job_id: str) -> bool:
    try:
        return str(uuid.UUID(job_id)) == job_id
    except (TypeError, ValueError, AttributeError):
        return False


def email_plan(job: ExportJob, settings: Settings) -> tuple[str | None, str | None]:
    """(email_status, email_detail) a job gets when it ends, before any sending:
    "pending" means a worker sends it (and records "sent" or "failed")."""
    if not job.request.get("email_when_complete"):
        return None, None
    if not job.notify_email:
        return "skipped", "the API key that created this export has no email address"
    if not settings.smtp_host:
        return "skipped", "no SMTP server is configured (BONITO_SMTP_HOST)"
    return "pending", None


def lease_until(seconds: float) -> str:
    return iso(now() + timedelta(seconds=seconds))

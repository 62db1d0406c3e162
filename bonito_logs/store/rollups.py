"""The rollup indices in OpenSearch: creating them, reading and writing documents with
optimistic concurrency, and retention.

Writes are conditional: a document read with ``(_seq_no, _primary_term)`` is written
back with ``if_seq_no``/``if_primary_term``, a document read as missing is written with
``create``. A 409 means someone else (a consumer that took the partition over, or a
write of ours whose answer was lost) changed it since: the caller re-reads and
re-applies, and the per-partition offsets in the document make that exact.

Indices are created explicitly (``ensure_index``) with their mapping and the alias
rather than by a template, so test and benchmark prefixes leave nothing behind.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

import orjson
from opensearchpy import AsyncOpenSearch
from opensearchpy.exceptions import ConnectionError as OSConnectionError
from opensearchpy.exceptions import ConnectionTimeout, RequestError, TransportError
from opensearchpy.serializer import JSONSerializer

from bonito_logs.config import Settings
from bonito_logs.store.bulk import BulkUnavailable, Outcome, classify
from bonito_logs.store.client import DEFAULT_TIMEOUT_S
from bonito_logs.store.rollup_docs import DocKey, RollupDoc, from_ms, stats_alias

log = logging.getLogger(__name__)

MGET_CHUNK = 1_000
BULK_CHUNK = 1_000
YIELD_EVERY = 100  # documents parsed or encoded between two yields to the event loop
MAX_RESULT_WINDOW = 200_000  # a 7-day minute series of every cell part stays one request

_KEYWORD = {"type": "keyword"}
MAPPINGS: dict[str, Any] = {
    "dynamic": False,
    "properties": {
        "org_id": _KEYWORD,
        "granularity": _KEYWORD,
        "bucket": {"type": "date", "format": "epoch_millis"},
        "kind": _KEYWORD,
        # Never searched: kept in _source only, so no mapping can ever grow from them.
        "offsets": {"type": "object", "enabled": False},
        "groups": {"type": "object", "enabled": False},
    },
}
_NAME = re.compile(r"stats-(minute|hour|day)-(\d{4})\.(\d{2})\Z")
_BULK_FILTER = "errors,items.*.status,items.*.error,items.*._seq_no,items.*._primary_term"


class OrjsonSerializer(JSONSerializer):
    """orjson for requests and responses: rollup bodies are large and numeric."""

    def loads(self, s: Any) -> Any:
        return orjson.loads(s)

    def dumps(self, data: Any) -> Any:
        if isinstance(data, str | bytes):
            return data
        return orjson.dumps(data, default=self.default).decode()


def make_stats_client(settings: Settings, *, timeout: float = DEFAULT_TIMEOUT_S) -> AsyncOpenSearch:
    """Like ``store.make_client``, with the orjson serializer; the caller closes it."""
    return AsyncOpenSearch(hosts=[settings.opensearch_url], timeout=timeout, retry_on_timeout=False,
                           max_retries=2, http_compress=False, serializer=OrjsonSerializer())


def index_body(settings: Settings) -> dict[str, Any]:
    return {
        "settings": {"index": {"number_of_shards": 1, "number_of_replicas": settings.index_replicas,
                               "max_result_window": MAX_RESULT_WINDOW}},
        "mappings": MAPPINGS,
        "aliases": {stats_alias(settings): {}},
    }


@dataclass(slots=True)
class Loaded:
    """A document as read: ``doc`` is empty (and ``seq_no`` None) when it does not exist."""

    doc: RollupDoc
    seq_no: int | None = None
    primary_term: int | None = None


@dataclass(frozen=True, slots=True)
class WriteResult:
    outcome: str  # "stored", "conflict", "retry", "rejected"
    seq_no: int | None = None
    primary_term: int | None = None
    reason: str = ""


class RollupStore:
    """Reads and conditional writes of rollup documents for one deployment."""

    def __init__(self, client: AsyncOpenSearch, settings: Settings) -> None:
        self.client = client
        self.settings = settings
        self._known: set[str] = set()

    async def ensure_indices(self, names: Iterable[str]) -> None:
        for name in sorted(set(names) - self._known):
            try:
                await self.client.indices.create(index=name, body=index_body(self.settings))
            except RequestError as exc:
                if "resource_already_exists" not in str(exc):
                    raise
            except (OSConnectionError, ConnectionTimeout) as exc:
                raise BulkUnavailable(f"OpenSearch unreachable: {exc}") from exc
            self._known.add(name)

    def forget_indices(self, names: Iterable[str]) -> None:
        self._known.difference_update(names)

    async def load(self, keys: Sequence[DocKey]) -> dict[DocKey, Loaded]:
        """The current version of each document (realtime: sees the latest write)."""
        out: dict[DocKey, Loaded] = {}
        s = self.settings
        for start in range(0, len(keys), MGET_CHUNK):
            chunk = keys[start:start + MGET_CHUNK]
            body = {"docs": [{"_index": k.index(s), "_id": k.doc_id, "routing": k.org} for k in chunk]}
            try:
                resp = await self.client.mget(body=body, realtime=True)
            except (OSConnectionError, ConnectionTimeout) as exc:
                raise BulkUnavailable(f"OpenSearch unreachable: {exc}") from exc
            except TransportError as exc:
                if isinstance(exc.status_code, int) and (exc.status_code == 429 or exc.status_code >= 500):
                    raise BulkUnavailable(f"mget failed with {exc.status_code}") from exc
                raise
            for i, (key, found) in enumerate(zip(chunk, resp["docs"], strict=True)):
                if i % YIELD_EVERY == YIELD_EVERY - 1:
                    await asyncio.sleep(0)  # parsing big documents: let heartbeats through
                if found.get("found"):
                    out[key] = Loaded(RollupDoc.from_source(key, found["_source"]),
                                      found["_seq_no"], found["_primary_term"])
                elif "error" in found and "index_not_found" not in str(found["error"]):
                    raise BulkUnavailable(f"mget of {key.doc_id} failed: {found['error']}")
                else:
                    out[key] = Loaded(RollupDoc(key))
        return out

    async def write(self, entries: Sequence[Loaded]) -> list[WriteResult]:
        """Write each document conditionally on the version it was read at."""
        await self.ensure_indices(e.doc.key.index(self.settings) for e in entries)
        out: list[WriteResult] = []
        for start in range(0, len(entries), BULK_CHUNK):
            out.extend(await self._bulk(entries[start:start + BULK_CHUNK]))
        return out

    async def _bulk(self, entries: Sequence[Loaded]) -> list[WriteResult]:
        s = self.settings
        parts: list[bytes] = []
        for i, entry in enumerate(entries):
            if i % YIELD_EVERY == YIELD_EVERY - 1:
                await asyncio.sleep(0)
            key = entry.doc.key
            meta: dict[str, Any] = {"_index": key.index(s), "_id": key.doc_id, "routing": key.org}
            if entry.seq_no is None:
                action = {"create": meta}
            else:
                meta["if_seq_no"], meta["if_primary_term"] = entry.seq_no, entry.primary_term
                action = {"index": meta}
            parts.append(orjson.dumps(action))
            parts.append(orjson.dumps(entry.doc.to_source()))
        parts.append(b"")
        try:
            resp = await self.client.bulk(body=b"\n".join(parts), filter_path=_BULK_FILTER,
                                          request_timeout=60)
        except (OSConnectionError, ConnectionTimeout) as exc:
            raise BulkUnavailable(f"OpenSearch unreachable: {exc}") from exc
        except TransportError as exc:
            status = exc.status_code if isinstance(exc.status_code, int) else 0
            if status == 429 or status >= 500 or status == 0:
                raise BulkUnavailable(f"bulk request failed with {status}") from exc
            raise
        results = []
        for item in resp["items"]:
            (answer,) = item.values()
            status = int(answer.get("status", 0))
            if status in (200, 201):
                results.append(WriteResult("stored", answer.get("_seq_no"), answer.get("_primary_term")))
                continue
            if status == 409:
                results.append(WriteResult("conflict", reason="version conflict"))
                continue
            verdict = classify(status, answer.get("error"))
            if verdict.outcome is Outcome.STORED:
                results.append(WriteResult("stored", answer.get("_seq_no"), answer.get("_primary_term")))
            elif verdict.outcome is Outcome.RETRY:
                results.append(WriteResult("retry", reason=verdict.reason))
            else:
                results.append(WriteResult("rejected", reason=verdict.reason))
        if len(results) != len(entries):
            raise BulkUnavailable(f"bulk answered {len(results)} items for {len(entries)} sent")
        return results

    async def delete_expired(self, now: datetime | None = None) -> list[str]:
        """Delete the monthly rollup indices whose whole month is past the retention."""
        pattern = f"{self.settings.meta_prefix}stats-*"
        rows = await self.client.cat.indices(index=pattern, format="json", h="index",
                                             expand_wildcards="all")
        names = [row["index"] for row in rows or []]
        doomed = expired_indices(names, self.settings, now or datetime.now(UTC))
        if doomed:
            await self.client.indices.delete(index=",".join(doomed), ignore_unavailable=True)
            self.forget_indices(doomed)
        return doomed


def retention_cutoff(settings: Settings, now: datetime) -> date:
    """Rollups of days before this are past ``stats_retention_days``."""
    return now.astimezone(UTC).date() - timedelta(days=settings.stats_retention_days)


def _next_month(year: int, month: int) -> date:
    return date(year + 1, 1, 1) if month == 12 else date(year, month + 1, 1)


def expired_indices(names: Iterable[str], settings: Settings, now: datetime) -> list[str]:
    cutoff = retention_cutoff(settings, now)
    prefix = settings.meta_prefix
    out = []
    for name in names:
        if not name.startswith(prefix):
            continue
        match = _NAME.match(name[len(prefix):])
        if match and _next_month(int(match[2]), int(match[3])) <= cutoff:
            out.append(name)
    return sorted(out)


def month_expired(bucket_ms: int, settings: Settings, now: datetime) -> bool:
    """Whether the month of ``bucket_ms`` is entirely past the retention (its index is gone)."""
    ts = from_ms(bucket_ms)
    return _next_month(ts.year, ts.month) <= retention_cutoff(settings, now)

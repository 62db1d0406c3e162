"""What forwarders report about themselves, in ``<meta_prefix>integration-status``.

One document per (integration, worker), ``_id`` = ``<integration id>.<worker id>``,
written by the worker's forwarding supervisor every ``forward_status_s`` and at once
when a forwarder's health changes. The API reads them to show each integration's
health; documents of workers that stopped reporting still count for the totals.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from typing import Any

from opensearchpy import AsyncOpenSearch
from opensearchpy import exceptions as os_errors

from bonito_logs.config import Settings
from bonito_logs.store.meta_index import create_if_missing

log = logging.getLogger(__name__)

HEALTH: tuple[str, ...] = ("ok", "failing", "circuit_open", "stopped")
MAX_DOCS = 10_000

_KEYWORD = {"type": "keyword"}
_DATE = {"type": "date"}
_LONG = {"type": "long"}
MAPPING: dict[str, Any] = {
    "dynamic": "strict",
    "properties": {
        "integration_id": _KEYWORD, "org_id": _KEYWORD, "worker_id": _KEYWORD,
        "revision": _LONG, "running": {"type": "boolean"}, "health": _KEYWORD,
        "breaker": {"type": "object", "enabled": False},
        "last_success_at": _DATE, "last_error_at": _DATE,
        "last_error": {"type": "keyword", "index": False, "doc_values": False},
        "records_forwarded": _LONG, "records_dead_lettered": _LONG, "records_replayed": _LONG,
        "requests": _LONG, "retries": _LONG, "decode_errors": _LONG,
        "partitions": {"type": "keyword"}, "started_at": _DATE, "updated_at": _DATE,
    },
}


def status_id(integration_id: str, worker_id: str) -> str:
    return f"{integration_id}.{worker_id}"


def _time(value: Any) -> datetime:
    try:
        moment = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return datetime.min.replace(tzinfo=UTC)
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


class IntegrationStatusStore:
    def __init__(self, client: AsyncOpenSearch, settings: Settings) -> None:
        self._client = client
        self.index = f"{settings.meta_prefix}integration-status"
        self._ready = False

    async def ensure_index(self) -> None:
        if self._ready:
            return
        await create_if_missing(self._client, self.index, MAPPING, refresh_interval="200ms")
        self._ready = True

    async def write(self, docs: list[dict[str, Any]]) -> None:
        """Index every document (one bulk request); raises on a transport failure."""
        if not docs:
            return
        await self.ensure_index()
        body: list[dict[str, Any]] = []
        for doc in docs:
            body.append({"index": {"_index": self.index,
                                   "_id": status_id(doc["integration_id"], doc["worker_id"])}})
            body.append(doc)
        resp = await self._client.bulk(body=body)
        if resp.get("errors"):
            failed = [item for item in resp["items"] if item["index"].get("error")]
            log.warning("%d integration status documents refused: %s", len(failed),
                        failed[0]["index"]["error"] if failed else "")

    async def get(self, integration_id: str, worker_id: str) -> dict[str, Any] | None:
        try:
            resp = await self._client.get(index=self.index, id=status_id(integration_id, worker_id),
                                          ignore=[404])
        except os_errors.NotFoundError:
            return None
        return resp["_source"] if resp.get("found") else None

    async def for_integrations(self, integration_ids: list[str]) -> dict[str, list[dict[str, Any]]]:
        """integration id → its status documents (one per worker that ever ran it).

        A status index that cannot be searched right now (just created by a worker, its
        shard still starting) reads as no reports: the integration then shows "pending"."""
        out: dict[str, list[dict[str, Any]]] = {i: [] for i in integration_ids}
        if not integration_ids:
            return out
        try:
            resp = await self._client.search(index=self.index, body={
                "query": {"terms": {"integration_id": integration_ids}}, "size": MAX_DOCS},
                ignore_unavailable=True)
        except os_errors.TransportError as exc:
            if isinstance(exc, os_errors.ConnectionError) or exc.status_code not in (429, 503):
                raise
            log.warning("integration status unavailable for now: %s", exc.error)
            return out
        for hit in resp["hits"]["hits"]:
            source = hit["_source"]
            out.setdefault(source["integration_id"], []).append(source)
        return out

    async def delete_for(self, integration_id: str, *, silent_for_s: float = 0.0) -> None:
        """Forget a deleted integration's status documents; with ``silent_for_s``, only those
        of workers that have not reported for that long (live workers delete their own once
        their forwarder stopped, which is how one sees that they did)."""
        docs = await self.for_integrations([integration_id])
        cutoff = datetime.now(UTC) - timedelta(seconds=silent_for_s)
        ids = [status_id(integration_id, d["worker_id"]) for d in docs.get(integration_id, [])
               if not silent_for_s or _time(d.get("updated_at")) < cutoff]
        if ids:
            await self._client.bulk(body=[{"delete": {"_index": self.index, "_id": i}} for i in ids],
                                    refresh="wait_for")

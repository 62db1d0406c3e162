"""What ``/health`` and ``/metrics`` report: Kafka and OpenSearch reachability, the
indexer's and the aggregator's consumer lag and the live workers' heartbeats.

The API never talks to the workers directly: it reads their committed offsets
from Kafka and their heartbeat documents from OpenSearch. Lag and heartbeats are
cached for ``api_monitor_cache_s`` so scrapes and health probes stay cheap.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from opensearchpy import AsyncOpenSearch

from bonito_logs.config import Settings
from bonito_logs.store.meta_index import stored_time

log = logging.getLogger(__name__)

MAX_WORKERS = 1000


def unknown_lag(group: str | None = None, topic: str | None = None) -> dict[str, Any]:
    """A consumer group's lag before (or instead of) reading it from Kafka."""
    return {"status": "unknown", "group": group, "topic": topic, "total": None, "partitions": []}


@dataclass
class Snapshot:
    """Lag and live workers at one moment. ``lag`` is the indexer group's,
    ``aggregator_lag`` the aggregator group's (the statistics), both of the logs topic
    and measured against the same end offsets."""

    lag: dict[str, Any]
    workers: list[dict[str, Any]] = field(default_factory=list)
    taken_at: float = 0.0
    aggregator_lag: dict[str, Any] = field(default_factory=unknown_lag)

    @property
    def aggregators(self) -> list[dict[str, Any]]:
        """The live workers that run the aggregator (their heartbeat has its section)."""
        return [w for w in self.workers if isinstance(w.get("aggregator"), dict)]


class ClusterMonitor:
    def __init__(self, settings: Settings, opensearch: AsyncOpenSearch) -> None:
        self._settings = settings
        self._opensearch = opensearch
        self._timeout = settings.api_probe_timeout_s
        self._admin: AIOKafkaAdminClient | None = None
        self._consumer: AIOKafkaConsumer | None = None
        self._kafka_lock = asyncio.Lock()
        self._snapshot_lock = asyncio.Lock()
        self._snapshot: Snapshot | None = None

    # --- reachability (never cached) ----------------------------------------------
    async def kafka_status(self) -> dict[str, Any]:
        try:
            admin = await self._admin_client()
            cluster = await asyncio.wait_for(admin.describe_cluster(), self._timeout)
        except Exception as exc:  # noqa: BLE001 - any failure means "unreachable"
            await self._reset_kafka()
            return {"status": "unreachable", "error": _describe(exc)}
        return {"status": "ok", "brokers": len(cluster.get("brokers", ())),
                "controller_id": cluster.get("controller_id")}

    async def opensearch_status(self) -> dict[str, Any]:
        try:
            health = await asyncio.wait_for(
                self._opensearch.cluster.health(request_timeout=self._timeout),
                self._timeout + 0.5,
            )
        except Exception as exc:  # noqa: BLE001
            return {"status": "unreachable", "error": _describe(exc)}
        return {"status": "ok", "cluster_status": health.get("status"),
                "nodes": health.get("number_of_nodes")}

    # --- lag and workers (cached) ---------------------------------------------------
    async def snapshot(self) -> Snapshot:
        async with self._snapshot_lock:  # concurrent scrapes share one refresh
            current = self._snapshot
            if current is not None and time.monotonic() - current.taken_at < self._settings.api_monitor_cache_s:
                return current
            (lag, aggregator_lag), workers = await asyncio.gather(self._lags(), self._live_workers())
            self._snapshot = Snapshot(lag=lag, workers=workers, taken_at=time.monotonic(),
                                      aggregator_lag=aggregator_lag)
            return self._snapshot

    async def _lags(self) -> tuple[dict[str, Any], dict[str, Any]]:
        """The indexer group's and the aggregator group's lag on the logs topic."""
        topic = self._settings.logs_topic
        groups = (self._settings.indexer_group, self._settings.aggregator_group_id)
        outs = [unknown_lag(group, topic) for group in groups]
        try:
            rows = await asyncio.wait_for(self._lag_rows(topic, groups), self._timeout * 2)
        except Exception as exc:  # noqa: BLE001
            await self._reset_kafka()
            for out in outs:
                out["error"] = _describe(exc)
            return outs[0], outs[1]
        for out, group_rows in zip(outs, rows, strict=True):
            out.update(status="ok", partitions=group_rows, total=sum(row["lag"] for row in group_rows))
        return outs[0], outs[1]

    async def _lag_rows(self, topic: str, groups: tuple[str, ...]) -> list[list[dict[str, Any]]]:
        """Per group, one row per partition of ``topic``; one metadata and end-offsets read."""
        admin = await self._admin_client()
        # Metadata for all topics: asking for one by name could auto-create it.
        topics = await admin.describe_topics()
        partitions = sorted(
            p["partition"] for t in topics if t["topic"] == topic for p in t["partitions"]
        )
        if not partitions:
            return [[] for _ in groups]
        tps = [TopicPartition(topic, p) for p in partitions]
        commits = [await admin.list_consumer_group_offsets(group, partitions=tps) for group in groups]
        consumer = await self._end_offsets_consumer()
        ends = await consumer.end_offsets(tps)
        out = []
        for committed in commits:
            rows = []
            for tp in tps:
                meta = committed.get(tp)
                offset = meta.offset if meta is not None and meta.offset >= 0 else None
                end = int(ends.get(tp, 0))
                # No commit yet: the group will start from the beginning, so all of it is lag.
                rows.append({"partition": tp.partition, "committed": offset, "end": end,
                             "lag": max(end - (offset or 0), 0)})
            out.append(rows)
        return out

    async def _live_workers(self) -> list[dict[str, Any]]:
        index = f"{self._settings.meta_prefix}workers"
        try:
            response = await asyncio.wait_for(
                self._opensearch.search(index=index, body={"size": MAX_WORKERS, "query": {"match_all": {}}},
                                        ignore_unavailable=True, request_timeout=self._timeout),
                self._timeout,
            )
        except Exception as exc:  # noqa: BLE001
            log.debug("worker heartbeats unavailable: %s", exc)
            return []
        now = datetime.now(UTC)
        live = []
        for hit in response.get("hits", {}).get("hits", []):
            source = hit.get("_source") or {}
            updated = stored_time(source.get("updated_at"))
            if updated is not None and (now - updated).total_seconds() <= self._settings.api_worker_live_s:
                live.append(source)
        return sorted(live, key=lambda w: str(w.get("worker_id")))

    # --- Kafka clients, created on first use and dropped after a failure ------------
    async def _admin_client(self) -> AIOKafkaAdminClient:
        async with self._kafka_lock:
            if self._admin is None:
                admin = AIOKafkaAdminClient(
                    bootstrap_servers=self._settings.kafka_bootstrap,
                    request_timeout_ms=int(self._timeout * 1000),
                    client_id="bonito-logs-api",
                )
                try:
                    await asyncio.wait_for(admin.start(), self._timeout)
                except BaseException:
                    await _quietly_close(admin)
                    raise
                self._admin = admin
            return self._admin

    async def _end_offsets_consumer(self) -> AIOKafkaConsumer:
        async with self._kafka_lock:
            if self._consumer is None:
                consumer = AIOKafkaConsumer(
                    bootstrap_servers=self._settings.kafka_bootstrap,
                    group_id=None,
                    enable_auto_commit=False,
                    request_timeout_ms=max(int(self._timeout * 1000), 1000),
                    client_id="bonito-logs-api-lag",
                )
                try:
                    await asyncio.wait_for(consumer.start(), self._timeout)
                except BaseException:
                    await _quietly_close(consumer)
                    raise
                self._consumer = consumer
            return self._consumer

    async def _reset_kafka(self) -> None:
        async with self._kafka_lock:
            admin, consumer = self._admin, self._consumer
            self._admin = self._consumer = None
        for client in (admin, consumer):
            if client is not None:
                await _quietly_close(client)

    async def aclose(self) -> None:
        await self._reset_kafka()


async def _quietly_close(client: Any) -> None:
    try:
        await asyncio.wait_for(client.close() if hasattr(client, "close") else client.stop(), 5)
    except Exception as exc:  # noqa: BLE001
        log.debug("closing Kafka client: %s", exc)


def _describe(exc: BaseException) -> str:
    if isinstance(exc, TimeoutError):
        return "timed out"
    return f"{type(exc).__name__}: {exc}"[:300]

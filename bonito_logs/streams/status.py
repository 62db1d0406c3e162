"""What a worker reports about itself: counters, partitions, and a heartbeat document.

Workers and the API are separate processes; the API learns about workers from
heartbeat documents in ``<meta_prefix>workers`` (``_id`` = worker id), written
every few seconds. ``/health`` and ``/metrics`` read them.

The document::

    {"worker_id", "host", "pid", "started_at", "updated_at",
     "partitions": [...],                       # the indexer's
     "counters": {COUNTERS..., "bulk_seconds_sum"},  # the indexer's
     "aggregator": {"partitions": [...], "counters": {AGGREGATOR_COUNTERS...}}}

``aggregator`` is there only once the aggregator runs in the process (a process
started with ``BONITO_WORKER_COMPONENTS=indexer`` has none). Counters count from
the process start; every name listed here is always present (0 until it happens),
and the names are an interface (``/metrics`` families are named after them).
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
from collections import Counter
from datetime import UTC, datetime

from bonito_logs.config import Settings

log = logging.getLogger(__name__)

HEARTBEAT_SECONDS = 5.0
COUNTERS = ("records_indexed", "bulk_requests", "dlq_records", "retries", "decode_errors")
# The aggregator's, as counted by AggregatorAgent and RollupBuffer.
AGGREGATOR_COUNTERS = (
    "records_seen",             # fetched from Kafka, decodable or not
    "records_applied",          # new to at least one rollup document
    "records_already_counted",  # a replay: every rollup document already held it
    "records_past_retention",   # their month's stats are deleted: skipped
    "decode_errors",            # undecodable: skipped (the indexer dead-letters them)
    "documents_read",           # rollup documents read from OpenSearch
    "documents_written",        # rollup documents written and confirmed
    "documents_rejected",       # refused for good by OpenSearch: their records are not counted
    "conflicts",                # flushes that met a version conflict
    "rewinds",                  # buffers dropped and partitions rewound to the last commit
    "failures",                 # batches that failed unexpectedly (then rewound)
)


def workers_index(settings: Settings) -> str:
    return f"{settings.meta_prefix}workers"


class WorkerStatus:
    def __init__(self, worker_id: str) -> None:
        self.worker_id = worker_id
        self.started_at = datetime.now(UTC)
        self.counters: Counter[str] = Counter({name: 0 for name in COUNTERS})
        self.bulk_seconds_sum = 0.0
        self.partitions: list[int] = []
        # The aggregator's counters, shared with it once it runs in this process.
        self.aggregator: Counter[str] | None = None
        self.aggregator_partitions: list[int] = []

    @classmethod
    def for_settings(cls, settings: Settings) -> WorkerStatus:
        return cls(settings.worker_id or f"{socket.gethostname()}-{os.getpid()}")

    def observe_bulk(self, requests: int, seconds: float) -> None:
        self.counters["bulk_requests"] += requests
        self.bulk_seconds_sum += seconds

    def document(self) -> dict:
        counters = {name: int(self.counters[name]) for name in COUNTERS}
        counters["bulk_seconds_sum"] = round(self.bulk_seconds_sum, 6)
        document = {
            "worker_id": self.worker_id,
            "host": socket.gethostname(),
            "pid": os.getpid(),
            "started_at": self.started_at.isoformat(),
            "updated_at": datetime.now(UTC).isoformat(),
            "partitions": list(self.partitions),
            "counters": counters,
        }
        if self.aggregator is not None:
            document["aggregator"] = {
                "partitions": list(self.aggregator_partitions),
                "counters": {name: int(self.aggregator[name]) for name in AGGREGATOR_COUNTERS},
            }
        return document


async def heartbeat_loop(status: WorkerStatus, settings: Settings, client,
                         interval: float = HEARTBEAT_SECONDS) -> None:
    """Write the status document every ``interval`` seconds until cancelled."""
    index = workers_index(settings)
    while True:
        try:
            await client.index(index=index, id=status.worker_id, body=status.document())
        except Exception as exc:  # OpenSearch down: the indexer already says so loudly
            log.debug("heartbeat not written: %s", exc)
        await asyncio.sleep(interval)

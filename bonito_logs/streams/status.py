"""What a worker reports about itself: counters, partitions, and a heartbeat document.

Workers and the API are separate processes; the API learns about workers from
heartbeat documents in ``<meta_prefix>workers`` (``_id`` = worker id), written
every few seconds. ``/health`` and ``/metrics`` read them.
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


def workers_index(settings: Settings) -> str:
    return f"{settings.meta_prefix}workers"


class WorkerStatus:
    def __init__(self, worker_id: str) -> None:
        self.worker_id = worker_id
        self.started_at = datetime.now(UTC)
        self.counters: Counter[str] = Counter({name: 0 for name in COUNTERS})
        self.bulk_seconds_sum = 0.0
        self.partitions: list[int] = []

    @classmethod
    def for_settings(cls, settings: Settings) -> WorkerStatus:
        return cls(settings.worker_id or f"{socket.gethostname()}-{os.getpid()}")

    def observe_bulk(self, requests: int, seconds: float) -> None:
        self.counters["bulk_requests"] += requests
        self.bulk_seconds_sum += seconds

    def document(self) -> dict:
        counters = {name: int(self.counters[name]) for name in COUNTERS}
        counters["bulk_seconds_sum"] = round(self.bulk_seconds_sum, 6)
        return {
            "worker_id": self.worker_id,
            "host": socket.gethostname(),
            "pid": os.getpid(),
            "started_at": self.started_at.isoformat(),
            "updated_at": datetime.now(UTC).isoformat(),
            "partitions": list(self.partitions),
            "counters": counters,
        }


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

"""The Kafka consumer of a stream worker: how it is built, started and paced.

The indexer, the aggregator, the exporter and every forwarder read with a plain aiokafka
consumer (``bonito_logs.streams.indexer`` says why not a Faust agent) that commits only
when the worker says so. ``worker_consumer`` builds one from the settings and the values
that differ between workers; each worker passes its own, with the reasons, where it
calls it. ``start_with_retry`` starts one while Kafka may still be down, giving up when
the worker is asked to stop; ``Backoff``, ``Stopping`` and ``sleep_or_stop`` are the
pacing that it and the retry loops of the indexer and the aggregator share. ``Fetched``
is a batch of fetched records with the offsets to commit after it.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Collection
from dataclasses import dataclass, field
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.errors import KafkaError

from bonito_logs.config import Settings

# Fetch sizes of the workers that read the logs topic in large batches.
BATCH_FETCH_MAX_BYTES = 64 * 1024 * 1024
BATCH_PARTITION_FETCH_BYTES = 8 * 1024 * 1024


@dataclass
class Fetched:
    """Records fetched for one batch (aiokafka ConsumerRecords, fetch order) and the last
    offset of each partition in it."""

    records: list[Any] = field(default_factory=list)
    last_offsets: dict[TopicPartition, int] = field(default_factory=dict)

    def add(self, tp: TopicPartition, records: list[Any]) -> None:
        self.records.extend(records)
        self.last_offsets[tp] = records[-1].offset

    def still_assigned(self, assigned: Collection[TopicPartition]) -> Fetched:
        """This batch without the records of partitions not in ``assigned`` (itself when
        none was revoked while it was fetched)."""
        if all(tp in assigned for tp in self.last_offsets):
            return self
        kept = Fetched()
        for rec in self.records:
            tp = TopicPartition(rec.topic, rec.partition)
            if tp in assigned:
                kept.records.append(rec)
                kept.last_offsets[tp] = rec.offset
        return kept


class Stopping(Exception):
    """Raised inside a batch when the agent is asked to stop: the batch is not committed."""


@dataclass
class Backoff:
    """Capped exponential backoff with full jitter."""

    initial: float = 0.2
    cap: float = 10.0
    attempt: int = 0

    def next_delay(self) -> float:
        delay = min(self.cap, self.initial * (2 ** self.attempt))
        self.attempt += 1
        return random.uniform(delay / 2, delay)

    def reset(self) -> None:
        self.attempt = 0


def worker_consumer(settings: Settings, *, group_id: str, role: str, worker_id: str,
                    max_poll_records: int, session_timeout_ms: int, heartbeat_interval_ms: int,
                    max_poll_interval_ms: int, auto_offset_reset: str = "earliest",
                    fetch_max_bytes: int | None = None,
                    max_partition_fetch_bytes: int | None = None) -> AIOKafkaConsumer:
    """A consumer in ``group_id``, named ``bonito-<role>-<worker_id>``, that never commits
    on its own and (unless told otherwise) starts a partition without a commit at its
    beginning. A fetch size left at ``None`` is aiokafka's default."""
    sizes: dict[str, int] = {}
    if fetch_max_bytes is not None:
        sizes["fetch_max_bytes"] = fetch_max_bytes
    if max_partition_fetch_bytes is not None:
        sizes["max_partition_fetch_bytes"] = max_partition_fetch_bytes
    return AIOKafkaConsumer(
        bootstrap_servers=settings.kafka_bootstrap,
        group_id=group_id,
        client_id=f"bonito-{role}-{worker_id}",
        enable_auto_commit=False,
        auto_offset_reset=auto_offset_reset,
        max_poll_records=max_poll_records,
        session_timeout_ms=session_timeout_ms,
        heartbeat_interval_ms=heartbeat_interval_ms,
        max_poll_interval_ms=max_poll_interval_ms,
        **sizes,
    )


async def sleep_or_stop(stopping: asyncio.Event, seconds: float) -> None:
    """Wait ``seconds``; raise ``Stopping`` instead if ``stopping`` is set before then."""
    try:
        await asyncio.wait_for(stopping.wait(), timeout=seconds)
    except TimeoutError:
        return
    raise Stopping


async def start_with_retry(consumer: AIOKafkaConsumer, stopping: asyncio.Event,
                           log: logging.Logger) -> None:
    """Start ``consumer``, retrying with capped backoff while Kafka is unreachable (each
    retry reported on the worker's ``log``); raise ``Stopping`` if ``stopping`` is set
    while waiting."""
    backoff = Backoff(initial=0.5, cap=5.0)
    while True:
        try:
            await consumer.start()
            return
        except KafkaError as exc:
            delay = backoff.next_delay()
            log.warning("Kafka not reachable (%s); retrying in %.1fs", exc, delay)
            await sleep_or_stop(stopping, delay)

"""The stream workers' consumer: what it is built with, and how its start is retried and stopped."""

from __future__ import annotations

import asyncio
import logging

import pytest
from aiokafka.errors import KafkaConnectionError

from bonito_logs.config import Settings
from bonito_logs.streams import consumer
from bonito_logs.streams.consumer import Stopping, start_with_retry, worker_consumer


class _Recorder:
    def __init__(self, **kwargs):
        self.kwargs = kwargs


def test_worker_consumer_never_auto_commits_and_leaves_unset_fetch_sizes_to_aiokafka(monkeypatch):
    monkeypatch.setattr(consumer, "AIOKafkaConsumer", _Recorder)
    s = Settings(kafka_bootstrap="k1:1,k2:2")
    built = worker_consumer(s, group_id="g", role="exporter", worker_id="w1", max_poll_records=500,
                            session_timeout_ms=10_000, heartbeat_interval_ms=3_000,
                            max_poll_interval_ms=300_000)
    assert built.kwargs == {
        "bootstrap_servers": "k1:1,k2:2", "group_id": "g", "client_id": "bonito-exporter-w1",
        "enable_auto_commit": False, "auto_offset_reset": "earliest", "max_poll_records": 500,
        "session_timeout_ms": 10_000, "heartbeat_interval_ms": 3_000,
        "max_poll_interval_ms": 300_000}
    sized = worker_consumer(s, group_id="g", role="fwd", worker_id="w1", max_poll_records=5,
                            session_timeout_ms=1, heartbeat_interval_ms=2, max_poll_interval_ms=3,
                            auto_offset_reset="none", fetch_max_bytes=7,
                            max_partition_fetch_bytes=6)
    assert sized.kwargs["auto_offset_reset"] == "none"
    assert (sized.kwargs["fetch_max_bytes"], sized.kwargs["max_partition_fetch_bytes"]) == (7, 6)


class _FlakyConsumer:
    def __init__(self, failures: int) -> None:
        self.failures = failures
        self.starts = 0

    async def start(self) -> None:
        self.starts += 1
        if self.starts <= self.failures:
            raise KafkaConnectionError("no broker")


async def test_start_is_retried_while_kafka_is_unreachable(monkeypatch, caplog):
    monkeypatch.setattr(consumer.Backoff, "next_delay", lambda self: 0.01)
    flaky = _FlakyConsumer(failures=2)
    with caplog.at_level(logging.WARNING, logger="test.worker"):
        await start_with_retry(flaky, asyncio.Event(), logging.getLogger("test.worker"))
    assert flaky.starts == 3
    assert [r.name for r in caplog.records if "Kafka not reachable" in r.getMessage()] == [
        "test.worker", "test.worker"]


async def test_a_stop_ends_the_retries():
    stopping = asyncio.Event()
    flaky = _FlakyConsumer(failures=1_000)
    asyncio.get_running_loop().call_later(0.05, stopping.set)
    with pytest.raises(Stopping):
        await asyncio.wait_for(start_with_retry(flaky, stopping, logging.getLogger("test")), 5)
    assert flaky.starts == 1


def test_a_fetched_batch_drops_the_records_of_revoked_partitions_only():
    from aiokafka import TopicPartition
    from aiokafka.structs import ConsumerRecord

    from bonito_logs.streams.consumer import Fetched

    def records(partition: int, offsets: range) -> list:
        return [ConsumerRecord("t", partition, o, 0, 0, None, b"", None, 0, 0, []) for o in offsets]

    batch = Fetched()
    batch.add(TopicPartition("t", 0), records(0, range(10, 13)))
    batch.add(TopicPartition("t", 1), records(1, range(5, 7)))
    batch.add(TopicPartition("t", 0), records(0, range(13, 15)))
    assert batch.last_offsets == {TopicPartition("t", 0): 14, TopicPartition("t", 1): 6}
    assert batch.still_assigned({TopicPartition("t", 0), TopicPartition("t", 1)}) is batch
    kept = batch.still_assigned({TopicPartition("t", 1)})
    assert [(r.partition, r.offset) for r in kept.records] == [(1, 5), (1, 6)]
    assert kept.last_offsets == {TopicPartition("t", 1): 6}
    assert batch.still_assigned(set()).records == []

"""The dead-letter topic: records a worker could not process, with why and where from.

A dead letter keeps the original key and bytes untouched as key and value, and
says in headers why it failed and where it came from, so it can be inspected,
fixed and replayed without guessing.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from aiokafka import AIOKafkaProducer

from bonito_logs.config import Settings
from bonito_logs.streams.status import WorkerStatus

REASON = "bonito.reason"
TOPIC = "bonito.source.topic"
PARTITION = "bonito.source.partition"
OFFSET = "bonito.source.offset"
WORKER = "bonito.worker"
FAILED_AT = "bonito.failed_at"


@dataclass(frozen=True)
class DeadLetter:
    key: bytes | None
    value: bytes | None
    reason: str
    topic: str
    partition: int
    offset: int

    @classmethod
    def of(cls, record: Any, reason: str) -> DeadLetter:
        """From an aiokafka ``ConsumerRecord``."""
        return cls(record.key, record.value, reason, record.topic, record.partition, record.offset)

    def headers(self, worker_id: str) -> list[tuple[str, bytes]]:
        return [
            (REASON, self.reason.encode()[:4000]),
            (TOPIC, self.topic.encode()),
            (PARTITION, str(self.partition).encode()),
            (OFFSET, str(self.offset).encode()),
            (WORKER, worker_id.encode()),
            (FAILED_AT, datetime.now(UTC).isoformat().encode()),
        ]


def read_headers(headers: Any) -> dict[str, str]:
    """A dead letter's headers as text, for tools and tests."""
    return {k: v.decode(errors="replace") for k, v in (headers or ())}


class DeadLetterWriter:
    def __init__(self, settings: Settings, status: WorkerStatus) -> None:
        self.settings = settings
        self.status = status
        self._producer: AIOKafkaProducer | None = None

    async def start(self) -> None:
        self._producer = AIOKafkaProducer(
            bootstrap_servers=self.settings.kafka_bootstrap,
            client_id=f"bonito-dlq-{self.status.worker_id}",
            acks="all",
            enable_idempotence=True,
        )
        await self._producer.start()

    async def stop(self) -> None:
        if self._producer is not None:
            await self._producer.stop()

    async def send_all(self, letters: list[DeadLetter]) -> None:
        """Send and wait until Kafka acknowledged every letter (raises KafkaError otherwise)."""
        futures = []
        for letter in letters:
            futures.append(await self._producer.send(
                self.settings.dlq_topic, value=letter.value, key=letter.key,
                headers=letter.headers(self.status.worker_id)))
        await asyncio.gather(*futures)
        self.status.counters["dlq_records"] += len(letters)

"""An integration's dead-letter topic writer: the original bytes, and why, in headers.

Headers are those of ``bonito_logs.streams.dlq`` (reason, source topic/partition/offset,
worker, time) plus the record id and the integration id, so the API can list and
preview dead letters without decoding every one.
"""

from __future__ import annotations

import asyncio
from typing import Any

from aiokafka import AIOKafkaProducer

from bonito_logs.config import Settings
from bonito_logs.forward_topics import INTEGRATION, RECORD_ID, dlq_topic
from bonito_logs.streams.dlq import DeadLetter


class IntegrationDeadLetters:
    def __init__(self, settings: Settings, integration_id: str, worker_id: str) -> None:
        self.settings = settings
        self.integration_id = integration_id
        self.worker_id = worker_id
        self.topic = dlq_topic(settings, integration_id)
        self._producer: AIOKafkaProducer | None = None

    async def start(self) -> None:
        self._producer = AIOKafkaProducer(
            bootstrap_servers=self.settings.kafka_bootstrap,
            client_id=f"bonito-fwd-dlq-{self.worker_id}", acks="all", enable_idempotence=True,
            max_request_size=4 * 1024 * 1024)
        await self._producer.start()

    async def stop(self) -> None:
        if self._producer is not None:
            await self._producer.stop()
            self._producer = None

    async def send_all(self, letters: list[tuple[Any, str, str | None]]) -> None:
        """(ConsumerRecord, reason, record id) each; returns once Kafka acknowledged all of them."""
        assert self._producer is not None
        futures = []
        for origin, reason, record_id in letters:
            headers = DeadLetter.of(origin, reason).headers(self.worker_id)
            headers.append((INTEGRATION, self.integration_id.encode()))
            if record_id:
                headers.append((RECORD_ID, str(record_id).encode()))
            futures.append(await self._producer.send(self.topic, value=origin.value, key=origin.key,
                                                     headers=headers))
        await asyncio.gather(*futures)

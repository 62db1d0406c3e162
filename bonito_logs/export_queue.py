"""The export requests topic: what the API sends and the exporter workers consume.

A message only names a job (``{"job_id", "org_id"}``, key = org id): the job
itself lives in OpenSearch (``store.exports``). Keying by org puts one org's
requests on one partition, so one worker applies the per-org limit to all of them.
Shared by the API (producer) and the workers (consumer), so it imports neither.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import orjson

from bonito_logs.config import Settings
from bonito_logs.errors import Unavailable

log = logging.getLogger(__name__)

_TOPIC_ALREADY_EXISTS = 36


def encode_request(job_id: str, org_id: str) -> tuple[bytes, bytes]:
    """(key, value) of the message asking for job ``job_id``."""
    return org_id.encode(), orjson.dumps({"job_id": job_id, "org_id": org_id})


def decode_request(value: bytes | None) -> tuple[str, str]:
    """(job id, org id) of a message; ``ValueError`` when it is not one of ours."""
    try:
        data = orjson.loads(value or b"")
    except orjson.JSONDecodeError as exc:
        raise ValueError(f"not JSON: {exc}") from None
    if not isinstance(data, dict) or not all(isinstance(data.get(k), str) for k in ("job_id", "org_id")):
        raise ValueError("expected an object with string job_id and org_id")
    return data["job_id"], data["org_id"]


async def ensure_exports_topic(settings: Settings, *, timeout_s: float = 30.0) -> bool:
    """Create ``exports_topic`` if missing (True when this call created it)."""
    from aiokafka.admin import AIOKafkaAdminClient, NewTopic
    from aiokafka.errors import KafkaError, for_code

    admin = AIOKafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap,
                                request_timeout_ms=int(timeout_s * 1000),
                                client_id="bonito-logs-exports-topic")
    try:
        await admin.start()
        if settings.exports_topic in set(await admin.list_topics()):
            return False
        brokers = len((await admin.describe_cluster()).get("brokers", [])) or 1
        response = await admin.create_topics(
            [NewTopic(settings.exports_topic, settings.exports_partitions, min(3, brokers))],
            timeout_ms=int(timeout_s * 1000))
        for topic_error in response.topic_errors:
            code = topic_error[1]
            if code not in (0, _TOPIC_ALREADY_EXISTS):
                raise Unavailable(f"Kafka refused to create topic {settings.exports_topic}: "
                                  f"{for_code(code).__name__}")
        log.info("created Kafka topic %s", settings.exports_topic)
        return True
    except KafkaError as exc:
        raise Unavailable(f"Kafka at {settings.kafka_bootstrap}: {type(exc).__name__}: {exc}") from exc
    finally:
        await admin.close()


class ExportQueue:
    """Sends export requests; the producer starts on first use (the API starts without Kafka)."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._producer: Any = None
        self._lock = asyncio.Lock()

    async def _started(self) -> Any:
        from aiokafka import AIOKafkaProducer
        from aiokafka.errors import KafkaError

        async with self._lock:
            if self._producer is None:
                await ensure_exports_topic(self.settings)
                producer = AIOKafkaProducer(bootstrap_servers=self.settings.kafka_bootstrap,
                                            acks="all", enable_idempotence=True,
                                            client_id="bonito-api-exports")
                try:
                    await producer.start()
                except KafkaError as exc:
                    await producer.stop()
                    raise Unavailable(f"Kafka is unreachable: {type(exc).__name__}") from exc
                self._producer = producer
            return self._producer

    async def send(self, job_id: str, org_id: str, *, timeout_s: float = 15.0) -> None:
        """Send and wait for Kafka's acknowledgement; ``Unavailable`` otherwise."""
        from aiokafka.errors import KafkaError

        producer = await self._started()
        key, value = encode_request(job_id, org_id)
        try:
            await asyncio.wait_for(
                producer.send_and_wait(self.settings.exports_topic, value=value, key=key),
                timeout_s)
        except (KafkaError, TimeoutError) as exc:
            raise Unavailable(f"Kafka did not accept the export request: {type(exc).__name__}") from exc

    async def aclose(self) -> None:
        if self._producer is not None:
            await self._producer.stop()
            self._producer = None

"""Kafka names of an integration's forwarding, shared by the API and the workers (imports neither).

For integration ``<id>`` (``forward_prefix`` defaults to ``bonito.fwd.``):

* ``<prefix><id>`` — the consumer group of its forwarders (on the logs topic and its replay topic);
* ``<prefix><id>.dlq`` — its dead-letter topic: records the destination will never accept;
* ``<prefix><id>.replay`` — records sent back from the dead-letter topic for another delivery,
  consumed by the same group, so a replay goes through the very same forwarder path;
* ``<prefix><id>.dlq-replayed`` — the group whose committed offset on the dead-letter topic
  marks how far it has been replayed (what lies beyond is "in the DLQ").

The dead-letter and replay topics have one partition: they are small, their offsets are
then a simple cursor for paging, and a replay keeps their order.
"""

from __future__ import annotations

import logging

from bonito_logs.config import Settings
from bonito_logs.errors import Unavailable

log = logging.getLogger(__name__)

#: Dead-letter headers: the first six are the names ``bonito_logs.streams.dlq`` writes.
REASON = "bonito.reason"
SOURCE_TOPIC = "bonito.source.topic"
SOURCE_PARTITION = "bonito.source.partition"
SOURCE_OFFSET = "bonito.source.offset"
WORKER = "bonito.worker"
FAILED_AT = "bonito.failed_at"
RECORD_ID = "bonito.record_id"
INTEGRATION = "bonito.integration"
REPLAY_OF = "bonito.replay_of"  # on a replayed copy: the dead-letter offset it came from

_TOPIC_ALREADY_EXISTS = 36


def group_id(settings: Settings, integration_id: str) -> str:
    return f"{settings.forward_prefix}{integration_id}"


def dlq_topic(settings: Settings, integration_id: str) -> str:
    return f"{settings.forward_prefix}{integration_id}.dlq"


def replay_topic(settings: Settings, integration_id: str) -> str:
    return f"{settings.forward_prefix}{integration_id}.replay"


def replayed_group(settings: Settings, integration_id: str) -> str:
    return f"{settings.forward_prefix}{integration_id}.dlq-replayed"


def header_text(headers: object) -> dict[str, str]:
    """Kafka headers (name, bytes) as a dict of text."""
    return {name: value.decode(errors="replace") if isinstance(value, bytes) else str(value)
            for name, value in (headers or ())}  # type: ignore[attr-defined]


async def ensure_integration_topics(settings: Settings, integration_id: str, *,
                                    timeout_s: float = 15.0) -> None:
    """Create the integration's dead-letter and replay topics if missing (idempotent)."""
    await ensure_topics(settings, [dlq_topic(settings, integration_id),
                                   replay_topic(settings, integration_id)], timeout_s=timeout_s)


async def ensure_topics(settings: Settings, names: list[str], *, timeout_s: float = 15.0) -> None:
    from aiokafka.admin import AIOKafkaAdminClient, NewTopic
    from aiokafka.errors import KafkaError, for_code

    admin = AIOKafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap,
                                request_timeout_ms=int(timeout_s * 1000),
                                client_id="bonito-logs-forward-topics")
    try:
        await admin.start()
        missing = [name for name in names if name not in set(await admin.list_topics())]
        if not missing:
            return
        brokers = len((await admin.describe_cluster()).get("brokers", [])) or 1
        response = await admin.create_topics(
            [NewTopic(name, 1, min(3, brokers)) for name in missing], timeout_ms=int(timeout_s * 1000))
        for topic_error in response.topic_errors:
            name, code = topic_error[0], topic_error[1]
            if code not in (0, _TOPIC_ALREADY_EXISTS):
                raise Unavailable(f"Kafka refused to create topic {name}: {for_code(code).__name__}")
        log.info("created Kafka topic(s) %s", ", ".join(missing))
    except KafkaError as exc:
        raise Unavailable(f"Kafka at {settings.kafka_bootstrap}: {type(exc).__name__}") from exc
    finally:
        await admin.close()

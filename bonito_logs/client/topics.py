"""Create the logs topic and its dead-letter topic when they are missing.

``await ensure_topics(settings)`` is idempotent: topics that exist are left as
they are (their partition count is not changed), and a concurrent creation by
another process (``TopicAlreadyExists``) counts as success.
"""

from __future__ import annotations

import logging

from bonito_logs.config import Settings
from bonito_logs.errors import Unavailable

log = logging.getLogger("bonito_logs.client")

_TOPIC_ALREADY_EXISTS = 36


async def ensure_topics(settings: Settings, *, timeout_s: float = 30.0) -> list[str]:
    """Create ``logs_topic`` and ``dlq_topic`` if missing; returns the names it created.

    Partitions: ``topic_partitions``; retention: ``topic_retention_ms``; replication:
    3, or the broker count when there are fewer brokers. Raises ``Unavailable`` when
    Kafka cannot be reached or refuses.
    """
    from aiokafka.admin import AIOKafkaAdminClient, NewTopic
    from aiokafka.errors import KafkaError, for_code

    admin = AIOKafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap,
                                request_timeout_ms=int(timeout_s * 1000),
                                client_id="bonito-logs-topics")
    try:
        await admin.start()
        existing = set(await admin.list_topics())
        wanted = [settings.logs_topic, settings.dlq_topic]
        missing = [name for name in dict.fromkeys(wanted) if name not in existing]
        if not missing:
            return []
        brokers = len((await admin.describe_cluster()).get("brokers", [])) or 1
        replication = min(3, brokers)
        config = {"retention.ms": str(settings.topic_retention_ms)}
        response = await admin.create_topics(
            [NewTopic(name, settings.topic_partitions, replication, topic_configs=config)
             for name in missing],
            timeout_ms=int(timeout_s * 1000))
        created = []
        for topic_error in response.topic_errors:
            name, code = topic_error[0], topic_error[1]
            if code == 0:
                created.append(name)
            elif code != _TOPIC_ALREADY_EXISTS:
                detail = topic_error[2] if len(topic_error) > 2 else ""
                raise Unavailable(f"Kafka refused to create topic {name}: "
                                  f"{for_code(code).__name__} {detail or ''}".strip())
        if created:
            log.info("created Kafka topic(s) %s (%d partitions, retention %d ms)",
                     ", ".join(created), settings.topic_partitions, settings.topic_retention_ms)
        return created
    except KafkaError as exc:
        raise Unavailable(f"Kafka at {settings.kafka_bootstrap}: {type(exc).__name__}: {exc}") from exc
    finally:
        await admin.close()

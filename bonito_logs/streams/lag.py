"""How far a consumer group is behind the end of the logs topic (tests, benchmarks, tools)."""

from __future__ import annotations

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from bonito_logs.config import Settings


async def _offsets(settings: Settings, topic: str, group: str | None,
                   ) -> list[tuple[int, int, int | None]]:
    """(beginning, end, committed or None) per partition of ``topic``."""
    consumer = AIOKafkaConsumer(bootstrap_servers=settings.kafka_bootstrap, group_id=None,
                                enable_auto_commit=False)
    await consumer.start()
    try:
        partitions = consumer.partitions_for_topic(topic)
        if not partitions:
            await consumer._client.force_metadata_update()  # noqa: SLF001 - a topic just made
            partitions = consumer.partitions_for_topic(topic) or set()
        tps = [TopicPartition(topic, p) for p in sorted(partitions)]
        if not tps:
            return []
        ends = await consumer.end_offsets(tps)
        starts = await consumer.beginning_offsets(tps)
    finally:
        await consumer.stop()
    committed: dict = {}
    if group is not None:
        admin = AIOKafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap)
        await admin.start()
        try:
            committed = await admin.list_consumer_group_offsets(group, partitions=tps)
        finally:
            await admin.close()
    out = []
    for tp in tps:
        meta = committed.get(tp)
        out.append((starts[tp], ends[tp], meta.offset if meta is not None and meta.offset >= 0 else None))
    return out


async def group_lag(settings: Settings, group: str, topic: str | None = None) -> int:
    """Records of ``topic`` (default: the logs topic) not yet committed by ``group``.

    A partition the group never committed counts in full (the group starts from
    the beginning), so a new group's lag is the whole topic.
    """
    rows = await _offsets(settings, topic or settings.logs_topic, group)
    return sum(max(end - (done if done is not None else start), 0) for start, end, done in rows)


async def topic_size(settings: Settings, topic: str | None = None) -> int:
    """Records currently held by ``topic`` (default: the logs topic)."""
    rows = await _offsets(settings, topic or settings.logs_topic, None)
    return sum(end - start for start, end, _ in rows)

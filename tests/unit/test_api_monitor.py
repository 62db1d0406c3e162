"""ClusterMonitor without Kafka: both groups' lag from one read of the topic's end offsets,
aggregating workers told apart, one cached snapshot for several callers."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from aiokafka.structs import OffsetAndMetadata

from bonito_logs.api.monitor import ClusterMonitor
from bonito_logs.config import Settings

SETTINGS = Settings(logs_topic="t.logs", indexer_group="t.indexer", meta_prefix="t-",
                    api_monitor_cache_s=60.0)
ENDS = {0: 15, 1: 4, 2: 0}
COMMITTED = {"t.indexer": {0: 15, 1: 1}, "t.aggregator": {0: 9}}


class FakeAdmin:
    def __init__(self) -> None:
        self.calls: list[str] = []

    async def describe_topics(self):
        self.calls.append("describe_topics")
        return [{"topic": "other", "partitions": [{"partition": 0}]},
                {"topic": "t.logs", "partitions": [{"partition": p} for p in (2, 0, 1)]}]

    async def list_consumer_group_offsets(self, group, partitions):
        self.calls.append(f"offsets {group}")
        offsets = COMMITTED.get(group, {})
        return {tp: OffsetAndMetadata(offsets[tp.partition], "") for tp in partitions
                if tp.partition in offsets}


class FakeConsumer:
    def __init__(self) -> None:
        self.calls = 0

    async def end_offsets(self, tps):
        self.calls += 1
        return {tp: ENDS[tp.partition] for tp in tps}


class FakeOpenSearch:
    def __init__(self, sources: list[dict]) -> None:
        self.sources = sources
        self.searches = 0

    async def search(self, **_):
        self.searches += 1
        return {"hits": {"hits": [{"_source": s} for s in self.sources]}}


def heartbeat(worker_id: str, age_s: float, **extra) -> dict:
    updated = datetime.now(UTC) - timedelta(seconds=age_s)
    return {"worker_id": worker_id, "updated_at": updated.isoformat(), "counters": {}, **extra}


def monitor_with(admin, consumer, opensearch, settings: Settings = SETTINGS) -> ClusterMonitor:
    monitor = ClusterMonitor(settings, opensearch)

    async def admin_client():
        return admin

    async def end_offsets_consumer():
        return consumer

    monitor._admin_client = admin_client
    monitor._end_offsets_consumer = end_offsets_consumer
    return monitor


async def test_both_groups_lag_from_one_read_of_the_end_offsets():
    admin, consumer = FakeAdmin(), FakeConsumer()
    monitor = monitor_with(admin, consumer, FakeOpenSearch([]))
    snapshot = await monitor.snapshot()
    assert snapshot.lag == {
        "status": "ok", "group": "t.indexer", "topic": "t.logs", "total": 3,
        "partitions": [{"partition": 0, "committed": 15, "end": 15, "lag": 0},
                       {"partition": 1, "committed": 1, "end": 4, "lag": 3},
                       {"partition": 2, "committed": None, "end": 0, "lag": 0}]}
    assert snapshot.aggregator_lag == {
        "status": "ok", "group": "t.aggregator", "topic": "t.logs", "total": 10,
        "partitions": [{"partition": 0, "committed": 9, "end": 15, "lag": 6},
                       {"partition": 1, "committed": None, "end": 4, "lag": 4},
                       {"partition": 2, "committed": None, "end": 0, "lag": 0}]}
    assert admin.calls == ["describe_topics", "offsets t.indexer", "offsets t.aggregator"]
    assert consumer.calls == 1


async def test_an_explicit_aggregator_group_is_the_one_read():
    admin = FakeAdmin()
    settings = SETTINGS.replace(aggregator_group="stats.elsewhere")
    snapshot = await monitor_with(admin, FakeConsumer(), FakeOpenSearch([]), settings).snapshot()
    assert snapshot.aggregator_lag["group"] == "stats.elsewhere"
    assert snapshot.aggregator_lag["total"] == 19  # never committed: the whole topic
    assert "offsets stats.elsewhere" in admin.calls


async def test_a_missing_topic_is_no_lag_for_either_group():
    class NoTopic(FakeAdmin):
        async def describe_topics(self):
            return []

    snapshot = await monitor_with(NoTopic(), FakeConsumer(), FakeOpenSearch([])).snapshot()
    for lag in (snapshot.lag, snapshot.aggregator_lag):
        assert lag["status"] == "ok" and lag["total"] == 0 and lag["partitions"] == []


async def test_kafka_failing_makes_both_lags_unknown_with_the_error():
    class Broken(FakeAdmin):
        async def describe_topics(self):
            raise ConnectionError("broker gone")

    snapshot = await monitor_with(Broken(), FakeConsumer(), FakeOpenSearch([])).snapshot()
    for lag, group in ((snapshot.lag, "t.indexer"), (snapshot.aggregator_lag, "t.aggregator")):
        assert lag == {"status": "unknown", "group": group, "topic": "t.logs", "total": None,
                       "partitions": [], "error": "ConnectionError: broker gone"}


async def test_aggregators_are_the_live_workers_with_an_aggregator_section():
    opensearch = FakeOpenSearch([
        heartbeat("w-indexer", 1),
        heartbeat("w-both", 2, aggregator={"partitions": [0], "counters": {"records_applied": 4}}),
        heartbeat("w-dead", 600, aggregator={"partitions": [1], "counters": {}}),
    ])
    snapshot = await monitor_with(FakeAdmin(), FakeConsumer(), opensearch).snapshot()
    assert [w["worker_id"] for w in snapshot.workers] == ["w-both", "w-indexer"]
    assert [w["worker_id"] for w in snapshot.aggregators] == ["w-both"]


async def test_one_snapshot_serves_concurrent_and_later_callers_within_the_cache_time():
    admin, consumer, opensearch = FakeAdmin(), FakeConsumer(), FakeOpenSearch([])
    monitor = monitor_with(admin, consumer, opensearch)
    first, second = await asyncio.gather(monitor.snapshot(), monitor.snapshot())
    third = await monitor.snapshot()
    assert first is second is third
    assert consumer.calls == 1 and opensearch.searches == 1
    assert admin.calls.count("describe_topics") == 1
    expired = monitor_with(admin, consumer, opensearch, SETTINGS.replace(api_monitor_cache_s=0.0))
    await expired.snapshot()
    await expired.snapshot()
    assert consumer.calls == 3 and opensearch.searches == 3

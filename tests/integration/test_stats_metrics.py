"""The aggregator is observable: its counters reach /metrics through the worker heartbeat, and
its group's lag is on /metrics and /health, against the real Kafka and OpenSearch."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime, timedelta

from prometheus_client.parser import text_string_to_metric_families

from bonito_logs.store.rollup_docs import STEP_MS, to_ms
from bonito_logs.streams.app import WorkerRuntime, prepare
from bonito_logs.streams.status import AGGREGATOR_COUNTERS
from tests.integration.stats_support import stats_records, wait_aggregated
from tests.integration.support import encoded, new_orgs, produce
from tests.integration.test_api_support import api_session

RECORDS = 600
HEARTBEAT_WAIT_S = 30.0


async def scrape(client) -> dict[tuple[str, tuple], float]:
    response = await client.get("/metrics")
    assert response.status_code == 200
    out = {}
    for family in text_string_to_metric_families(response.text):
        for sample in family.samples:
            out[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return out


def lag_by_partition(samples: dict, component: str) -> dict[str, float]:
    return {dict(labels)["partition"]: value for (name, labels), value in samples.items()
            if name == f"bonito_{component}_lag_records"}


def full_documents(records: list[dict]) -> int:
    """The distinct minute, hour and day ``full`` rollup documents the records touch."""
    keys = set()
    for record in records:
        ts = to_ms(record["timestamp"])
        for granularity in ("minute", "hour", "day"):
            keys.add((record["org_id"], granularity, ts - ts % STEP_MS[granularity]))
    return len(keys)


async def test_rollup_counters_and_aggregator_lag_on_metrics_and_health(settings, unique_name):
    settings = settings.replace(worker_id=f"agg-{unique_name}", worker_components="aggregator",
                                api_monitor_cache_s=0.2)
    await prepare(settings)
    now = datetime.now(UTC)
    records = stats_records(RECORDS, new_orgs(2), seed=13, start=now - timedelta(hours=2),
                            span=timedelta(hours=2) - timedelta(seconds=1))
    produced = encoded(records) + [(records[0]["org_id"].encode(), b"not an avro record")]
    assert await produce(settings, produced) == RECORDS + 1
    group, partitions = settings.aggregator_group_id, settings.topic_partitions

    async with api_session(settings) as (_, client):
        # Before any aggregator ran: the group never committed, the whole topic is its lag.
        health = (await client.get("/health")).json()
        assert health["status"] == "ok"
        assert health["aggregator"]["lag"]["status"] == "ok"
        assert health["aggregator"]["lag"]["group"] == group
        assert health["aggregator"]["lag"]["total"] == RECORDS + 1
        assert health["aggregator"]["live_workers"] == 0
        before = await scrape(client)
        assert before[("bonito_aggregator_lag_known", ())] == 1
        assert sum(lag_by_partition(before, "aggregator").values()) == RECORDS + 1
        assert before[("bonito_aggregator_workers_live", ())] == 0

        runtime = WorkerRuntime(settings)
        await runtime.start()
        try:
            await wait_aggregated(settings)
            agent = runtime.aggregator
            assert agent.counters["records_applied"] == RECORDS
            # The heartbeat (every 5 s) catches up with what the agent counted.
            want = {name: agent.counters[name] for name in AGGREGATOR_COUNTERS}
            deadline = time.monotonic() + HEARTBEAT_WAIT_S
            while True:
                samples = await scrape(client)
                got = {name: samples.get((f"bonito_workers_rollup_{name}", ())) for name in want}
                if got == want:
                    break
                assert time.monotonic() < deadline, f"heartbeat says {got}, the agent counted {want}"
                await asyncio.sleep(0.5)

            assert got["records_seen"] == RECORDS + 1
            assert got["records_applied"] == RECORDS
            assert got["decode_errors"] == 1
            assert got["records_already_counted"] == 0
            assert got["records_past_retention"] == 0
            assert got["documents_rejected"] == 0
            assert got["conflicts"] == 0 and got["rewinds"] == 0 and got["failures"] == 0
            assert got["documents_written"] >= full_documents(records) > 0
            worker = (("worker", settings.worker_id),)
            assert samples[("bonito_worker_rollup_records_applied_total", worker)] == RECORDS
            assert samples[("bonito_worker_rollup_documents_written_total", worker)] == \
                got["documents_written"]
            assert samples[("bonito_aggregator_workers_live", ())] == 1
            assert samples[("bonito_workers_live", ())] == 1
            # Every partition committed to its end; the indexer (not running) is still all behind.
            assert samples[("bonito_aggregator_lag_known", ())] == 1
            assert lag_by_partition(samples, "aggregator") == {str(p): 0 for p in range(partitions)}
            assert sum(lag_by_partition(samples, "indexer").values()) == RECORDS + 1
            assert {dict(labels)["group"] for (name, labels) in samples
                    if name == "bonito_aggregator_lag_records"} == {group}

            health_response = await client.get("/health")
            assert health_response.status_code == 200
            health = health_response.json()
            assert health["status"] == "ok"  # the indexer's lag does not degrade it either
            assert health["aggregator"]["lag"]["total"] == 0
            assert [row["lag"] for row in health["aggregator"]["lag"]["partitions"]] == [0] * partitions
            assert health["aggregator"]["live_workers"] == 1
            assert health["lag"]["total"] == RECORDS + 1
            (item,) = health["workers"]["items"]
            assert item["worker_id"] == settings.worker_id
            assert item["aggregator"]["counters"] == want
            assert sorted(item["aggregator"]["partitions"]) == list(range(partitions))
        finally:
            await runtime.stop()

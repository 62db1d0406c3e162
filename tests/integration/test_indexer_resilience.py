"""Crashes, failover and outages: exact document counts at the end, never a loss."""

from __future__ import annotations

import asyncio
import random
import time

import pytest

from bonito_logs.config import Settings
from bonito_logs.stack import start_service, stop_service, wait_healthy
from bonito_logs.streams.app import prepare
from bonito_logs.streams.status import workers_index
from tests.integration.support import (
    WorkerProcess,
    count_docs,
    delete_test_indices,
    dlq_messages,
    encoded,
    generate_records,
    new_orgs,
    os_client,
    produce,
    wait_until,
)


@pytest.fixture
async def prepared(settings):
    await prepare(settings)
    yield settings
    await delete_test_indices(settings)


async def test_kill_9_twice_during_ingestion_leaves_exactly_every_record(prepared):
    settings = prepared
    total = 50_000
    records = generate_records(total, new_orgs(10), seed=11)
    rng = random.Random()
    worker = WorkerProcess(settings, "crash")
    worker.start()
    producing = asyncio.create_task(produce(settings, encoded(records), pace=0.05))
    kills = 0
    try:
        for _ in range(2):
            # Let it run and index a while, then kill it without warning.
            await asyncio.sleep(rng.uniform(4.0, 9.0))
            indexed_before = await count_docs(settings)
            worker.kill()
            kills += 1
            await asyncio.sleep(rng.uniform(0.2, 2.0))
            worker.start()
            assert indexed_before < total, "the kill must happen mid-ingestion to prove anything"
        assert await producing == total
        await wait_until(lambda: _count_is(settings, total), 240, f"{total} documents")
        await asyncio.sleep(3)  # anything replayed late must not add documents
        assert await count_docs(settings) == total
        assert kills == 2
        assert await dlq_messages(settings, timeout_s=3) == []
    finally:
        producing.cancel()
        worker.terminate()


async def test_two_workers_share_partitions_and_a_killed_ones_move_to_the_other(prepared):
    settings = prepared
    records = generate_records(10_000, new_orgs(12), seed=5)
    a, b = WorkerProcess(settings, "share-a"), WorkerProcess(settings, "share-b")
    a.start()
    b.start()
    try:
        await wait_until(lambda: _both_assigned(settings, ["share-a", "share-b"]), 90,
                         "both workers to own partitions")
        producing = asyncio.create_task(produce(settings, encoded(records), pace=0.05))
        await asyncio.sleep(3)
        a.kill()
        await producing
        await wait_until(lambda: _owns_all(settings, "share-b"), 90,
                         "the survivor to own every partition")
        await wait_until(lambda: _count_is(settings, 10_000), 120, "10,000 documents")
    finally:
        a.terminate()
        b.terminate()


async def test_opensearch_down_for_30s_loses_nothing(prepared):
    settings = prepared
    stack = Settings.from_env()
    records = generate_records(20_000, new_orgs(5), seed=9)
    worker = WorkerProcess(settings, "outage")
    worker.start()
    producing = asyncio.create_task(produce(settings, encoded(records), pace=0.05))
    try:
        await wait_until(lambda: _count_above(settings, 1_000), 90, "indexing to start")
        await asyncio.to_thread(stop_service, "opensearch", stack)
        stopped = time.monotonic()
        await asyncio.sleep(30)
        assert worker.alive(), "the worker must ride out the outage"
        await asyncio.to_thread(start_service, "opensearch", stack)
        await asyncio.to_thread(wait_healthy, "opensearch", stack)
        assert time.monotonic() - stopped >= 30
        await producing
        await wait_until(lambda: _count_is(settings, 20_000), 240, "20,000 documents")
        assert await dlq_messages(settings, timeout_s=3) == []
    finally:
        producing.cancel()
        worker.terminate()
        await asyncio.to_thread(start_service, "opensearch", stack)


async def _count_is(settings, n: int) -> bool:
    try:
        return await count_docs(settings) == n
    except Exception:
        return False


async def _count_above(settings, n: int) -> bool:
    try:
        return await count_docs(settings) > n
    except Exception:
        return False


async def _heartbeats(settings) -> dict[str, dict]:
    client = os_client(settings)
    try:
        await client.indices.refresh(index=workers_index(settings), ignore_unavailable=True)
        resp = await client.search(index=workers_index(settings), body={"size": 50},
                                   ignore_unavailable=True)
        return {h["_id"]: h["_source"] for h in resp["hits"]["hits"]}
    except Exception:
        return {}
    finally:
        await client.close()


async def _both_assigned(settings, names: list[str]) -> bool:
    beats = await _heartbeats(settings)
    return all(beats.get(n, {}).get("partitions") for n in names)


async def _owns_all(settings, name: str) -> bool:
    beats = await _heartbeats(settings)
    return sorted(beats.get(name, {}).get("partitions", [])) == list(range(settings.topic_partitions))

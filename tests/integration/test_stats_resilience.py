"""kill -9 of the worker while it aggregates: after restarts the rollups equal the raw data."""

from __future__ import annotations

import asyncio
import random
from datetime import UTC, datetime, timedelta

from bonito_logs.store.rollup_docs import floor_ms, to_ms
from bonito_logs.streams.app import prepare
from bonito_logs.streams.lag import group_lag, topic_size
from tests.integration.stats_support import (
    arrival_order,
    assert_series,
    stats_records,
    wait_aggregated,
)
from tests.integration.support import (
    WorkerProcess,
    count_docs,
    delete_test_indices,
    encoded,
    new_orgs,
    produce,
    wait_until,
)
from tests.integration.test_api_support import api_session, bearer, new_key

GROUP_BYS = (None, "log_type", "event_type", "severity", "model", "provider")


async def test_kill_9_twice_during_ingestion_leaves_the_rollups_exact(settings):
    await prepare(settings)
    total = 30_000
    orgs = new_orgs(3)
    day0 = datetime.fromtimestamp(floor_ms(to_ms(datetime.now(UTC)), "day") / 1000, UTC) - timedelta(days=3)
    records = stats_records(total, orgs, seed=17, start=day0, span=timedelta(days=3))
    rng = random.Random()
    # Small batches and frequent writes: many commits and many half-written states to die in.
    worker = WorkerProcess(settings.replace(aggregator_batch_records=500, aggregator_flush_seconds=0.2),
                           "stats-crash")
    worker.start()
    producing = asyncio.create_task(produce(settings, encoded(arrival_order(records, seed=17)), pace=0.25))
    try:
        for _ in range(2):
            await wait_until(lambda: _aggregating(settings, total), 90, "the aggregator to commit")
            await asyncio.sleep(rng.uniform(1.0, 4.0))
            lag = await group_lag(settings, settings.aggregator_group_id)
            worker.kill()
            assert not worker.alive()
            assert lag > 0, "the kill must happen mid-ingestion"
            await asyncio.sleep(rng.uniform(0.2, 1.5))
            worker.start()
        assert await producing == total
        await wait_aggregated(settings, timeout=240)
        await wait_until(lambda: _indexed(settings, total), 120, f"{total} raw documents")
        async with api_session(settings) as (app, client):
            keys = {org: await new_key(app, org, "viewer") for org in orgs}
            window = {"start": day0.isoformat(), "end": (day0 + timedelta(days=3)).isoformat()}
            raw = 0
            for org in orgs:
                for interval, group_by in [("hour", g) for g in GROUP_BYS] + [("day", None)]:
                    params = {**window, "interval": interval, **({"group_by": group_by} if group_by else {})}
                    response = await client.get("/api/logs/stats", headers=bearer(keys[org]), params=params)
                    assert response.status_code == 200, response.text
                    assert_series(response.json(), records, org, params)
                    if interval == "day":
                        raw += response.json()["totals"]["count"]
            assert raw == total == await count_docs(settings)
    finally:
        producing.cancel()
        worker.terminate()
        await delete_test_indices(settings)


async def _aggregating(settings, total: int) -> bool:
    """The aggregator committed something (it is at work) and is not done."""
    try:
        lag = await group_lag(settings, settings.aggregator_group_id)
        committed = await topic_size(settings) - lag
    except Exception:
        return False
    return lag > 0 and 0 < committed < total


async def _indexed(settings, n: int) -> bool:
    try:
        return await count_docs(settings) == n
    except Exception:
        return False

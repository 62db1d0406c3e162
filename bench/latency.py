"""Emit-to-searchable latency at a fixed rate (half the measured maximum by default).

Records are emitted through the client helper at a steady rate with
``timestamp`` = emit time; one in ``--probe-every`` carries ``metadata.probe``.
A poller searches for probes every 100 ms and notes when each first becomes
searchable. Latency = first seen − emitted (poll interval included).

Usage: ``python bench/latency.py [--rate N] [--seconds 30]``; without ``--rate`` it
first measures the maximum sustained indexing rate with a burst.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench._common import bench_settings, summary  # noqa: E402
from bonito_logs.client import LogService  # noqa: E402
from bonito_logs.store import make_client  # noqa: E402
from bonito_logs.store.documents import timestamp_us  # noqa: E402
from bonito_logs.streams.app import prepare  # noqa: E402
from tests.integration.support import (  # noqa: E402
    WorkerProcess,
    count_docs,
    delete_test_indices,
    encoded,
    generate_records,
    new_orgs,
    produce,
)

ORGS = new_orgs(8)


async def max_rate(settings, n: int) -> float:
    await produce(settings, encoded(generate_records(n, ORGS, seed=3)))
    worker = WorkerProcess(settings, "latency-burst")
    worker.start()
    try:
        while (first := await count_docs(settings)) == 0:
            await asyncio.sleep(0.05)
        start = time.perf_counter()
        while await count_docs(settings) < n:
            await asyncio.sleep(0.1)
        return (n - first) / (time.perf_counter() - start)
    finally:
        worker.terminate()


async def measure(settings, rate: float, seconds: float, probe_every: int) -> list[float]:
    worker = WorkerProcess(settings, "latency-run")  # its own process, as in production
    worker.start()
    service = LogService(settings)
    client = make_client(settings)
    emitted: dict[str, float] = {}
    seen: dict[str, float] = {}
    stop = asyncio.Event()

    async def poll() -> None:
        while not stop.is_set() or len(seen) < len(emitted):
            since = timestamp_us(datetime.now(UTC) - timedelta(seconds=20))
            query = {"bool": {"filter": [{"term": {"metadata.probe": "yes"}},
                                         {"range": {"timestamp_us": {"gte": since}}}]}}
            try:
                resp = await client.search(index=settings.index_pattern,
                                           body={"size": 10000, "_source": False, "query": query},
                                           ignore_unavailable=True, allow_no_indices=True)
            except Exception:  # a daily index still being created: poll again
                await asyncio.sleep(0.1)
                continue
            now = time.time()
            for hit in resp["hits"]["hits"]:
                seen.setdefault(hit["_id"], now)
            await asyncio.sleep(0.1)

    poller = asyncio.create_task(poll())
    await asyncio.sleep(6)  # let the worker start and join its group
    interval = 1.0 / rate
    start = time.perf_counter()
    i = 0
    while time.perf_counter() - start < seconds:
        target = start + i * interval
        delay = target - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        probe = i % probe_every == 0
        now = datetime.now(UTC)
        rid = await service.emit(org_id=ORGS[i % len(ORGS)], log_type="gateway", event_type="request",
                                 severity="info", timestamp=now, duration_ms=12.5, cost=0.001,
                                 metadata={"probe": "yes" if probe else "no"}, message=f"latency probe {i}")
        if probe:
            emitted[rid] = now.timestamp()
        i += 1
    stop.set()
    await service.flush()
    try:
        await asyncio.wait_for(poller, timeout=30)
    except TimeoutError:
        pass
    await service.close()
    await client.close()
    worker.terminate()
    missing = set(emitted) - set(seen)
    if missing:
        print(f"warning: {len(missing)} probes never became searchable within the wait")
    return [(seen[r] - emitted[r]) * 1000 for r in emitted if r in seen]


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rate", type=float, default=None, help="records/s (default: half the measured max)")
    parser.add_argument("--seconds", type=float, default=30)
    parser.add_argument("--burst", type=int, default=60_000, help="records for the max-rate burst")
    parser.add_argument("--probe-every", type=int, default=10)
    parser.add_argument("--components", default="indexer",
                        help="BONITO_WORKER_COMPONENTS of the worker (default: indexer)")
    args = parser.parse_args()
    burst = bench_settings("lat-burst", worker_components=args.components)
    run = bench_settings("lat-run", indexer_batch_seconds=0.2, worker_components=args.components)
    try:
        await prepare(burst)
        await prepare(run)
        rate = args.rate
        if rate is None:
            top = await max_rate(burst, args.burst)
            rate = top / 2
            print(f"measured max sustained indexing rate: {top:.0f} records/s -> running at {rate:.0f}/s")
        lat = await measure(run, rate, args.seconds, args.probe_every)
        print(f"emit-to-searchable latency over {len(lat)} probes at {rate:.0f} records/s for "
              f"{args.seconds:.0f}s, worker [{args.components}] (ms): {summary(lat)}")
        print("target: p99 <= 2000 ms")
    finally:
        await delete_test_indices(burst)
        await delete_test_indices(run)


if __name__ == "__main__":
    asyncio.run(main())

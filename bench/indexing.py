"""Indexing throughput: our worker (Kafka → searchable) against raw opensearch-py ``async_bulk``.

Same documents in the same run:
  (a) the records are produced to a fresh topic first; then a ``bonito-logs worker``
      process is started and timed from its start until every document is searchable;
  (b) a separate process bulk-loads the same documents with ``async_bulk`` (tuned
      chunk size, a few requests in flight) into another index prefix, refresh included.

Usage: ``python bench/indexing.py [--records 200000]`` with the local stack up.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench._common import bench_settings  # noqa: E402
from bonito_logs.config import Settings  # noqa: E402
from bonito_logs.store import ensure_templates, index_for, make_client, to_document  # noqa: E402
from bonito_logs.streams.app import prepare  # noqa: E402
from tests.integration.support import count_docs, encoded, generate_records, new_orgs, produce  # noqa: E402


def _raw_bulk(settings: Settings, n: int, seed: int, chunk: int, queue) -> None:
    from opensearchpy.helpers import async_bulk

    records = generate_records(n, new_orgs(20), seed=seed)

    async def run() -> float:
        client = make_client(settings)
        await ensure_templates(client, settings)
        actions = ({"_op_type": "index", "_index": index_for(r["timestamp"], settings), "_id": r["id"],
                    "_routing": r["org_id"], "_source": to_document(r)} for r in records)
        start = time.perf_counter()
        ok, errors = 0, []
        # two chunks in flight, as the worker does
        sem = asyncio.Semaphore(2)
        batch: list = []

        async def send(part):
            nonlocal ok
            async with sem:
                done, errs = await async_bulk(client, part, chunk_size=chunk, max_retries=3, raise_on_error=False)
                ok += done
                errors.extend(errs)

        tasks = []
        for action in actions:
            batch.append(action)
            if len(batch) == chunk:
                tasks.append(asyncio.create_task(send(batch)))
                batch = []
        if batch:
            tasks.append(asyncio.create_task(send(batch)))
        await asyncio.gather(*tasks)
        await client.indices.refresh(index=settings.index_pattern)
        elapsed = time.perf_counter() - start
        await client.close()
        assert ok == n and not errors, (ok, errors[:3])
        return elapsed

    queue.put(asyncio.run(run()))


async def ours(settings: Settings, n: int, seed: int) -> float:
    await prepare(settings)
    records = generate_records(n, new_orgs(20), seed=seed)
    await produce(settings, encoded(records))
    env = dict(os.environ)
    env.update(settings.to_env())
    proc = subprocess.Popen([sys.executable, "-m", "bonito_logs.cli", "worker", "-l", "warning"],
                            env=env, cwd=ROOT)
    try:
        # Sustained rate: from the first searchable document to the last, so the
        # process start-up and group join are not counted against the worker.
        while (first := await count_docs(settings)) == 0:
            await asyncio.sleep(0.05)
        start = time.perf_counter()
        while await count_docs(settings) < n:
            await asyncio.sleep(0.1)
        return (time.perf_counter() - start) * n / (n - first)
    finally:
        proc.terminate()
        proc.wait(30)


async def cleanup(*all_settings: Settings) -> None:
    client = make_client(all_settings[0])
    for s in all_settings:
        await client.indices.delete(index=s.index_pattern, ignore_unavailable=True, allow_no_indices=True)
        await client.indices.delete(index=s.meta_prefix + "*", ignore_unavailable=True, allow_no_indices=True)
    await client.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--records", type=int, default=200_000)
    parser.add_argument("--chunk", type=int, default=2_000, help="async_bulk chunk size of the baseline")
    parser.add_argument("--components", default="indexer",
                        help="BONITO_WORKER_COMPONENTS of the measured worker (default: indexer; 'all' "
                             "adds the aggregator, exporter and forwarders to the same process)")
    args = parser.parse_args()
    n, seed = args.records, 31
    ours_settings = bench_settings("idx-ours", worker_components=args.components)
    raw_settings = bench_settings("idx-raw")
    try:
        t_ours = asyncio.run(ours(ours_settings, n, seed))
        q: multiprocessing.Queue = multiprocessing.Queue()
        p = multiprocessing.Process(target=_raw_bulk, args=(raw_settings, n, seed, args.chunk, q))
        p.start()
        t_raw = q.get()
        p.join()
    finally:
        asyncio.run(cleanup(ours_settings, raw_settings))
    a, b = n / t_ours, n / t_raw
    print(f"documents: {n}")
    print(f"(a) bonito worker [{args.components}], Kafka -> searchable: {a:10.0f} docs/s "
          f"({t_ours:.1f} s, first to last searchable)")
    print(f"(b) raw async_bulk chunk={args.chunk:<6}      : {b:10.0f} docs/s ({t_raw:.1f} s)")
    print(f"ratio a/b = {a / b:.2f} (target >= 0.8)")


if __name__ == "__main__":
    main()

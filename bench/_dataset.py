"""The shared 1,000,000-record benchmark data set (query and stats benchmarks).

Built once, through the real path (Kafka topic → worker runtime → OpenSearch and
every other stream worker), under its own fixed names so later runs reuse it:
``python bench/_dataset.py [--records N]`` builds it; benchmarks call
``ensure_dataset()``. Records span 29 days before a fixed end so the retention
chore never touches them and reruns generate the very same records (ids included).
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

from bonito_logs.config import Settings  # noqa: E402
from bonito_logs.streams.app import prepare  # noqa: E402
from tests.integration.support import WorkerProcess, count_docs, encoded, generate_records, produce  # noqa: E402

ORGS = [f"00000000-0000-4000-8000-{i:012d}" for i in range(10)]
SPAN = timedelta(days=29)
CHUNK = 50_000


def dataset_settings() -> Settings:
    return Settings.from_env().replace(
        logs_topic="bench.dataset.logs", dlq_topic="bench.dataset.dlq",
        index_prefix="bench-dataset-logs-", meta_prefix="bench-dataset-",
        indexer_group="bench.dataset.indexer", retention_days=3650, topic_partitions=12,
        worker_id="bench-dataset")


def dataset_end() -> datetime:
    """A fixed end per calendar day: reruns the same day make the same records."""
    today = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    return today


def dataset_records(n: int, chunk_no: int) -> list[dict]:
    start = dataset_end() - SPAN
    size = min(CHUNK, n - chunk_no * CHUNK)
    return generate_records(size, ORGS, seed=1000 + chunk_no, start=start, span=SPAN)


async def ensure_dataset(n: int = 1_000_000, *, quiet: bool = False) -> Settings:
    """Make sure the data set holds ``n`` documents; returns its settings."""
    settings = dataset_settings()
    await prepare(settings)
    if await count_docs(settings) >= n:
        return settings
    say = (lambda *a: None) if quiet else print
    # The worker runs in its own process: generating and encoding records here
    # holds this event loop for seconds at a time, which would starve a
    # consumer's heartbeats if it shared the loop.
    worker = WorkerProcess(settings, "bench-dataset")
    worker.start()
    try:
        started = time.perf_counter()
        for chunk_no in range(-(-n // CHUNK)):
            await produce(settings, encoded(dataset_records(n, chunk_no)))
            say(f"produced {min(n, (chunk_no + 1) * CHUNK)}/{n} "
                f"({time.perf_counter() - started:.0f}s, indexed {await count_docs(settings)})")
        while (done := await count_docs(settings)) < n:
            say(f"indexed {done}/{n}")
            await asyncio.sleep(5)
        await asyncio.sleep(10)  # let the other stream workers (aggregator) drain too
    finally:
        worker.terminate()
    return settings


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--records", type=int, default=1_000_000)
    args = parser.parse_args()
    s = asyncio.run(ensure_dataset(args.records))
    print(f"data set ready: {args.records} records under {s.index_prefix}*")

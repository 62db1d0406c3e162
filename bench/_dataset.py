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
import contextlib
import fcntl
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bonito_logs.config import Settings  # noqa: E402
from bonito_logs.streams.app import prepare  # noqa: E402
from bonito_logs.streams.lag import group_lag, topic_size  # noqa: E402
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


@contextlib.contextmanager
def _build_lock(settings: Settings) -> Iterator[None]:
    """One builder at a time: a second one would produce every record a second time."""
    path = settings.home_path / "bench-dataset.lock"
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


async def ensure_dataset(n: int = 1_000_000, *, quiet: bool = False) -> Settings:
    """Make sure the data set holds ``n`` documents and every stream worker has consumed
    all of it (the aggregator's rollups included); returns its settings."""
    settings = dataset_settings()
    await prepare(settings)
    lock = _build_lock(settings)
    await asyncio.to_thread(lock.__enter__)
    try:
        return await _ensure(settings, n, quiet)
    finally:
        lock.__exit__(None, None, None)


async def _ensure(settings: Settings, n: int, quiet: bool) -> Settings:
    indexed = await count_docs(settings) >= n
    aggregator = settings.aggregator_group_id
    if indexed and await group_lag(settings, aggregator) == 0:
        return settings
    say = (lambda *a: None) if quiet else print
    # The worker runs in its own process: generating and encoding records here
    # holds this event loop for seconds at a time, which would starve a
    # consumer's heartbeats if it shared the loop.
    worker = WorkerProcess(settings, "bench-dataset")
    worker.start()
    try:
        started = time.perf_counter()
        # Chunks already on the topic (an interrupted build) are not produced again.
        first = 0 if indexed else await topic_size(settings) // CHUNK
        for chunk_no in range(first, -(-n // CHUNK) if not indexed else 0):
            await produce(settings, encoded(dataset_records(n, chunk_no)))
            say(f"produced {min(n, (chunk_no + 1) * CHUNK)}/{n} "
                f"({time.perf_counter() - started:.0f}s, indexed {await count_docs(settings)})")
        while (done := await count_docs(settings)) < n:
            say(f"indexed {done}/{n}")
            await asyncio.sleep(5)
        # The aggregator has its own consumer group; on a data set built before it
        # existed it reads the whole topic from the beginning. Wait until it has
        # committed everything (it commits only after its rollups are written).
        while (lag := await group_lag(settings, aggregator)) > 0:
            say(f"aggregator: {lag} records to go ({time.perf_counter() - started:.0f}s)")
            await asyncio.sleep(5)
    finally:
        worker.terminate()
    return settings


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--records", type=int, default=1_000_000)
    args = parser.parse_args()
    s = asyncio.run(ensure_dataset(args.records))
    print(f"data set ready: {args.records} records under {s.index_prefix}*")

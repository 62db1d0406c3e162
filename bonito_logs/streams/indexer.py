"""The indexer: ``bonito.logs`` → OpenSearch, at least once, with a dead-letter topic.

Why a plain aiokafka consumer and not a Faust agent: Faust's ``stream.take()``
acknowledges a batch even when the handler raises, and faust-streaming 0.15 can
commit past an offset that is still in flight (faust-streaming issue #606). Here
the rule is simple enough to check by reading: a batch is fetched, every record
of it is either confirmed by OpenSearch or acknowledged by the dead-letter topic,
and only then are the batch's offsets committed (per partition, last offset + 1).
Until then nothing is committed, so a crash at any point replays the batch, and
documents keyed by the record id make the replay overwrite instead of duplicate.

Retryable failures (OpenSearch down, 429, 5xx) are retried with capped
exponential backoff and jitter, without committing. Permanent ones (undecodable
bytes, unknown schema fingerprint, a document OpenSearch rejects) go to the
dead-letter topic with the reason, and the batch goes on.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

from aiokafka import AIOKafkaConsumer, ConsumerRebalanceListener
from aiokafka.errors import CommitFailedError, IllegalStateError, KafkaError

from bonito_logs.config import Settings
from bonito_logs.errors import BonitoError
from bonito_logs.schemas import decode
from bonito_logs.store import index_for, make_client, to_document
from bonito_logs.store.bulk import BulkItem, BulkUnavailable, Outcome, bulk_index
from bonito_logs.streams.consumer import (
    BATCH_FETCH_MAX_BYTES,
    BATCH_PARTITION_FETCH_BYTES,
    Backoff,
    Fetched,
    Stopping,
    sleep_or_stop,
    start_with_retry,
    worker_consumer,
)
from bonito_logs.streams.dlq import DeadLetter, DeadLetterWriter
from bonito_logs.streams.status import WorkerStatus

log = logging.getLogger(__name__)


class _Revocations(ConsumerRebalanceListener):
    """Lets a batch in flight finish (and commit) before its partitions move away."""

    def __init__(self, agent: IndexerAgent) -> None:
        self.agent = agent

    async def on_partitions_revoked(self, revoked: Any) -> None:
        if not revoked:
            return
        try:
            await asyncio.wait_for(self.agent._batch_lock.acquire(), timeout=self.agent.revoke_wait_s)
        except TimeoutError:
            log.warning("batch still in flight at rebalance; it will be redelivered to the new owner")
            return
        self.agent._batch_lock.release()

    async def on_partitions_assigned(self, assigned: Any) -> None:
        self.agent.status.partitions = sorted(tp.partition for tp in assigned)
        log.info("indexer assigned partitions %s", self.agent.status.partitions)


class IndexerAgent:
    """Consumes the logs topic in batches and bulk-indexes them; see the module docstring."""

    revoke_wait_s = 20.0
    bulk_concurrency = 2

    def __init__(self, settings: Settings, *, status: WorkerStatus | None = None,
                 on_batch: Callable[[int], Awaitable[None]] | None = None) -> None:
        self.settings = settings
        self.status = status or WorkerStatus.for_settings(settings)
        self._on_batch = on_batch
        self._batch_lock = asyncio.Lock()
        self._stopping = asyncio.Event()
        self._consumer: AIOKafkaConsumer | None = None
        self._client = None
        self._dlq: DeadLetterWriter | None = None

    # -- lifecycle -------------------------------------------------------------------
    async def run(self) -> None:
        """Run until ``stop()``; a stop in the middle of a batch leaves it uncommitted."""
        s = self.settings
        self._client = make_client(s)
        self._dlq = DeadLetterWriter(s, self.status)
        self._consumer = worker_consumer(
            s, group_id=s.indexer_group, role="indexer", worker_id=self.status.worker_id,
            max_poll_records=s.indexer_batch_records,
            fetch_max_bytes=BATCH_FETCH_MAX_BYTES,
            max_partition_fetch_bytes=BATCH_PARTITION_FETCH_BYTES,
            session_timeout_ms=10_000,
            heartbeat_interval_ms=3_000,
            max_poll_interval_ms=600_000,
        )
        self._consumer.subscribe([s.logs_topic], listener=_Revocations(self))
        try:
            await start_with_retry(self._consumer, self._stopping, log)
            await self._dlq.start()
            while not self._stopping.is_set():
                batch = await self._fetch()
                if not batch.records:
                    continue
                async with self._batch_lock:
                    batch = self._still_assigned(batch)
                    if not batch.records:
                        continue
                    try:
                        await self._process(batch)
                    except Stopping:
                        break
                    await self._commit(batch)
                if self._on_batch is not None:
                    await self._on_batch(len(batch.records))
        finally:
            await self._shutdown()

    def stop(self) -> None:
        self._stopping.set()

    async def _shutdown(self) -> None:
        for closer in (self._consumer.stop if self._consumer else None,
                       self._dlq.stop if self._dlq else None,
                       self._client.close if self._client else None):
            if closer is None:
                continue
            try:
                await closer()
            except Exception:  # shutting down: report, keep closing the rest
                log.exception("error while shutting down the indexer")

    async def _sleep_or_stop(self, seconds: float) -> None:
        await sleep_or_stop(self._stopping, seconds)

    # -- one batch ----------------------------------------------------------------------
    async def _fetch(self) -> Fetched:
        """Gather up to ``indexer_batch_records`` records, waiting at most ``indexer_batch_seconds``."""
        s = self.settings
        batch = Fetched()
        deadline = time.monotonic() + s.indexer_batch_seconds
        while len(batch.records) < s.indexer_batch_records and not self._stopping.is_set():
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            got = await self._consumer.getmany(
                timeout_ms=max(1, int(remaining * 1000)),
                max_records=s.indexer_batch_records - len(batch.records))
            for tp, records in got.items():
                batch.add(tp, records)
        return batch

    def _still_assigned(self, batch: Fetched) -> Fetched:
        kept = batch.still_assigned(self._consumer.assignment())
        if kept is not batch:
            log.info("dropped %d fetched records of revoked partitions (the new owner reads them)",
                     len(batch.records) - len(kept.records))
        return kept

    async def _process(self, batch: Fetched) -> None:
        items: list[BulkItem] = []
        origins: list[Any] = []
        dead: list[DeadLetter] = []
        for rec in batch.records:
            try:
                record = decode(rec.value)
                item = BulkItem(index_for(record["timestamp"], self.settings), record["id"],
                                record["org_id"], to_document(record))
            except BonitoError as exc:
                self.status.counters["decode_errors"] += 1
                dead.append(DeadLetter.of(rec, f"{exc.code}: {exc}"))
                continue
            except Exception as exc:  # never die on a bad record
                self.status.counters["decode_errors"] += 1
                dead.append(DeadLetter.of(rec, f"undecodable: {type(exc).__name__}: {exc}"))
                continue
            items.append(item)
            origins.append(rec)
        dead.extend(await self._index_all(items, origins))
        if dead:
            await self._dead_letter(dead)

    async def _index_all(self, items: list[BulkItem], origins: list[Any]) -> list[DeadLetter]:
        """Index until every item is stored or rejected; returns dead letters for the rejected."""
        pending = list(range(len(items)))
        dead: list[DeadLetter] = []
        backoff = Backoff()
        while pending:
            chunks = _split(pending, self.bulk_concurrency)
            started = time.perf_counter()
            try:
                answers = await asyncio.gather(
                    *(bulk_index(self._client, [items[i] for i in chunk]) for chunk in chunks))
            except BulkUnavailable as exc:
                self.status.counters["retries"] += 1
                delay = backoff.next_delay()
                log.warning("bulk failed (%s); %d documents retried in %.1fs", exc, len(pending), delay)
                await self._sleep_or_stop(delay)
                continue
            self.status.observe_bulk(len(chunks), time.perf_counter() - started)
            retry: list[int] = []
            for chunk, results in zip(chunks, answers, strict=True):
                for i, result in zip(chunk, results, strict=True):
                    if result.outcome is Outcome.STORED:
                        self.status.counters["records_indexed"] += 1
                    elif result.outcome is Outcome.RETRY:
                        retry.append(i)
                    else:
                        dead.append(DeadLetter.of(
                            origins[i], f"rejected by OpenSearch ({result.status}): {result.reason}"))
            pending = retry
            if pending:
                self.status.counters["retries"] += 1
                delay = backoff.next_delay()
                log.warning("%d documents refused for now (429/5xx); retrying in %.1fs", len(pending), delay)
                await self._sleep_or_stop(delay)
            else:
                backoff.reset()
        return dead

    async def _dead_letter(self, dead: list[DeadLetter]) -> None:
        backoff = Backoff()
        while True:
            try:
                await self._dlq.send_all(dead)
                return
            except KafkaError as exc:
                delay = backoff.next_delay()
                log.warning("dead-letter topic unreachable (%s); retrying in %.1fs", exc, delay)
                await self._sleep_or_stop(delay)

    async def _commit(self, batch: Fetched) -> None:
        offsets = {tp: off + 1 for tp, off in batch.last_offsets.items()}
        try:
            await self._consumer.commit(offsets)
        except (CommitFailedError, IllegalStateError) as exc:
            # The group rebalanced under us: the new owner replays from the last
            # commit, and idempotent document ids make that harmless.
            log.warning("commit refused after a rebalance (%s); batch will be replayed", exc)


def _split(indices: list[int], parts: int) -> list[list[int]]:
    if len(indices) < 200 or parts <= 1:
        return [indices]
    size = -(-len(indices) // parts)
    return [indices[i:i + size] for i in range(0, len(indices), size)]

"""The aggregator: ``bonito.logs`` → per-minute, hour and day rollups, exact under failure.

Like the indexer, a plain aiokafka consumer (own group, ``aggregator_group_id``)
that commits only after its writes are confirmed. What makes the counts exact
rather than at-least-once is where the progress is kept:

* Records are keyed by org id, so every record of an org comes from one
  partition, and every rollup document (all of them are per org) is fed by one
  partition. Each document stores ``offsets``: partition → the last offset
  applied to it. A record is applied to a document only if its offset is above
  that, so a record delivered twice (a replay after a crash, a rebalance) is
  counted once, per document, whatever was or was not written before the crash.
* A batch is applied in memory to the documents it touches (read with mget,
  then cached with their ``_seq_no``/``_primary_term``). Every
  ``aggregator_flush_seconds`` (or when ``aggregator_max_dirty_docs`` changed
  documents pile up) all changed documents are written in bulk, each with
  ``if_seq_no``/``if_primary_term`` (``create`` when new), and only when every
  one is confirmed are the consumed offsets committed.
* A 409 means another writer changed a document since we read it (a consumer that
  took the partition over, or a write of ours whose answer was lost). Then the
  buffer is dropped and the partitions are rewound to the last commit: the
  replay re-reads the documents, and their offsets skip what they already hold.
* A crash at any point leaves committed offsets at or before every record not
  yet written everywhere; the restart replays from there, exactly as above.

Undecodable records are skipped and counted (the indexer dead-letters them; the
aggregator does not send them twice). Records whose month is past
``stats_retention_days`` are skipped too: their rollup index is deleted.
``counters`` (names in ``status.AGGREGATOR_COUNTERS``) go into the worker's
heartbeat, and from there to ``/metrics``.
Faust windows are not used: ``on_window_close`` fires from a wall-clock timer
and drops windows across partitions in faust-streaming 0.15; flushing from the
consumer loop keeps every step under the rules above.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import Counter
from typing import Any

from aiokafka import AIOKafkaConsumer, ConsumerRebalanceListener, TopicPartition
from aiokafka.errors import CommitFailedError, IllegalStateError

from bonito_logs.config import Settings
from bonito_logs.schemas import decode
from bonito_logs.store.bulk import BulkUnavailable
from bonito_logs.store.rollups import RollupStore, make_stats_client
from bonito_logs.streams.consumer import (
    BATCH_FETCH_MAX_BYTES,
    BATCH_PARTITION_FETCH_BYTES,
    Backoff,
    Stopping,
    sleep_or_stop,
    start_with_retry,
    worker_consumer,
)
from bonito_logs.streams.rollup_buffer import RollupBuffer
from bonito_logs.streams.status import WorkerStatus

log = logging.getLogger(__name__)

APPLY_SLICE = 1_000  # records applied between two yields to the event loop
# While catching up (full batches), documents are written this seldom (or at
# aggregator_max_dirty_docs): a backlog in random time order touches every hour
# and day document in every batch, and writing them once per batch would be
# most of the work.
CATCH_UP_FLUSH_S = 30.0


class _Rebalance(ConsumerRebalanceListener):
    """Writes and commits what the agent holds before its partitions move away."""

    def __init__(self, agent: AggregatorAgent) -> None:
        self.agent = agent

    async def on_partitions_revoked(self, revoked: Any) -> None:
        if not revoked:
            return
        agent = self.agent
        try:
            await asyncio.wait_for(agent._lock.acquire(), timeout=agent.revoke_wait_s)
        except TimeoutError:
            # The batch in flight keeps the buffer (its writes are conditional, its
            # commit is refused after the rebalance): the new owner replays exactly.
            log.warning("aggregator batch still in flight at rebalance; the new owner replays it")
            return
        try:
            await asyncio.wait_for(agent._flush_and_commit(retry=False), timeout=agent.revoke_wait_s)
        except Exception as exc:  # noqa: BLE001 - the new owner replays; offsets keep it exact
            log.warning("aggregator could not write before the rebalance (%s); the new owner replays", exc)
        finally:
            agent.buffer.reset()
            agent._consumed.clear()
            agent._lock.release()

    async def on_partitions_assigned(self, assigned: Any) -> None:
        self.agent.buffer.reset()
        self.agent._consumed.clear()
        self.agent.partitions = sorted(tp.partition for tp in assigned)
        self.agent.status.aggregator_partitions = list(self.agent.partitions)
        log.info("aggregator assigned partitions %s", self.agent.partitions)


class AggregatorAgent:
    """Consumes the logs topic and keeps the rollups; see the module docstring."""

    revoke_wait_s = 20.0

    def __init__(self, settings: Settings, *, status: WorkerStatus | None = None) -> None:
        self.settings = settings
        self.status = status or WorkerStatus.for_settings(settings)
        self.counters: Counter[str] = Counter()
        self.partitions: list[int] = []
        self._client = make_stats_client(settings)
        self.store = RollupStore(self._client, settings)
        self.buffer = RollupBuffer(self.store, settings, self.counters)
        self._lock = asyncio.Lock()
        self._stopping = asyncio.Event()
        self._consumer: AIOKafkaConsumer | None = None
        self._consumed: dict[TopicPartition, int] = {}  # next offset, not yet committed
        self._last_flush = time.monotonic()
        self._behind = False  # the last fetch was a full batch: a backlog is being read

    # -- lifecycle ------------------------------------------------------------------------
    async def run(self) -> None:
        s = self.settings
        # Reported in the heartbeat from now on (not before: a process that does not
        # run the aggregator has no aggregator section).
        self.status.aggregator = self.counters
        self._consumer = worker_consumer(
            s, group_id=s.aggregator_group_id, role="aggregator", worker_id=self.status.worker_id,
            max_poll_records=s.aggregator_batch_records,
            fetch_max_bytes=BATCH_FETCH_MAX_BYTES,
            max_partition_fetch_bytes=BATCH_PARTITION_FETCH_BYTES,
            # Applying and writing a backlog is CPU work between awaits; on a busy
            # machine a short session would expire in it and every rebalance drops
            # what is held in memory (it is replayed, exactly, but redone).
            session_timeout_ms=45_000,
            heartbeat_interval_ms=5_000,
            max_poll_interval_ms=600_000,
        )
        self._consumer.subscribe([s.logs_topic], listener=_Rebalance(self))
        housekeeping = asyncio.create_task(self._retention_loop(), name="stats-retention")
        started = False
        try:
            await start_with_retry(self._consumer, self._stopping, log)
            started = True
            while not self._stopping.is_set():
                records = await self._fetch()
                async with self._lock:
                    try:
                        if records:
                            await self._apply(records)
                        if self._flush_due():
                            await self._flush_and_commit()
                    except Stopping:
                        raise
                    except Exception:  # never die: drop what is held, replay from the commit
                        log.exception("aggregator batch failed; rewinding to the last commit")
                        await self._recover()
        except Stopping:
            pass
        finally:
            housekeeping.cancel()
            await asyncio.gather(housekeeping, return_exceptions=True)
            if started:
                await self._final_flush()
            await self._shutdown()

    def stop(self) -> None:
        self._stopping.set()

    async def _final_flush(self) -> None:
        """On a graceful stop, write and commit what is held, without retrying (a
        failure only means a replay on the next start)."""
        try:
            async with self._lock:
                await asyncio.wait_for(self._flush_and_commit(retry=False), timeout=15)
        except Exception as exc:  # noqa: BLE001
            log.warning("aggregator stopped with unwritten rollups (%s); they are replayed on start", exc)

    async def _shutdown(self) -> None:
        for closer in (self._consumer.stop if self._consumer else None, self._client.close):
            if closer is None:
                continue
            try:
                await closer()
            except Exception:  # noqa: BLE001 - shutting down: keep closing the rest
                log.exception("error while shutting down the aggregator")

    async def _sleep_or_stop(self, seconds: float) -> None:
        await sleep_or_stop(self._stopping, seconds)

    async def _retention_loop(self) -> None:
        while True:
            try:
                deleted = await self.store.delete_expired()
                if deleted:
                    log.info("stats retention: deleted %s", ", ".join(deleted))
            except Exception as exc:  # noqa: BLE001 - retried next time
                log.warning("stats retention check failed: %s", exc)
            await asyncio.sleep(self.settings.retention_check_seconds)

    # -- one batch ------------------------------------------------------------------------
    async def _fetch(self) -> list[Any]:
        s = self.settings
        records: list[Any] = []
        deadline = time.monotonic() + s.aggregator_batch_seconds
        while len(records) < s.aggregator_batch_records and not self._stopping.is_set():
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            got = await self._consumer.getmany(timeout_ms=max(1, int(remaining * 1000)),
                                               max_records=s.aggregator_batch_records - len(records))
            for batch in got.values():
                records.extend(batch)
        self._behind = len(records) >= s.aggregator_batch_records
        return records

    async def _apply(self, records: list[Any]) -> None:
        """Apply a fetched batch; its offsets become committable only once all of it is."""
        assigned = self._consumer.assignment()
        items = []
        consumed: dict[TopicPartition, int] = {}
        for rec in records:
            tp = TopicPartition(rec.topic, rec.partition)
            if tp not in assigned:  # revoked while fetched: the new owner reads it
                continue
            try:
                record = decode(rec.value)
            except Exception:  # noqa: BLE001 - never die on a bad record; the indexer dead-letters it
                self.counters["decode_errors"] += 1
            else:
                items.append((rec.partition, rec.offset, record))
            consumed[tp] = rec.offset + 1
        backoff = Backoff()
        for start in range(0, len(items), APPLY_SLICE):
            part = items[start:start + APPLY_SLICE]
            while True:
                try:
                    self.counters["records_applied"] += await self.buffer.apply(part)
                    break
                except BulkUnavailable as exc:
                    delay = backoff.next_delay()
                    log.warning("rollups cannot be read (%s); retrying in %.1fs", exc, delay)
                    await self._sleep_or_stop(delay)
            await asyncio.sleep(0)
        self._consumed.update(consumed)
        self.counters["records_seen"] += len(records)
        if self.buffer.dirty_count >= self.settings.aggregator_max_dirty_docs:
            await self._flush_and_commit()

    def _flush_due(self) -> bool:
        if not self._consumed and not self.buffer.dirty_count:
            return False
        every = CATCH_UP_FLUSH_S if self._behind else self.settings.aggregator_flush_seconds
        return time.monotonic() - self._last_flush >= every

    async def _flush_and_commit(self, *, retry: bool = True) -> None:
        """Write every changed rollup, then commit what was consumed. On a conflict,
        rewind to the last commit instead (see the module docstring)."""
        backoff = Backoff()
        while self.buffer.dirty_count:
            try:
                outcome = await self.buffer.flush()
            except BulkUnavailable as exc:
                if not retry:
                    raise
                delay = backoff.next_delay()
                log.warning("rollups cannot be written (%s); retrying in %.1fs", exc, delay)
                await self._sleep_or_stop(delay)
                continue
            if outcome.conflict:
                await self._rewind()
                return
            if outcome.retry:
                if not retry:
                    raise BulkUnavailable(f"{outcome.retry} rollups refused for now")
                await self._sleep_or_stop(backoff.next_delay())
        self._last_flush = time.monotonic()
        await self._commit()

    async def _commit(self) -> None:
        if not self._consumed:
            return
        offsets = dict(self._consumed)
        try:
            await self._consumer.commit(offsets)
        except (CommitFailedError, IllegalStateError) as exc:
            # Rebalanced under us: the new owner replays, and the offsets in the
            # documents keep the replay from counting anything twice.
            log.warning("aggregator commit refused after a rebalance (%s)", exc)
        for tp, offset in offsets.items():
            if self._consumed.get(tp) == offset:
                del self._consumed[tp]

    async def _recover(self) -> None:
        self.counters["failures"] += 1
        try:
            await self._rewind()
        except Exception as exc:  # noqa: BLE001 - Kafka away: the next fetch will tell
            log.warning("aggregator could not rewind (%s)", exc)
            self.buffer.reset()
            self._consumed.clear()
        await self._sleep_or_stop(Backoff(initial=1.0).next_delay())

    async def _rewind(self) -> None:
        """Drop what is held and go back to the last commit of every assigned partition."""
        self.counters["rewinds"] += 1
        log.warning("rollup changed by another writer; rewinding to the last commit")
        self.buffer.reset()
        self._consumed.clear()
        for tp in self._consumer.assignment():
            committed = await self._consumer.committed(tp)
            if committed is None:
                await self._consumer.seek_to_beginning(tp)
            else:
                self._consumer.seek(tp, committed)

"""The background sender: outbox → Kafka, in order, at least once.

One asyncio task per running ``LogService``. It takes *chunks* of up to
``client_batch_records`` records per partition from the outbox (a failed chunk first, then
memory, then the spool), groups each chunk by partition into aiokafka batches
(``create_batch``/``send_batch`` on an idempotent ``acks=all`` producer) and keeps
up to ``client_inflight_batches`` chunks in flight. Chunks are acknowledged in
order; a spool segment is deleted only once every one of its records is acknowledged.

When a delivery fails, the producer is replaced and every record in flight that
Kafka did not acknowledge goes back, in order, ahead of everything else (a
partition that had a failure has all its later batches resent too, so its order
holds): at-least-once, never a gap; a duplicate only when a batch's fate was
unknown (e.g. the connection dropped before the broker's answer). When Kafka cannot be reached the sender retries every
``client_retry_backoff_s`` while records pile up in memory and then the spool.

Partitioning: the key is the org id and the partition is aiokafka's
``DefaultPartitioner`` (Java-compatible murmur2 of the key modulo the partition
count), computed once per key and cached, so one org's records always share a
partition and keep their order.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Callable
from typing import Any

from aiokafka.partitioner import DefaultPartitioner

from bonito_logs.client.buffer import Outbox
from bonito_logs.client.producer import default_producer_factory, stop_quietly
from bonito_logs.client.spool import Record, Segment, read_segment, sync_fd
from bonito_logs.config import Settings

log = logging.getLogger("bonito_logs.client")

_CHORE_INTERVAL_S = 1.0
_DOWN_LOG_INTERVAL_S = 60.0
_PARTITION_CACHE_MAX = 100_000
_YIELD_EVERY = 2048  # records batched between two yields to the event loop


class DeliveryFailed(Exception):
    pass


class _Chunk:
    __slots__ = ("records", "segment", "own", "done", "batches")

    def __init__(self, records: list[Record], segment: Segment | None, own: bool) -> None:
        self.records = records
        self.segment = segment  # None: taken from memory
        self.own = own  # written by this client (settles a flush)
        self.done: asyncio.Future | None = None  # every batch settled
        # (future or None if never submitted, partition, records in the batch, in order)
        self.batches: list[tuple[asyncio.Future | None, int, list[Record]]] = []


class Sender:
    """One sending session: created by ``LogService.start``, ends on close or cancellation."""

    def __init__(self, settings: Settings, outbox: Outbox, *,
                 producer_factory: Callable[[Settings], Any] | None = None,
                 ensure_topics: bool = False,
                 on_progress: Callable[[], None] | None = None) -> None:
        self.settings = settings
        self.outbox = outbox
        self.topic = settings.logs_topic
        self._factory = producer_factory or default_producer_factory
        self._ensure_topics = ensure_topics
        self._on_progress = on_progress or (lambda: None)
        self.producer: Any = None
        self.connected = False
        self.closing = False
        self.urgent = 0  # pending flush() calls: skip the linger
        self.sent = 0
        self.last_error: str | None = None
        self.inflight: deque[_Chunk] = deque()
        self.retry: deque[_Chunk] = deque()
        self._loaded: list[Record] | None = None
        self._loaded_pos = 0
        self._loaded_seg: Segment | None = None
        # Chunks of each spool segment not yet fully acknowledged; a segment is deleted
        # when its count drops to 0 after its last chunk was cut.
        self._seg_chunks: dict[Segment, int] = {}
        self._partitions: list[int] = []
        self._pcache: dict[bytes, int] = {}
        self._partitioner = DefaultPartitioner()
        self._wake_fut: asyncio.Future | None = None
        self._next_chore = 0.0
        self._down_since: float | None = None
        self._down_logged = 0.0

    # -- control (called on the loop thread) ------------------------------------------
    def wake(self) -> None:
        fut = self._wake_fut
        if fut is not None and not fut.done():
            fut.set_result(None)

    def take_leftovers(self) -> list[Record]:
        """Records taken from memory and not acknowledged, oldest first; forgets them."""
        out: list[Record] = []
        for chunk in (*self.retry, *self.inflight):
            if chunk.segment is None:
                out.extend(chunk.records)
        self.retry.clear()
        self.inflight.clear()
        return out

    @property
    def in_memory_unacked(self) -> int:
        return sum(len(c.records) for c in (*self.retry, *self.inflight) if c.segment is None)

    # -- the task -------------------------------------------------------------------------
    async def run(self) -> None:
        backoff = self.settings.client_retry_backoff_s
        try:
            while True:
                if self.producer is None and not await self._connect():
                    if self.closing:
                        return
                    await self._pause(backoff)
                    continue
                try:
                    if await self._pump():
                        return
                except DeliveryFailed as exc:
                    self._note_down(exc.__cause__ or exc)
                    await self._drop_producer()  # settles every batch still pending
                    self._rewind()
                    if self.closing:
                        return
                    await self._pause(backoff)
        finally:
            await self._drop_producer()
            self._rewind()  # settle what Kafka did acknowledge; the rest is left over
            self.outbox.report_drops(force=True)

    async def _connect(self) -> bool:
        producer = self._factory(self.settings)
        try:
            await producer.start()
            if self._ensure_topics:
                from bonito_logs.client.topics import ensure_topics

                try:
                    await ensure_topics(self.settings)
                except Exception as exc:  # a producer may lack admin rights: not fatal
                    log.debug("ensure_topics failed: %s", exc)
        except BaseException as exc:
            await stop_quietly(producer)
            if not isinstance(exc, Exception):
                raise  # cancelled: stopped cleanly above
            self._note_down(exc)
            return False
        self.producer = producer
        self.connected = True
        if self._down_since is not None:
            log.info("Kafka at %s is reachable again after %.0f s", self.settings.kafka_bootstrap,
                     time.monotonic() - self._down_since)
        self._down_since = None
        self.last_error = None
        return True

    def _note_down(self, exc: BaseException) -> None:
        self.connected = False
        text, kind = str(exc), type(exc).__name__
        self.last_error = text if text.startswith(kind) else f"{kind}: {text}"
        now = time.monotonic()
        if self._down_since is None:
            self._down_since = now
        if now - self._down_logged >= _DOWN_LOG_INTERVAL_S:
            self._down_logged = now
            log.warning("Kafka at %s is not taking records (%s); keeping them in memory, then in "
                        "the spool %s, and retrying every %.1f s", self.settings.kafka_bootstrap,
                        self.last_error, self.settings.spool_path,
                        self.settings.client_retry_backoff_s)

    async def _drop_producer(self) -> None:
        producer, self.producer = self.producer, None
        self.connected = False
        if producer is not None:
            await stop_quietly(producer)

    async def _pause(self, seconds: float) -> None:
        """Sleep between reconnects; close() and flush() cut it short."""
        deadline = time.monotonic() + seconds
        while not self.closing:
            left = deadline - time.monotonic()
            if left <= 0:
                return
            fut = self._fresh_wake()
            await asyncio.wait({fut}, timeout=min(left, _CHORE_INTERVAL_S))
            await self._chores()
            if fut.done():
                return

    def _fresh_wake(self) -> asyncio.Future:
        fut = self._wake_fut
        if fut is None or fut.done():
            fut = self._wake_fut = asyncio.get_running_loop().create_future()
        return fut

    # -- pumping ----------------------------------------------------------------------------
    async def _pump(self) -> bool:
        """Send until closing and drained (True); raises DeliveryFailed."""
        producer = self.producer
        window = max(1, self.settings.client_inflight_batches)
        linger = self.settings.client_linger_ms / 1000
        while True:
            self._reap()
            if time.monotonic() >= self._next_chore:
                await self._chores()
            if len(self.inflight) < window:
                chunk = await self._next_chunk()
                if chunk is not None:
                    await self._send(producer, chunk)
                    continue
                if not self.inflight:
                    if self.closing:
                        return True
                    if await self._idle() and linger and not (self.urgent or self.closing):
                        await asyncio.sleep(linger)  # let a burst gather into one batch
                    continue
                # Records in flight, nothing new: wait for the oldest ack or new records.
                waits = {self.inflight[0].done}
                fut = self._fresh_wake()
                if self.outbox.arm_wait():
                    waits.add(fut)
                else:
                    continue
                await asyncio.wait(waits, timeout=_CHORE_INTERVAL_S,
                                   return_when=asyncio.FIRST_COMPLETED)
            else:
                await asyncio.wait({self.inflight[0].done}, timeout=_CHORE_INTERVAL_S)

    async def _idle(self) -> bool:
        """Wait for records (True when woken by them); also returns for chores and close."""
        fut = self._fresh_wake()
        if not self.outbox.arm_wait():
            return False
        await asyncio.wait({fut}, timeout=_CHORE_INTERVAL_S)
        return fut.done() and not self.closing

    async def _next_chunk(self) -> _Chunk | None:
        if self.retry:
            return self.retry.popleft()
        # client_batch_records per partition batch: a chunk fills one batch per partition.
        n = max(1, self.settings.client_batch_records) * max(1, len(self._partitions))
        while self._loaded is None:
            records = self.outbox.take_memory(n)
            if records:
                return _Chunk(records, None, True)
            seg = self.outbox.next_segment()
            if seg is None:
                return None
            got = await asyncio.to_thread(read_segment, seg.path)
            if got.skipped_bytes:
                log.warning("spool segment %s: skipped %d unreadable byte(s) at its end (%s), "
                            "as left by a crash during a write; %d record(s) before it are sent",
                            seg.path, got.skipped_bytes, got.reason, len(got.records))
            if seg.own and seg.records > len(got.records):
                self.outbox.ack(seg.records - len(got.records))  # lost: do not let flush wait
            if got.records:
                self._loaded, self._loaded_pos, self._loaded_seg = got.records, 0, seg
            else:
                self.outbox.release(seg)
        start = self._loaded_pos
        records = self._loaded[start:start + n]
        self._loaded_pos = start + len(records)
        seg = self._loaded_seg
        self._seg_chunks[seg] = self._seg_chunks.get(seg, 0) + 1
        if self._loaded_pos >= len(self._loaded):
            self._loaded, self._loaded_seg = None, None
        return _Chunk(records, seg, seg.own)

    async def _send(self, producer: Any, chunk: _Chunk) -> None:
        self.inflight.append(chunk)  # first, so a failure below resends it
        topic = self.topic
        batches = chunk.batches = []
        builders: dict[int, tuple[Any, list[Record]]] = {}
        try:
            parts = await producer.partitions_for(topic)
            if len(parts) != len(self._partitions):
                self._partitions = sorted(parts)
                self._pcache.clear()
            cache, partitions, partitioner = self._pcache, self._partitions, self._partitioner
            if len(cache) > _PARTITION_CACHE_MAX:
                cache.clear()
            records = chunk.records
            for start in range(0, len(records), _YIELD_EVERY):
                if start:
                    await asyncio.sleep(0)  # a big chunk must not stall the application's loop
                for record in records[start:start + _YIELD_EVERY]:
                    key, value = record
                    p = cache.get(key)
                    if p is None:
                        p = cache[key] = partitioner(key, partitions, partitions)
                    entry = builders.get(p)
                    if entry is None:
                        entry = builders[p] = (producer.create_batch(), [])
                    if entry[0].append(timestamp=None, key=key, value=value) is None:  # full
                        del builders[p]
                        batches.append((await producer.send_batch(entry[0], topic, partition=p),
                                        p, entry[1]))
                        entry = builders[p] = (producer.create_batch(), [])
                        entry[0].append(timestamp=None, key=key, value=value)
                    entry[1].append(record)
            while builders:
                p, (builder, records) = builders.popitem()
                batches.append((await producer.send_batch(builder, topic, partition=p), p, records))
        except Exception as exc:
            # Whatever was not submitted is resent with the failed batches (see _rewind).
            batches.extend((None, p, records) for p, (_, records) in builders.items())
            raise DeliveryFailed(str(exc)) from exc
        chunk.done = asyncio.gather(*(fut for fut, _, _ in batches), return_exceptions=True)

    def _reap(self) -> None:
        """Settle acknowledged chunks, oldest first; raise on the first failed one."""
        inflight = self.inflight
        progressed = False
        while inflight:
            chunk = inflight[0]
            done = chunk.done
            if done is None or not done.done():
                break
            for result in done.result():
                if isinstance(result, BaseException):
                    raise DeliveryFailed(str(result)) from result
            inflight.popleft()
            self._settle(chunk, len(chunk.records))
            progressed = True
        if progressed:
            self._on_progress()

    def _settle(self, chunk: _Chunk, n: int) -> None:
        self.sent += n
        if chunk.own:
            self.outbox.ack(n)
        seg = chunk.segment
        if seg is not None and n == len(chunk.records):  # this chunk is done
            left = self._seg_chunks[seg] - 1
            if left or seg is self._loaded_seg:  # other chunks pending, or more to cut
                self._seg_chunks[seg] = left
            else:
                del self._seg_chunks[seg]
                self.outbox.release(seg)

    def _rewind(self) -> None:
        """After a failure (and the producer stopped): queue what Kafka did not take, in order.

        Batches Kafka acknowledged are settled; the records of every other batch go
        back, ahead of anything not yet sent. Once a partition had a failed batch,
        its later batches are resent too, so no partition's order is broken.
        """
        chunks = list(self.inflight)
        self.inflight.clear()
        failed_partitions: set[int] = set()
        resend: list[_Chunk] = []
        for chunk in chunks:
            keep: list[Record] = []
            for fut, p, records in chunk.batches:
                ok = (p not in failed_partitions and fut is not None and fut.done()
                      and not fut.cancelled() and fut.exception() is None)
                if not ok:
                    failed_partitions.add(p)
                    keep.extend(records)
            submitted = sum(len(r) for _, _, r in chunk.batches)
            if submitted < len(chunk.records):  # failed before grouping everything
                keep = chunk.records
            acked = len(chunk.records) - len(keep)
            if keep:
                if acked:
                    self._settle(chunk, acked)
                retry = _Chunk(keep, chunk.segment, chunk.own)  # takes over its segment count
                resend.append(retry)
            else:
                self._settle(chunk, acked)
        self.retry.extendleft(reversed(resend))
        if resend:
            log.info("resending %d record(s) Kafka did not acknowledge",
                     sum(len(c.records) for c in resend))
        self._on_progress()

    async def _chores(self) -> None:
        """Periodic: fsync the spool's buffered writes (off the loop), report drops."""
        self._next_chore = time.monotonic() + self.settings.client_spool_fsync_s
        fds = self.outbox.spool_fds_to_sync()
        if fds:
            await asyncio.to_thread(_sync_all, fds)
        self.outbox.report_drops()


def _sync_all(fds: list[int]) -> None:
    for fd in fds:
        sync_fd(fd)

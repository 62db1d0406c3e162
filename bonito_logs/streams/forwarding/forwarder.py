"""One integration's forwarder in one worker: its own consumer group, connector and breaker.

A plain aiokafka consumer in group ``<forward_prefix><id>`` reads the logs topic and the
integration's replay topic. Each fetched chunk is narrowed to the integration's org (the
topic is keyed by org id, so other orgs' records are skipped without decoding; the
decoded ``org_id`` decides) and filters, delivered (``delivery.Delivery``), and only
then are the chunk's offsets committed. A stop or a revocation in the middle leaves the
chunk uncommitted, so it is delivered again (at least once; duplicates are limited to
that chunk).

Where a new integration starts: ``auto_offset_reset="none"``, so a partition without a
committed offset raises instead of silently starting anywhere, and is then positioned at
the logs topic's end offset recorded when the integration was created (``start_offsets``;
a partition created later starts at its beginning; if the API could not read the offsets,
the first offset at or after the creation time). The replay topic starts at its beginning.

Isolation: each forwarder is its own task with its own consumer, HTTP client (through
its connector, with timeouts) and dead-letter producer; nothing is shared with the
indexer or with other forwarders, and a chunk is at most ``forward_batch_records``
records, so a stuck destination holds one chunk and stops fetching.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from datetime import datetime
from typing import Any

from aiokafka import ConsumerRebalanceListener, TopicPartition
from aiokafka.errors import (
    CommitFailedError,
    IllegalStateError,
    KafkaError,
    NoOffsetForPartitionError,
    OffsetOutOfRangeError,
)

from bonito_logs.config import Settings
from bonito_logs.connectors import RetryPolicy
from bonito_logs.forward_topics import ensure_integration_topics, group_id, replay_topic
from bonito_logs.schemas import decode
from bonito_logs.store.integrations import Integration
from bonito_logs.streams.consumer import Fetched, worker_consumer
from bonito_logs.streams.forwarding.controls import ForwarderControls
from bonito_logs.streams.forwarding.delivery import Abandoned, Delivery, Item, Stopping
from bonito_logs.streams.forwarding.state import ForwarderState

log = logging.getLogger(__name__)


class _Rebalance(ConsumerRebalanceListener):
    def __init__(self, forwarder: Forwarder) -> None:
        self.forwarder = forwarder

    async def on_partitions_revoked(self, revoked: Any) -> None:
        fwd = self.forwarder
        if not revoked or not fwd._batch_lock.locked():
            return
        try:  # let a chunk about to finish commit; a stuck one is abandoned, not waited for
            await asyncio.wait_for(fwd._batch_lock.acquire(), timeout=fwd.revoke_wait_s)
        except TimeoutError:
            log.info("integration %s: chunk in flight at rebalance abandoned (its new owner "
                     "delivers it)", fwd.integration.integration_id)
            fwd._abandon.set()
            fwd._wake.set()
            return
        fwd._batch_lock.release()

    async def on_partitions_assigned(self, assigned: Any) -> None:
        fwd = self.forwarder
        fwd.state.partitions = sorted(
            (str(tp.partition) if tp.topic == fwd.settings.logs_topic else "replay") for tp in assigned)


class Forwarder(ForwarderControls):
    """Consumes, selects, delivers (``Delivery``, with this object as its ``Host``), commits."""

    revoke_wait_s = 5.0

    def __init__(self, settings: Settings, integration: Integration,
                 credentials: dict[str, Any] | None, *, worker_id: str, state: ForwarderState,
                 problem: str | None = None) -> None:
        super().__init__(settings, integration, credentials, worker_id=worker_id, state=state,
                         problem=problem)
        self._batch_lock = asyncio.Lock()
        self.replay_topic = replay_topic(settings, integration.integration_id)
        self.policy = RetryPolicy(base=settings.forward_retry_base_s, cap=settings.forward_retry_cap_s)
        self.delivery = Delivery(self, self.policy, state)

    def reconfigure(self, integration: Integration, credentials: dict[str, Any] | None,
                    problem: str | None = None) -> None:
        super().reconfigure(integration, credentials, problem)
        if not self._batch_lock.locked():  # idle: take them now (a delivery takes them between requests)
            pending, self._pending = self._pending, None
            self._install(*pending)

    # -- the consumer loop ------------------------------------------------------------------
    async def run(self) -> None:
        try:
            if not await self._until_ready():
                return
            while not self._stop.is_set():
                await self._apply_pending()  # an idle forwarder takes new settings at once too
                chunk = await self._fetch()
                if not chunk.records:
                    continue
                async with self._batch_lock:
                    self._abandon.clear()
                    chunk = chunk.still_assigned(self._consumer.assignment())
                    if not chunk.records:
                        continue
                    try:
                        await self.checkpoint()  # filters of a reconfiguration apply to this chunk
                        items = self._select(chunk.records)
                        if items:
                            await self.delivery.deliver(items)
                    except Abandoned:
                        continue
                    except Stopping:
                        break
                    await self._commit(chunk)
        finally:
            await self._shutdown()

    async def _until_ready(self) -> bool:
        """Topics, consumer and dead-letter producer started, retrying until they are."""
        s = self.settings
        delay = 0.5
        while not self._stop.is_set():
            try:
                await ensure_integration_topics(s, self.integration.integration_id)
                self._consumer = worker_consumer(
                    s, group_id=group_id(s, self.integration.integration_id), role="fwd",
                    worker_id=self.worker_id,
                    auto_offset_reset="none",  # a partition without a commit is positioned by us
                    max_poll_records=s.forward_batch_records,
                    max_partition_fetch_bytes=s.forward_fetch_bytes,
                    fetch_max_bytes=max(s.forward_fetch_bytes * 4, 4 * 1024 * 1024),
                    session_timeout_ms=10_000, heartbeat_interval_ms=3_000,
                    # A delivery may wait out a long outage between two fetches: membership is
                    # kept by the heartbeat task; a stuck chunk is bounded by the breaker.
                    max_poll_interval_ms=3_600_000,
                )
                self._consumer.subscribe([s.logs_topic, self.replay_topic], listener=_Rebalance(self))
                await self._consumer.start()
                await self._dlq.start()
                return True
            except Exception as exc:  # noqa: BLE001 - Kafka down: keep trying, report it
                log.warning("integration %s: cannot start consuming (%s); retrying in %.1fs",
                            self.integration.integration_id, exc, delay)
                await self._close_consumer()
                await self._dlq.stop()
                await self._apply_pending()
                await self._wait_for_wake(delay)
                delay = min(delay * 2, 10.0)
        return False

    async def _fetch(self) -> Fetched:
        s = self.settings
        chunk = Fetched()
        deadline = time.monotonic() + s.forward_batch_seconds
        while len(chunk.records) < s.forward_batch_records and not self._stop.is_set():
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            try:
                got = await self._consumer.getmany(timeout_ms=max(1, int(remaining * 1000)),
                                                   max_records=s.forward_batch_records - len(chunk.records))
            except NoOffsetForPartitionError as exc:
                await self._position(exc.args[0] if exc.args else None)
                continue
            except OffsetOutOfRangeError as exc:
                await self._out_of_range(exc)
                continue
            except KafkaError as exc:
                log.warning("integration %s: fetch failed (%s)", self.integration.integration_id, exc)
                await self._wait_for_wake(1.0)
                break
            for tp, records in got.items():
                chunk.add(tp, records)
        return chunk

    async def _position(self, tp: Any) -> None:
        """Place a partition that has no committed offset (see the module docstring)."""
        if not isinstance(tp, TopicPartition):
            return
        consumer = self._consumer
        try:
            if tp.topic != self.settings.logs_topic:
                await consumer.seek_to_beginning(tp)
                return
            starts = self.integration.start_offsets
            if starts is not None:
                if str(tp.partition) in starts:
                    consumer.seek(tp, int(starts[str(tp.partition)]))
                else:
                    await consumer.seek_to_beginning(tp)
                return
            created = datetime.fromisoformat((self.integration.created_at or "").replace("Z", "+00:00"))
            found = await consumer.offsets_for_times({tp: int(created.timestamp() * 1000)})
            if found.get(tp) is not None:
                consumer.seek(tp, found[tp].offset)
            else:
                await consumer.seek_to_end(tp)
        except (KafkaError, ValueError) as exc:
            log.warning("integration %s: cannot place %s yet (%s)", self.integration.integration_id, tp, exc)
            await self._wait_for_wake(1.0)

    async def _out_of_range(self, exc: OffsetOutOfRangeError) -> None:
        detail = exc.args[0] if exc.args and isinstance(exc.args[0], dict) else {}
        for tp in detail:
            log.warning("integration %s: committed offset of %s is gone (retention); "
                        "continuing from the oldest record", self.integration.integration_id, tp)
            with contextlib.suppress(KafkaError, IllegalStateError):
                await self._consumer.seek_to_beginning(tp)

    def _select(self, records: list[Any]) -> list[Item]:
        """The records of this org that pass the filters (replayed ones pass unfiltered)."""
        org = self.integration.org_id
        org_key = org.encode()
        items = []
        for rec in records:
            replayed = rec.topic == self.replay_topic
            if not replayed and rec.key is not None and rec.key != org_key:
                continue  # another org's: no need to decode it
            try:
                record = decode(rec.value)
            except Exception:  # noqa: BLE001 - the indexer dead-letters undecodable records
                self.state.count("decode_errors")
                continue
            if record.get("org_id") != org:
                continue
            if replayed or self.filter.matches(record):
                items.append(Item(record, rec, replayed))
        return items

    async def _commit(self, chunk: Fetched) -> None:
        assigned = self._consumer.assignment()
        offsets = {tp: off + 1 for tp, off in chunk.last_offsets.items() if tp in assigned}
        if not offsets:
            return
        try:
            await self._consumer.commit(offsets)
        except (CommitFailedError, IllegalStateError) as exc:
            log.info("integration %s: commit refused after a rebalance (%s); the chunk will be "
                     "delivered again", self.integration.integration_id, exc)
        except KafkaError as exc:  # the next commit covers these offsets too
            log.warning("integration %s: commit failed (%s)", self.integration.integration_id, exc)

    # -- shutdown ---------------------------------------------------------------------------
    async def _close_consumer(self) -> None:
        if self._consumer is not None:
            with contextlib.suppress(Exception):
                await self._consumer.stop()
            self._consumer = None

    async def _shutdown(self) -> None:
        await self._close_consumer()
        with contextlib.suppress(Exception):
            await self._dlq.stop()
        if self.destination is not None:
            self._retired.append(self.destination.connector)
        await self._close_retired()
        self.state.stopped()

"""What the API learns and does about forwarding through Kafka (it never calls the workers).

* ``start_offsets``: the logs topic's end offsets when an integration is created — where
  its forwarders start, so a new integration forwards from "now", not from the beginning.
* ``numbers``: per integration, consumer lag (end offsets − the group's committed offsets),
  records in its dead-letter topic not yet replayed, and replayed records not yet
  delivered; cached for ``api_monitor_cache_s``.
* ``dead_letters``: one page of the dead-letter topic (reason, record id, time, preview).
* ``replay``: copies the dead letters not yet replayed into the integration's replay topic,
  which its forwarders consume in the same group as the logs topic — the same path, the
  same filters-free delivery, the same dead-lettering if they fail again — then moves the
  ``dlq-replayed`` group's offset past them.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import defaultdict
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from bonito_logs import forward_topics as ft
from bonito_logs.config import Settings
from bonito_logs.errors import Unavailable
from bonito_logs.schemas import decode
from bonito_logs.store.integrations import Integration

log = logging.getLogger(__name__)

MAX_REPLAY = 100_000  # dead letters one replay request copies; call again for more
REPLAY_PAGE = 2_000
PREVIEW_CHARS = 200


def _describe(exc: BaseException) -> str:
    return "timed out" if isinstance(exc, TimeoutError) else f"{type(exc).__name__}: {exc}"[:200]


class ForwardingKafka:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._timeout = settings.api_probe_timeout_s
        self._lock = asyncio.Lock()
        self._admin: AIOKafkaAdminClient | None = None
        self._consumer: AIOKafkaConsumer | None = None
        self._producer: AIOKafkaProducer | None = None
        self._cache: dict[str, tuple[float, dict[str, Any]]] = {}
        self._replays: defaultdict[str, asyncio.Lock] = defaultdict(asyncio.Lock)

    # -- clients, started on first use, dropped after a failure ----------------------------
    async def _clients(self) -> tuple[AIOKafkaAdminClient, AIOKafkaConsumer]:
        async with self._lock:
            if self._admin is None:
                admin = AIOKafkaAdminClient(bootstrap_servers=self.settings.kafka_bootstrap,
                                            request_timeout_ms=int(self._timeout * 1000) + 1000,
                                            client_id="bonito-logs-api-forwarding")
                await asyncio.wait_for(admin.start(), self._timeout)
                self._admin = admin
            if self._consumer is None:
                consumer = AIOKafkaConsumer(bootstrap_servers=self.settings.kafka_bootstrap,
                                            group_id=None, enable_auto_commit=False,
                                            client_id="bonito-logs-api-forwarding")
                await asyncio.wait_for(consumer.start(), self._timeout)
                self._consumer = consumer
            return self._admin, self._consumer

    async def _reset(self) -> None:
        async with self._lock:
            clients = (self._admin, self._consumer, self._producer)
            self._admin = self._consumer = self._producer = None
        for client in clients:
            if client is not None:
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(client.close() if hasattr(client, "close") else client.stop(), 5)

    async def aclose(self) -> None:
        await self._reset()

    async def _partitions(self, admin: AIOKafkaAdminClient) -> dict[str, list[int]]:
        # Metadata of all topics: asking for one by name could create it.
        return {t["topic"]: sorted(p["partition"] for p in t["partitions"])
                for t in await admin.describe_topics()}

    # -- where a new integration starts ----------------------------------------------------
    async def start_offsets(self) -> dict[str, int] | None:
        """{partition: end offset} of the logs topic now; {} if it has no partitions yet;
        None when Kafka does not answer (the forwarders then use the creation time)."""
        try:
            admin, consumer = await self._clients()
            partitions = (await asyncio.wait_for(self._partitions(admin), self._timeout)).get(
                self.settings.logs_topic, [])
            tps = [TopicPartition(self.settings.logs_topic, p) for p in partitions]
            ends = await asyncio.wait_for(consumer.end_offsets(tps), self._timeout) if tps else {}
        except Exception as exc:  # noqa: BLE001 - creating still works without Kafka
            log.warning("end offsets of the logs topic unavailable (%s); the integration will start "
                        "at its creation time", _describe(exc))
            await self._reset()
            return None
        return {str(tp.partition): int(offset) for tp, offset in ends.items()}

    # -- lag, dead letters, replays pending -------------------------------------------------
    async def numbers(self, integrations: list[Integration]) -> dict[str, dict[str, Any]]:
        now = time.monotonic()
        out = {i.integration_id: self._cache[i.integration_id][1] for i in integrations
               if i.integration_id in self._cache
               and now - self._cache[i.integration_id][0] < self.settings.api_monitor_cache_s}
        todo = [i for i in integrations if i.integration_id not in out]
        if not todo:
            return out
        try:
            fresh = await asyncio.wait_for(self._numbers(todo), self._timeout * 3)
        except Exception as exc:  # noqa: BLE001 - shown as unknown numbers, with why
            await self._reset()
            unknown = {"consumer_lag": None, "records_in_dlq": None, "replay_pending": None,
                       "kafka_error": _describe(exc)}
            return out | {i.integration_id: unknown for i in todo}
        for iid, numbers in fresh.items():
            self._cache[iid] = (now, numbers)
        return out | fresh

    async def _numbers(self, integrations: list[Integration]) -> dict[str, dict[str, Any]]:
        s = self.settings
        admin, consumer = await self._clients()
        partitions = await self._partitions(admin)
        logs = [TopicPartition(s.logs_topic, p) for p in partitions.get(s.logs_topic, [])]
        singles = [TopicPartition(name, 0) for i in integrations
                   for name in (ft.dlq_topic(s, i.integration_id), ft.replay_topic(s, i.integration_id))
                   if name in partitions]
        wanted = logs + singles
        ends = await consumer.end_offsets(wanted) if wanted else {}
        starts = await consumer.beginning_offsets(singles) if singles else {}

        async def one(integration: Integration) -> tuple[str, dict[str, Any]]:
            iid = integration.integration_id
            done, replayed = await asyncio.gather(
                admin.list_consumer_group_offsets(ft.group_id(s, iid)),
                admin.list_consumer_group_offsets(ft.replayed_group(s, iid)))
            lag = 0
            for tp in logs:
                committed = _offset(done.get(tp))
                if committed is None:  # not started yet: from where it will start
                    first = (integration.start_offsets or {}).get(str(tp.partition))
                    committed = int(first) if first is not None else (
                        0 if integration.start_offsets is not None else ends[tp])
                lag += max(ends[tp] - committed, 0)
            dlq = TopicPartition(ft.dlq_topic(s, iid), 0)
            replay = TopicPartition(ft.replay_topic(s, iid), 0)
            return iid, {
                "consumer_lag": lag,
                "records_in_dlq": _pending(dlq, ends, starts, replayed),
                "replay_pending": _pending(replay, ends, starts, done),
            }

        return dict(await asyncio.gather(*(one(i) for i in integrations)))

    # -- the dead-letter topic --------------------------------------------------------------
    async def dead_letters(self, integration: Integration, *, after: int | None, limit: int,
                           include_replayed: bool) -> dict[str, Any]:
        s = self.settings
        iid = integration.integration_id
        tp = TopicPartition(ft.dlq_topic(s, iid), 0)
        try:
            admin, consumer = await self._clients()
            if tp.topic not in await self._partitions(admin):
                return {"items": [], "pending": 0, "next_after": None}
            begin = (await consumer.beginning_offsets([tp]))[tp]
            end = (await consumer.end_offsets([tp]))[tp]
            replayed = _offset((await admin.list_consumer_group_offsets(
                ft.replayed_group(s, iid), partitions=[tp])).get(tp))
        except Exception as exc:
            await self._reset()
            raise Unavailable(f"Kafka is unavailable: {_describe(exc)}") from exc
        first_pending = max(replayed or 0, begin)
        start = begin if include_replayed else first_pending
        if after is not None:
            start = max(start, after + 1)
        stop = min(end, start + limit)
        items = []
        for rec in await self._read(tp, start, stop):
            headers = ft.header_text(rec.headers)
            items.append({
                "offset": rec.offset, "record_id": headers.get(ft.RECORD_ID),
                "reason": headers.get(ft.REASON), "failed_at": headers.get(ft.FAILED_AT),
                "replayed": rec.offset < first_pending,
                "source": {"topic": headers.get(ft.SOURCE_TOPIC),
                           "partition": _int(headers.get(ft.SOURCE_PARTITION)),
                           "offset": _int(headers.get(ft.SOURCE_OFFSET))},
                "preview": _preview(rec.value),
            })
        last = items[-1]["offset"] if items else None
        return {"items": items, "pending": max(end - first_pending, 0),
                "next_after": last if last is not None and last + 1 < end else None}

    async def _read(self, tp: TopicPartition, start: int, stop: int,
                    group: str | None = None) -> list[Any]:
        """Records of ``tp`` in [start, stop), read with a consumer of their own."""
        if start >= stop:
            return []
        consumer = AIOKafkaConsumer(bootstrap_servers=self.settings.kafka_bootstrap, group_id=group,
                                    enable_auto_commit=False, client_id="bonito-logs-api-dlq")
        out: list[Any] = []
        await consumer.start()
        try:
            consumer.assign([tp])
            consumer.seek(tp, start)
            deadline = time.monotonic() + max(10.0, self._timeout * 5)
            while time.monotonic() < deadline:
                got = await consumer.getmany(tp, timeout_ms=500, max_records=min(5000, stop - start))
                out.extend(r for r in got.get(tp, []) if r.offset < stop)
                if (out and out[-1].offset >= stop - 1) or await consumer.position(tp) >= stop:
                    break
        finally:
            await consumer.stop()
        return out

    # -- replay -------------------------------------------------------------------------------
    async def replay(self, integration: Integration) -> dict[str, int]:
        """Send the dead letters not yet replayed back through the forwarder (see above)."""
        s = self.settings
        iid = integration.integration_id
        dlq = TopicPartition(ft.dlq_topic(s, iid), 0)
        async with self._replays[iid]:
            try:
                await ft.ensure_integration_topics(s, iid, timeout_s=self._timeout * 3)
                admin, consumer = await self._clients()
                begin = (await consumer.beginning_offsets([dlq]))[dlq]
                end = (await consumer.end_offsets([dlq]))[dlq]
                replayed = _offset((await admin.list_consumer_group_offsets(
                    ft.replayed_group(s, iid), partitions=[dlq])).get(dlq))
                start = max(replayed or 0, begin)
                stop = min(end, start + MAX_REPLAY)
                copied = await self._copy(iid, dlq, start, stop)
            except Unavailable:
                raise
            except Exception as exc:
                await self._reset()
                raise Unavailable(f"Kafka is unavailable: {_describe(exc)}") from exc
            self._cache.pop(iid, None)
            return {"replayed": copied, "remaining": max(end - stop, 0)}

    async def _copy(self, iid: str, dlq: TopicPartition, start: int, stop: int) -> int:
        """Copy [start, stop) of the dead-letter topic, a page at a time: each page is
        acknowledged by Kafka before the replay mark moves past it (so memory stays small
        and a failure midway loses nothing; it may copy the last page twice)."""
        if start >= stop:
            return 0
        producer = await self._started_producer()
        target = ft.replay_topic(self.settings, iid)
        reader = AIOKafkaConsumer(bootstrap_servers=self.settings.kafka_bootstrap,
                                  group_id=ft.replayed_group(self.settings, iid),
                                  enable_auto_commit=False, client_id="bonito-logs-api-replay")
        copied = 0
        await reader.start()
        try:
            reader.assign([dlq])
            reader.seek(dlq, start)
            idle_until = time.monotonic() + max(10.0, self._timeout * 5)
            while await reader.position(dlq) < stop and time.monotonic() < idle_until:
                got = await reader.getmany(dlq, timeout_ms=500, max_records=REPLAY_PAGE)
                page = [r for r in got.get(dlq, []) if r.offset < stop]
                if not page:
                    continue
                futures = [await producer.send(target, value=r.value, key=r.key,
                                               headers=[*(r.headers or ()), (ft.REPLAY_OF, str(r.offset).encode())])
                           for r in page]
                await asyncio.gather(*futures)
                await reader.commit({dlq: page[-1].offset + 1})
                copied += len(page)
                idle_until = time.monotonic() + max(10.0, self._timeout * 5)
        finally:
            await reader.stop()
        return copied

    async def _started_producer(self) -> AIOKafkaProducer:
        async with self._lock:
            if self._producer is None:
                producer = AIOKafkaProducer(bootstrap_servers=self.settings.kafka_bootstrap,
                                            acks="all", enable_idempotence=True,
                                            max_request_size=4 * 1024 * 1024,
                                            client_id="bonito-logs-api-replay")
                await asyncio.wait_for(producer.start(), self._timeout * 3)
                self._producer = producer
            return self._producer


def _offset(meta: Any) -> int | None:
    return meta.offset if meta is not None and meta.offset >= 0 else None


def _pending(tp: TopicPartition, ends: dict, starts: dict, committed: dict) -> int:
    if tp not in ends:
        return 0
    done = _offset(committed.get(tp))
    return max(ends[tp] - max(done or 0, starts.get(tp, 0)), 0)


def _int(value: str | None) -> int | None:
    try:
        return int(value) if value is not None else None
    except ValueError:
        return None


def _preview(value: bytes | None) -> dict[str, Any] | None:
    """A few fields of the dead record, the message cut short; None if it cannot be read."""
    try:
        record = decode(value or b"")
    except Exception:  # noqa: BLE001
        return None
    message = record.get("message")
    if isinstance(message, str) and len(message) > PREVIEW_CHARS:
        message = message[:PREVIEW_CHARS] + "…"
    return {"timestamp": record["timestamp"].isoformat().replace("+00:00", "Z"),
            "log_type": record.get("log_type"), "event_type": record.get("event_type"),
            "severity": record.get("severity"), "message": message}

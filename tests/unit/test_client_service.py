"""LogService without a broker: never blocks, spools, replays in order, at least once."""

from __future__ import annotations

import asyncio
import logging
import time
from pathlib import Path

import pytest
from aiokafka.partitioner import DefaultPartitioner

from bonito_logs.client import LogService
from bonito_logs.errors import ValidationError
from tests.unit.test_client_fakes import (
    ORGS,
    FakeBroker,
    fields,
    sent_synchronously,
    unit_settings,
)


def spool_files(settings) -> list[Path]:
    return sorted(Path(settings.spool_path).glob("*/*.seg"))


def assert_in_order_once(broker: FakeBroker, n: int) -> None:
    recs = broker.records()
    ns = [r["metadata"]["n"] for r in recs]
    assert sorted(ns) == list(range(n)), "every record exactly once"
    by_org: dict[str, list[int]] = {}
    for r in recs:
        by_org.setdefault(r["org_id"], []).append(r["metadata"]["n"])
    for org, seq in by_org.items():
        assert seq == sorted(seq), f"org {org} out of order"


async def test_emit_completes_without_suspending_and_returns_the_id(tmp_path):
    broker = FakeBroker()
    service = LogService(unit_settings(tmp_path), producer_factory=broker.factory)
    ids = [sent_synchronously(service.emit(**fields(i))) for i in range(500)]
    assert len(set(ids)) == 500
    assert await service.flush(timeout=5)
    recs = broker.records()
    assert [r["id"] for r in sorted(recs, key=lambda r: r["metadata"]["n"])] == ids
    await service.close()
    assert service.stats().sent == 500


async def test_one_org_one_partition_by_murmur2_of_the_key(tmp_path):
    broker = FakeBroker(partitions=7)
    service = LogService(unit_settings(tmp_path), producer_factory=broker.factory)
    for i in range(400):
        await service.emit(**fields(i))
    assert await service.flush(timeout=5)
    await service.close()
    partitioner = DefaultPartitioner()
    for rec in broker.records():
        key = rec["org_id"].encode()
        assert rec["_key"] == key
        assert rec["_partition"] == partitioner(key, list(range(7)), list(range(7)))
    assert_in_order_once(broker, 400)


def test_murmur2_partitioner_matches_the_java_client():
    # Reference values computed by Kafka's Java DefaultPartitioner (Utils.murmur2).
    p = DefaultPartitioner()
    parts = list(range(1000))
    expected = {b"": 681, b"a": 524, b"ab": 434, b"abc": 107, b"123456789": 566, b"\x00 ": 742}
    assert {k: p(k, parts, parts) for k in expected} == expected


async def test_validation_error_raises_in_emit(tmp_path):
    service = LogService(unit_settings(tmp_path), producer_factory=FakeBroker().factory)
    with pytest.raises(ValidationError) as err:
        await service.emit(org_id=ORGS[0], log_type="gateway", event_type="request", severity="loud")
    assert err.value.field == "severity"
    with pytest.raises(ValidationError) as err:
        await service.emit(log_type="gateway", event_type="request", severity="info")
    assert (err.value.field, err.value.rule) == ("org_id", "is required")
    assert service.stats().emitted == 0
    await service.close()


async def test_unreachable_broker_emit_is_fast_and_close_spools(tmp_path):
    """Real aiokafka against a port nobody listens on."""
    settings = unit_settings(tmp_path)
    service = LogService(settings)
    await service.start()
    await asyncio.sleep(0.1)  # the sender has tried and failed to connect
    started = time.perf_counter()
    for i in range(2000):
        sent_synchronously(service.emit(**fields(i)))
    assert time.perf_counter() - started < 2.0  # generous: no network in there
    stats = service.stats()
    assert stats.buffered == 2000 and not stats.connected and stats.last_error
    assert not await service.flush(timeout=0.2)
    await service.close(timeout=1)
    assert spool_files(settings), "close() spooled what Kafka never took"
    assert service.stats().spooled == 2000

    # A new client with the same spool replays everything, in order, exactly once.
    broker = FakeBroker()
    replay = LogService(settings, producer_factory=broker.factory)
    await replay.start()
    assert await replay.flush(timeout=5)
    await replay.close()
    assert_in_order_once(broker, 2000)
    assert spool_files(settings) == []


async def test_overflow_spills_to_spool_and_replays_in_order_when_kafka_returns(tmp_path):
    settings = unit_settings(tmp_path, client_buffer_records=50, client_batch_records=20)
    broker = FakeBroker(down=True)
    service = LogService(settings, producer_factory=broker.factory)
    for i in range(300):
        await service.emit(**fields(i))
    stats = service.stats()
    assert stats.buffered == 50 and stats.spooled == 250
    assert spool_files(settings)
    broker.down = False  # Kafka is back: the sender reconnects after the backoff
    assert await service.flush(timeout=5)
    assert_in_order_once(broker, 300)
    # New records go to memory again once the spool is drained and deleted.
    assert spool_files(settings) == []
    await service.emit(**fields(300))
    assert service.stats().spooled == 250
    await service.close()
    assert_in_order_once(broker, 301)


async def test_close_with_kafka_down_keeps_memory_before_spool(tmp_path):
    """Memory holds the oldest records: on close they are written ahead of the spool's segments."""
    settings = unit_settings(tmp_path, client_buffer_records=30)
    service = LogService(settings, producer_factory=FakeBroker(down=True).factory)
    for i in range(100):
        await service.emit(**fields(i))
    await service.close(timeout=0.5)
    broker = FakeBroker()
    replay = LogService(settings, producer_factory=broker.factory)
    for i in range(100, 120):  # new records queue behind the replayed ones
        await replay.emit(**fields(i))
    assert await replay.flush(timeout=5)
    await replay.close()
    assert [r["metadata"]["n"] for r in broker.records() if r["org_id"] == ORGS[0]] == \
        list(range(0, 120, len(ORGS)))
    assert_in_order_once(broker, 120)


async def test_failed_batches_are_resent_in_order(tmp_path):
    settings = unit_settings(tmp_path, client_batch_records=25, client_inflight_batches=4)
    broker = FakeBroker()
    broker.fail_batches = 3
    service = LogService(settings, producer_factory=broker.factory)
    for i in range(500):
        await service.emit(**fields(i))
    assert await service.flush(timeout=5)
    await service.close()
    assert broker.producers >= 2  # a failure replaces the producer
    assert_in_order_once(broker, 500)


async def test_spool_segment_is_deleted_only_after_kafka_acknowledges(tmp_path):
    settings = unit_settings(tmp_path)
    first = LogService(settings, producer_factory=FakeBroker(down=True).factory)
    for i in range(10):
        await first.emit(**fields(i))
    await first.close(timeout=0.2)
    (segment,) = spool_files(settings)

    broker = FakeBroker()
    broker.hold = True
    replay = LogService(settings, producer_factory=broker.factory)
    await replay.start()
    for _ in range(100):
        if broker.held:
            break
        await asyncio.sleep(0.01)
    assert broker.held, "the replay was sent"
    assert segment.exists(), "not deleted before the acknowledgement"
    assert not await replay.flush(timeout=0.1)
    broker.release()
    assert await replay.flush(timeout=5)
    assert not segment.exists()
    await replay.close()
    assert_in_order_once(broker, 10)


async def test_drops_when_the_spool_is_full(tmp_path, caplog):
    caplog.set_level(logging.WARNING, logger="bonito_logs.client")
    settings = unit_settings(tmp_path, client_buffer_records=10, client_spool_max_bytes=4000,
                             client_drop_report_interval_s=60)
    service = LogService(settings, producer_factory=FakeBroker(down=True).factory)
    for i in range(200):
        await service.emit(**fields(i))  # never raises, never blocks
    stats = service.stats()
    assert stats.emitted == 200
    assert stats.dropped > 0
    assert stats.buffered + stats.spooled + stats.dropped == 200
    assert len([r for r in caplog.records if "dropped" in r.getMessage()]) == 1
    await service.close(timeout=0.2)


async def test_emit_nowait_from_threads_while_the_loop_runs(tmp_path):
    broker = FakeBroker()
    service = LogService(unit_settings(tmp_path), producer_factory=broker.factory)
    await service.start()

    def work(t: int) -> None:
        for i in range(t * 250, (t + 1) * 250):
            service.emit_nowait(**fields(i, org=ORGS[t]))

    await asyncio.gather(*(asyncio.to_thread(work, t) for t in range(4)))
    assert await service.flush(timeout=5)
    await service.close()
    assert_in_order_once(broker, 1000)


async def test_service_restarts_after_close(tmp_path):
    broker = FakeBroker()
    service = LogService(unit_settings(tmp_path), producer_factory=broker.factory)
    await service.emit(**fields(0))
    await service.close()
    await service.emit(**fields(1))
    assert await service.flush(timeout=5)
    await service.close()
    assert_in_order_once(broker, 2)


async def test_segment_outlives_a_later_acknowledged_chunk_until_its_failed_one_is_resent(tmp_path):
    """Chunk A (partition a) fails while chunk B of the same segment (partition b) succeeds:
    the segment must stay on disk until A's records are acknowledged too."""
    partitioner = DefaultPartitioner()
    parts = [0, 1]
    org_a = next(o for o in ORGS if partitioner(o.encode(), parts, parts) == 0)
    org_b = next(o for o in ORGS if partitioner(o.encode(), parts, parts) == 1)
    settings = unit_settings(tmp_path, client_batch_records=5, client_inflight_batches=4)
    first = LogService(settings, producer_factory=FakeBroker(down=True).factory)
    for i in range(5):
        await first.emit(**fields(i, org=org_a))
    for i in range(5, 15):
        await first.emit(**fields(i, org=org_b))
    await first.close(timeout=0.2)
    (segment,) = spool_files(settings)

    broker = FakeBroker(partitions=2)
    broker.hold = True
    replay = LogService(settings, producer_factory=broker.factory)
    await replay.start()

    async def until_held(n: int) -> None:
        for _ in range(1000):
            if len(broker.held) >= n:
                return
            await asyncio.sleep(0.01)
        raise AssertionError(f"expected {n} held batches, got {len(broker.held)}")

    await until_held(2)  # chunk A (org_a, 5 records) and chunk B (org_b, 10 records)
    broker.release(fail_partitions={0})  # A fails, B is acknowledged
    await until_held(1)  # A is resent
    assert broker.count() == 10  # B's records are in
    assert segment.exists(), "deleted while chunk A was not acknowledged"
    broker.release()
    assert await replay.flush(timeout=5)
    assert not segment.exists()
    await replay.close()
    assert_in_order_once(broker, 15)

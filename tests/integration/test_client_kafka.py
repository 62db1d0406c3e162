"""The client against the real Kafka started by ``bonito-logs stack up``."""

from __future__ import annotations

import asyncio
import random
import socket
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from aiokafka import AIOKafkaConsumer
from aiokafka.admin import AIOKafkaAdminClient

from bonito_logs.client import LogService, ensure_topics
from bonito_logs.config import Settings
from bonito_logs.schemas import build_record, decode

pytestmark = pytest.mark.timeout(300)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def record_fields(n: int, orgs: list[str], seed: int = 3) -> list[dict]:
    """Varied valid records; metadata.seq numbers each org's records in emit order."""
    rng = random.Random(seed)
    start = datetime(2025, 3, 1, tzinfo=UTC)
    seq = dict.fromkeys(orgs, 0)
    out = []
    for i in range(n):
        org = orgs[i % len(orgs)]
        seq[org] += 1
        out.append({
            "org_id": org,
            "log_type": rng.choice(("gateway", "agent", "auth", "admin", "kb", "deployment", "billing")),
            "event_type": rng.choice(("request", "login", "search", "tool_call", "error")),
            "severity": rng.choice(("debug", "info", "warn", "error", "critical")),
            "timestamp": start + timedelta(microseconds=rng.randrange(10**12)),
            "trace_id": f"trace-{rng.randrange(1000)}" if rng.random() < 0.6 else None,
            "user_id": f"user-{rng.randrange(50)}" if rng.random() < 0.8 else None,
            "resource_id": f"res-{i}" if rng.random() < 0.5 else None,
            "resource_type": rng.choice(("model", "kb", "agent", None)),
            "action": rng.choice(("create", "read", "update", "delete", "execute", "search", None)),
            "metadata": {"seq": seq[org], "i": i, "tags": ["a", "b"][: rng.randrange(3)]},
            "duration_ms": round(rng.uniform(0, 9000), 3) if rng.random() < 0.7 else None,
            "cost": round(rng.uniform(0, 2), 6) if rng.random() < 0.5 else None,
            "message": f"record {i} ünïcødé ✓" if rng.random() < 0.9 else None,
        })
    return out


async def consume_all(settings: Settings, expected: int, timeout_s: float = 120.0) -> list:
    consumer = AIOKafkaConsumer(settings.logs_topic, bootstrap_servers=settings.kafka_bootstrap,
                                auto_offset_reset="earliest", enable_auto_commit=False,
                                group_id=None)
    await consumer.start()
    out = []
    try:
        deadline = time.monotonic() + timeout_s
        quiet_until = None
        while time.monotonic() < deadline:
            got = await consumer.getmany(timeout_ms=500, max_records=10_000)
            for msgs in got.values():
                out.extend(msgs)
            if len(out) >= expected:
                # Keep reading briefly: duplicates would show up here.
                quiet_until = quiet_until or time.monotonic() + 1.0
                if time.monotonic() >= quiet_until:
                    break
    finally:
        await consumer.stop()
    return out


async def delete_topics(settings: Settings) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap)
    await admin.start()
    try:
        await admin.delete_topics([settings.logs_topic, settings.dlq_topic])
    except Exception:  # best effort
        pass
    finally:
        await admin.close()


@pytest.fixture
async def topic(settings):
    await ensure_topics(settings)
    yield settings
    await delete_topics(settings)


def assert_per_org_order(messages) -> None:
    partitions: dict[str, set[int]] = {}
    seqs: dict[str, list[int]] = {}
    for msg in sorted(messages, key=lambda m: (m.partition, m.offset)):
        rec = decode(msg.value)
        assert msg.key == rec["org_id"].encode()
        partitions.setdefault(rec["org_id"], set()).add(msg.partition)
        seqs.setdefault(rec["org_id"], []).append(rec["metadata"]["seq"])
    for org, parts in partitions.items():
        assert len(parts) == 1, f"org {org} spread over partitions {parts}"
    for org, seq in seqs.items():
        assert seq == list(range(1, len(seq) + 1)), f"org {org} out of order"


async def test_ensure_topics_is_idempotent(topic):
    settings = topic
    assert await ensure_topics(settings) == []
    admin = AIOKafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap)
    await admin.start()
    try:
        (desc,) = await admin.describe_topics([settings.logs_topic])
        assert len(desc["partitions"]) == settings.topic_partitions
        assert settings.dlq_topic in await admin.list_topics()
    finally:
        await admin.close()


async def test_20k_records_50_orgs_arrive_once_decoded_and_partitioned_by_org(topic):
    settings = topic
    orgs = [str(uuid.uuid4()) for _ in range(50)]
    fields = record_fields(20_000, orgs)
    service = LogService(settings)
    expected = {}
    for f in fields:
        rid = await service.emit(**f)
        expected[rid] = build_record(**f, id=rid)
    assert len(expected) == 20_000
    assert await service.flush(timeout=120)
    stats = service.stats()
    await service.close()
    assert stats.sent == 20_000 and stats.dropped == 0 and stats.spooled == 0

    messages = await consume_all(settings, 20_000)
    ids = [decode(m.value)["id"] for m in messages]
    assert len(ids) == len(set(ids)) == 20_000, "every record exactly once"
    for msg in messages:
        rec = decode(msg.value)
        assert rec == expected[rec["id"]]
    assert_per_org_order(messages)
    assert len({m.partition for m in messages}) > 1


async def test_kafka_down_then_replay_from_the_spool(topic):
    settings = topic
    down = settings.replace(kafka_bootstrap=f"127.0.0.1:{free_port()}")
    orgs = [str(uuid.uuid4()) for _ in range(20)]
    fields = record_fields(5_000, orgs, seed=5)

    service = LogService(down)
    await service.start()
    await asyncio.sleep(0.2)  # the sender has tried to connect and failed
    ids = []
    for f in fields:
        coro = service.emit(**f)
        try:
            coro.send(None)  # one step: emit must complete without suspending
        except StopIteration as done:
            ids.append(done.value)
        else:
            coro.close()
            pytest.fail("emit suspended: it awaited I/O")
    stats = service.stats()
    assert stats.emitted == 5_000 and not stats.connected and stats.sent == 0
    await service.close(timeout=1)
    assert list(Path(down.spool_path).glob("*/*.seg")), "close() spooled the records"

    # Same spool folder (same home), real broker: everything replays, once, in order.
    replay = LogService(settings)
    await replay.start()
    assert await replay.flush(timeout=120)
    await replay.close()
    assert replay.stats().sent == 5_000
    assert list(Path(settings.spool_path).glob("*/*.seg")) == []

    messages = await consume_all(settings, 5_000)
    got = [decode(m.value)["id"] for m in messages]
    assert len(got) == 5_000 and set(got) == set(ids)
    assert_per_org_order(messages)

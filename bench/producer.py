"""Client emit throughput and latency against raw aiokafka, measured in the same run.

    .venv/bin/python bench/producer.py [--records 100000] [--orgs 50]

Needs the local Kafka (``bonito-logs stack up``). On the same records:

(a) ``LogService.emit`` for every record, then ``flush()``: records/s, end to end
    (validation + Avro encoding + queueing + sending until Kafka acknowledged all);
(b) raw ``AIOKafkaProducer`` sending the same pre-encoded bytes with the same
    settings (idempotent, acks=all, linger, batch size, compression):
    ``send()`` per record, then gather every future;

then the ratio a/b (target >= 0.85) and emit call latency p50/p99 in µs
(``perf_counter_ns`` around each ``await emit``) with the broker up and with an
unreachable bootstrap address (down: latency only; target p99 <= 50 µs).
Each topic is created fresh for the run and deleted afterwards.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import random
import socket
import sys
import tempfile
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from aiokafka import AIOKafkaProducer  # noqa: E402
from aiokafka.admin import AIOKafkaAdminClient  # noqa: E402

from bonito_logs.client import LogService, ensure_topics  # noqa: E402
from bonito_logs.client.sender import compression_for  # noqa: E402
from bonito_logs.config import Settings  # noqa: E402
from bonito_logs.schemas import build_record, encode  # noqa: E402


def make_fields(n: int, orgs: int, seed: int = 11) -> list[dict]:
    rng = random.Random(seed)
    org_ids = [str(uuid.UUID(int=rng.getrandbits(128), version=4)) for _ in range(orgs)]
    models = ("gpt-4o", "claude-3-5-sonnet", "llama-3-70b")
    out = []
    for i in range(n):
        ok = rng.random() < 0.9
        out.append({
            "org_id": org_ids[i % orgs], "log_type": "gateway",
            "event_type": "request" if ok else "error", "severity": "info" if ok else "error",
            "trace_id": f"trace-{i // 4}", "user_id": f"user-{rng.randrange(200)}",
            "resource_id": rng.choice(models), "resource_type": "model", "action": "execute",
            "metadata": {"provider": "openai", "status": 200 if ok else 500,
                         "input_tokens": rng.randrange(2000), "output_tokens": rng.randrange(800)},
            "duration_ms": round(rng.uniform(5, 3000), 3), "cost": round(rng.uniform(0, 0.05), 6),
            "message": f"POST via openai -> {200 if ok else 500}",
        })
    return out


def percentile(sorted_ns: list[int], q: float) -> float:
    return sorted_ns[min(len(sorted_ns) - 1, int(q * len(sorted_ns)))] / 1000


async def timed_emits(service: LogService, fields: list[dict]) -> list[int]:
    lat = []
    append, clock, emit = lat.append, time.perf_counter_ns, service.emit
    for f in fields:
        t = clock()
        await emit(**f)
        append(clock() - t)
    return lat


async def run_client(settings: Settings, fields: list[dict]) -> tuple[float, list[int]]:
    service = LogService(settings)
    await service.emit(**fields[0])  # warm up: connect and learn partitions outside the clock
    assert await service.flush(timeout=60), "warm-up record not acknowledged"
    gc.collect()
    t0 = time.perf_counter()
    lat = await timed_emits(service, fields)
    assert await service.flush(timeout=300), "client did not flush"
    elapsed = time.perf_counter() - t0
    stats = service.stats()
    await service.close()
    assert stats.dropped == 0 and stats.sent == len(fields) + 1, stats
    return len(fields) / elapsed, sorted(lat)


async def run_raw(settings: Settings, encoded: list[tuple[bytes, bytes]]) -> float:
    producer = AIOKafkaProducer(
        bootstrap_servers=settings.kafka_bootstrap, enable_idempotence=True, acks="all",
        linger_ms=settings.client_linger_ms, max_batch_size=settings.client_max_batch_bytes,
        compression_type=compression_for(settings.client_compression))
    await producer.start()
    try:
        topic = settings.logs_topic
        await (await producer.send(topic, encoded[0][1], key=encoded[0][0]))  # warm up
        gc.collect()
        t0 = time.perf_counter()
        futures = [await producer.send(topic, value, key=key) for key, value in encoded]
        await asyncio.gather(*futures)
        return len(encoded) / (time.perf_counter() - t0)
    finally:
        await producer.stop()


async def run_down(settings: Settings, fields: list[dict]) -> list[int]:
    service = LogService(settings)
    await service.start()
    gc.collect()
    lat = await timed_emits(service, fields)
    await service.close(timeout=0)
    return sorted(lat)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--records", type=int, default=100_000)
    parser.add_argument("--orgs", type=int, default=50)
    args = parser.parse_args()

    run = uuid.uuid4().hex[:8]
    base = Settings.from_env()
    tmp = Path(tempfile.mkdtemp(prefix="bonito-bench-"))
    client_settings = base.replace(logs_topic=f"bench.{run}.client", dlq_topic=f"bench.{run}.dlq",
                                   home=str(tmp / "up"))
    raw_settings = client_settings.replace(logs_topic=f"bench.{run}.raw")
    down_settings = client_settings.replace(kafka_bootstrap=f"127.0.0.1:{free_port()}",
                                            home=str(tmp / "down"))
    fields = make_fields(args.records, args.orgs)
    encoded = [(f["org_id"].encode(), encode(build_record(**f))) for f in fields]

    await ensure_topics(client_settings)
    await ensure_topics(raw_settings)
    print(f"{args.records} records, {args.orgs} orgs, {base.topic_partitions} partitions, "
          f"compression={compression_for(base.client_compression) or 'none'}, "
          f"linger={base.client_linger_ms} ms, batch={base.client_max_batch_bytes} bytes, "
          f"{len(encoded[0][1])}-byte records")
    try:
        raw_rate = await run_raw(raw_settings, encoded)
        client_rate, up_lat = await run_client(client_settings, fields)
        down_lat = await run_down(down_settings, fields)
        spill = down_settings.replace(client_buffer_records=1000, home=str(tmp / "spill"))
        spill_lat = await run_down(spill, fields)
    finally:
        admin = AIOKafkaAdminClient(bootstrap_servers=base.kafka_bootstrap)
        await admin.start()
        try:
            await admin.delete_topics([client_settings.logs_topic, raw_settings.logs_topic,
                                       client_settings.dlq_topic])
        finally:
            await admin.close()

    print(f"(a) client emit + flush : {client_rate:12,.0f} records/s")
    print(f"(b) raw aiokafka send   : {raw_rate:12,.0f} records/s")
    print(f"    ratio a/b           : {client_rate / raw_rate:12.2f}   (target >= 0.85)")
    for label, lat in (("broker up", up_lat), ("broker down (memory)", down_lat),
                       ("broker down (spooling)", spill_lat)):
        print(f"emit latency, {label:<22}: p50 {percentile(lat, 0.50):6.1f} µs   "
              f"p99 {percentile(lat, 0.99):6.1f} µs   (target p99 <= 50)")
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))

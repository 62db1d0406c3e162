"""Client emit throughput and latency against raw aiokafka, measured in the same run.

    .venv/bin/python bench/producer.py [--records 100000] [--orgs 50]

Needs the local Kafka (``bonito-logs stack up``). On the same records:

(a) ``LogService.emit`` for every record, then ``flush()``: records/s, end to end
    (validation + Avro encoding + queueing + sending until Kafka acknowledged all);
(b) raw ``AIOKafkaProducer`` sending the same pre-encoded bytes with the same
    settings (idempotent, acks=all, linger, batch size, compression):
    ``send()`` per record, then gather every future;

then the ratio a/b (target >= 0.85) and emit call latency p50/p99 in µs
(``perf_counter_ns`` around each ``await emit``; also the calling thread's CPU
time, ``thread_time_ns``, which leaves out time the OS gave to other processes)
with the broker up and with an
unreachable bootstrap address (down: latency only; target p99 <= 50 µs), both
while records fit in memory and while they spill to the spool. A control line
times a fixed pure-Python loop of similar length the same way: its p99/p50 is
the jitter the machine itself adds.

The machine is shared (2 cores): each measurement runs ``--rounds`` times,
alternating (a) and (b), and the best round of each is reported next to the
median; CPU time per record (this process only) is printed too, as it is far
less sensitive to other processes than wall time. The records are prepared
before the clock starts and frozen out of the garbage collector's reach
(``gc.freeze``), so the collector only sees what the client allocates.
Each topic is created fresh for the run and deleted afterwards.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import os
import random
import shutil
import socket
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from aiokafka import AIOKafkaProducer  # noqa: E402
from aiokafka.admin import AIOKafkaAdminClient  # noqa: E402

from bonito_logs.client import LogService, ensure_topics  # noqa: E402
from bonito_logs.client.producer import compression_for  # noqa: E402
from bonito_logs.config import Settings  # noqa: E402
from bonito_logs.schemas import build_record, encode  # noqa: E402

SETTLE_S = 3.0  # pause before each timed run: the broker finishes the previous one's work


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


async def timed_emits(service: LogService, fields: list[dict]) -> tuple[list[int], list[int]]:
    """Wall (perf_counter_ns) and CPU (thread_time_ns) nanoseconds of each emit call."""
    wall, cpu = [], []
    add_wall, add_cpu = wall.append, cpu.append
    clock, cpu_clock, emit = time.perf_counter_ns, time.thread_time_ns, service.emit
    for f in fields:
        c = cpu_clock()
        t = clock()
        await emit(**f)
        t2 = clock()
        add_cpu(cpu_clock() - c)
        add_wall(t2 - t)
    return wall, cpu


def control_latency(n: int) -> tuple[list[int], list[int]]:
    """The machine's own jitter: a fixed pure-Python loop (about one emit's work), timed the same way."""
    wall, cpu = [], []
    clock, cpu_clock = time.perf_counter_ns, time.thread_time_ns
    for _ in range(n):
        c = cpu_clock()
        t = clock()
        s = 0
        for i in range(300):
            s += i
        t2 = clock()
        cpu.append(cpu_clock() - c)
        wall.append(t2 - t)
    return sorted(wall), sorted(cpu)


class Rate:
    def __init__(self, n: int, wall: float, cpu: float) -> None:
        self.per_s = n / wall
        self.cpu_us = cpu / n * 1e6


async def run_client(settings: Settings, fields: list[dict]) -> tuple[Rate, tuple[list[int], list[int]]]:
    service = LogService(settings)
    await service.emit(**fields[0])  # warm up: connect and learn partitions outside the clock
    assert await service.flush(timeout=60), "warm-up record not acknowledged"
    gc.collect()
    t0, c0 = time.perf_counter(), time.process_time()
    lat = await timed_emits(service, fields)
    assert await service.flush(timeout=300), "client did not flush"
    rate = Rate(len(fields), time.perf_counter() - t0, time.process_time() - c0)
    stats = service.stats()
    await service.close()
    assert stats.dropped == 0 and stats.sent == len(fields) + 1, stats
    return rate, (sorted(lat[0]), sorted(lat[1]))


async def run_raw(settings: Settings, encoded: list[tuple[bytes, bytes]]) -> Rate:
    producer = AIOKafkaProducer(
        bootstrap_servers=settings.kafka_bootstrap, enable_idempotence=True, acks="all",
        linger_ms=settings.client_linger_ms, max_batch_size=settings.client_max_batch_bytes,
        compression_type=compression_for(settings.client_compression))
    await producer.start()
    try:
        topic = settings.logs_topic
        await (await producer.send(topic, encoded[0][1], key=encoded[0][0]))  # warm up
        gc.collect()
        t0, c0 = time.perf_counter(), time.process_time()
        futures = [await producer.send(topic, value, key=key) for key, value in encoded]
        await asyncio.gather(*futures)
        return Rate(len(encoded), time.perf_counter() - t0, time.process_time() - c0)
    finally:
        await producer.stop()


async def run_down(settings: Settings, fields: list[dict]) -> tuple[list[int], list[int]]:
    service = LogService(settings)
    await service.start()
    await asyncio.sleep(0.2)  # let it fail to connect first
    gc.collect()
    lat = await timed_emits(service, fields)
    await service.close(timeout=0)
    return sorted(lat[0]), sorted(lat[1])


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--records", type=int, default=100_000)
    parser.add_argument("--orgs", type=int, default=50)
    parser.add_argument("--rounds", type=int, default=3)
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
    gc.collect()
    gc.freeze()

    await ensure_topics(client_settings)
    await ensure_topics(raw_settings)
    print(f"{args.records} records, {args.orgs} orgs, {base.topic_partitions} partitions, "
          f"compression={compression_for(base.client_compression) or 'none'}, "
          f"linger={base.client_linger_ms} ms, batch={base.client_max_batch_bytes} bytes, "
          f"{len(encoded[0][1])}-byte records, {args.rounds} rounds, "
          f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
    raw: list[Rate] = []
    client: list[Rate] = []
    latency: dict[str, list[tuple[list[int], list[int]]]] = {
        "broker up": [], "broker down, in memory": [], "broker down, spooling": [],
        "control (fixed loop)": []}
    spill = down_settings.replace(client_buffer_records=1000)
    try:
        for i in range(args.rounds):
            # Alternate which goes first, and let the broker settle before each timed run.
            if i % 2 == 0:
                await asyncio.sleep(SETTLE_S)
                raw.append(await run_raw(raw_settings, encoded))
            await asyncio.sleep(SETTLE_S)
            rate, lat = await run_client(client_settings, fields)
            if i % 2 == 1:
                await asyncio.sleep(SETTLE_S)
                raw.append(await run_raw(raw_settings, encoded))
            client.append(rate)
            latency["broker up"].append(lat)
            latency["broker down, in memory"].append(
                await run_down(down_settings.replace(home=str(tmp / f"down{i}")), fields))
            latency["broker down, spooling"].append(
                await run_down(spill.replace(home=str(tmp / f"spill{i}")), fields))
            latency["control (fixed loop)"].append(control_latency(len(fields)))
    finally:
        admin = AIOKafkaAdminClient(bootstrap_servers=base.kafka_bootstrap)
        await admin.start()
        try:
            await admin.delete_topics([client_settings.logs_topic, raw_settings.logs_topic,
                                       client_settings.dlq_topic])
        finally:
            await admin.close()
        shutil.rmtree(tmp, ignore_errors=True)

    best_c = max(client, key=lambda r: r.per_s)
    best_r = max(raw, key=lambda r: r.per_s)
    med_c = statistics.median(r.per_s for r in client)
    med_r = statistics.median(r.per_s for r in raw)
    print(f"(a) client emit + flush : best {best_c.per_s:9,.0f} records/s   median {med_c:9,.0f}"
          f"   CPU {min(r.cpu_us for r in client):5.1f} µs/record")
    print(f"(b) raw aiokafka send   : best {best_r.per_s:9,.0f} records/s   median {med_r:9,.0f}"
          f"   CPU {min(r.cpu_us for r in raw):5.1f} µs/record")
    print(f"    ratio a/b           : best {best_c.per_s / best_r.per_s:9.2f}   median "
          f"{med_c / med_r:9.2f}   CPU {min(r.cpu_us for r in raw) / min(r.cpu_us for r in client):.2f}"
          "   (target >= 0.85)")
    for label, rounds in latency.items():
        p50s = [percentile(wall, 0.50) for wall, _ in rounds]
        p99s = [percentile(wall, 0.99) for wall, _ in rounds]
        cpu50 = min(percentile(cpu, 0.50) for _, cpu in rounds)
        cpu99 = min(percentile(cpu, 0.99) for _, cpu in rounds)
        print(f"emit latency, {label:<22}: p50 {min(p50s):5.1f} µs  p99 {min(p99s):6.1f} µs best,"
              f" {statistics.median(p99s):6.1f} median   | CPU p50 {cpu50:5.1f} p99 {cpu99:5.1f} µs"
              + ("" if label.startswith("control") else "   (target p99 <= 50)"))
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))

"""Helpers for integration tests: producing raw records, counting documents, worker processes."""

from __future__ import annotations

import asyncio
import contextlib
import os
import random
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from aiokafka import AIOKafkaProducer
from opensearchpy import AsyncOpenSearch

from bonito_logs.config import Settings
from bonito_logs.schemas import build_record, encode

ROOT = Path(__file__).resolve().parents[2]
OUTPUT = ROOT / "test-output"


def generate_records(n: int, orgs: list[str], *, seed: int = 7,
                     start: datetime | None = None, span: timedelta = timedelta(hours=6)) -> list[dict]:
    """``n`` varied, valid records spread over ``span`` before ``start`` + ``span``.

    Deterministic for a seed (ids included) when ``start`` is given.
    """
    rng = random.Random(seed)
    start = start or (datetime.now(UTC) - span)
    words = ["timeout", "quota", "retry", "upstream", "latency", "vector", "embedding", "ok", "denied"]
    out = []
    for i in range(n):
        org = orgs[i % len(orgs)]
        log_type = rng.choice(("gateway", "agent", "auth", "admin", "kb", "deployment", "billing"))
        sev = rng.choices(("debug", "info", "warn", "error", "critical"), (5, 60, 15, 15, 5))[0]
        out.append(build_record(
            org_id=org, log_type=log_type,
            event_type=rng.choice(("request", "error", "login", "search", "tool_use", "upload")),
            severity=sev,
            timestamp=start + timedelta(microseconds=rng.randrange(int(span.total_seconds() * 1e6))),
            trace_id=f"trace-{rng.randrange(n // 10 + 1)}" if rng.random() < 0.7 else None,
            user_id=f"user-{rng.randrange(20)}",
            resource_id=f"res-{rng.randrange(50)}" if rng.random() < 0.5 else None,
            resource_type=rng.choice(("model", "agent", "kb", None)),
            action=rng.choice(("create", "read", "update", "delete", "execute", "search", None)),
            metadata={"model": rng.choice(("gpt-4o", "claude", "llama")), "n": i,
                      "tag": rng.choice(words)} if rng.random() < 0.8 else None,
            duration_ms=round(rng.uniform(0, 5000), 3) if rng.random() < 0.8 else None,
            cost=round(rng.uniform(0, 0.5), 6) if rng.random() < 0.6 else None,
            message=f"{rng.choice(words)} {rng.choice(words)} record {i}",
            id=str(uuid.UUID(int=rng.getrandbits(128), version=4)),
        ))
    return out


def new_orgs(n: int) -> list[str]:
    return [str(uuid.uuid4()) for _ in range(n)]


async def produce(settings: Settings, items: Iterable[tuple[bytes | None, bytes]],
                  *, pace: float | None = None) -> int:
    """Send raw (key, value) pairs to the logs topic and wait for every ack."""
    producer = AIOKafkaProducer(bootstrap_servers=settings.kafka_bootstrap, acks="all",
                                enable_idempotence=True, linger_ms=5)
    await producer.start()
    sent = 0
    try:
        futures = []
        for key, value in items:
            futures.append(await producer.send(settings.logs_topic, value=value, key=key))
            sent += 1
            if pace and sent % 500 == 0:
                await asyncio.sleep(pace)
        await asyncio.gather(*futures)
    finally:
        await producer.stop()
    return sent


def encoded(records: Iterable[dict]) -> list[tuple[bytes, bytes]]:
    return [(r["org_id"].encode(), encode(r)) for r in records]


@contextlib.asynccontextmanager
async def running(agent: Any) -> AsyncIterator[Any]:
    """Runs a stream agent (``run()``/``stop()``) in this event loop for the block."""
    task = asyncio.create_task(agent.run())
    try:
        yield agent
    finally:
        agent.stop()
        await asyncio.wait_for(task, 60)


def os_client(settings: Settings) -> AsyncOpenSearch:
    return AsyncOpenSearch(hosts=[settings.opensearch_url], timeout=30)


async def count_docs(settings: Settings, client: AsyncOpenSearch | None = None) -> int:
    own = client is None
    client = client or os_client(settings)
    try:
        await client.indices.refresh(index=settings.index_pattern, ignore_unavailable=True,
                                     allow_no_indices=True)
        resp = await client.count(index=settings.index_pattern, ignore_unavailable=True,
                                  allow_no_indices=True)
        return int(resp["count"])
    finally:
        if own:
            await client.close()


async def wait_until(predicate: Callable[[], Awaitable[bool]], timeout: float, what: str,
                     interval: float = 0.5) -> None:
    deadline = time.monotonic() + timeout
    while True:
        if await predicate():
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        await asyncio.sleep(interval)


async def delete_test_indices(settings: Settings) -> None:
    client = os_client(settings)
    try:
        for pattern in (settings.index_pattern, settings.meta_prefix + "*"):
            await client.indices.delete(index=pattern, ignore_unavailable=True, allow_no_indices=True)
        from bonito_logs.store import template_name

        await client.indices.delete_index_template(name=template_name(settings), ignore=[404])
    finally:
        await client.close()


class WorkerProcess:
    """A ``bonito-logs worker`` subprocess with the test's settings; killable with SIGKILL."""

    def __init__(self, settings: Settings, name: str) -> None:
        self.settings = settings
        self.name = name
        self.proc: subprocess.Popen | None = None
        OUTPUT.mkdir(exist_ok=True)
        self.log_path = OUTPUT / f"worker-{name}.log"

    def start(self) -> None:
        env = dict(os.environ)
        env.update(self.settings.to_env())
        env["BONITO_WORKER_ID"] = self.name
        log = open(self.log_path, "ab")  # noqa: SIM115 - handed to the child
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "bonito_logs.cli", "worker", "-l", "info"],
            env=env, stdout=log, stderr=subprocess.STDOUT, cwd=ROOT, start_new_session=True)
        log.close()

    def kill(self) -> None:
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(10)

    def terminate(self) -> None:
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.kill()

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None


def dlq_messages(settings: Settings, timeout_s: float = 10.0) -> Any:
    """Every message of the test's dead-letter topic (reads from the beginning)."""
    from aiokafka import AIOKafkaConsumer

    async def read():
        consumer = AIOKafkaConsumer(settings.dlq_topic, bootstrap_servers=settings.kafka_bootstrap,
                                    auto_offset_reset="earliest", enable_auto_commit=False,
                                    group_id=None)
        await consumer.start()
        out = []
        try:
            deadline = time.monotonic() + timeout_s
            while time.monotonic() < deadline:
                got = await consumer.getmany(timeout_ms=500)
                for records in got.values():
                    out.extend(records)
                if not got and out:
                    break
        finally:
            await consumer.stop()
        return out

    return read()

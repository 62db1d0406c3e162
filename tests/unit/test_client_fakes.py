"""An in-memory stand-in for aiokafka's producer, for client unit tests (no tests here).

It has the surface the sender uses: start/stop, partitions_for, create_batch,
send_batch. ``FakeBroker`` holds what was "written" per partition and can be
down, hold acknowledgements, or fail the next batches.
"""

from __future__ import annotations

import asyncio
import socket
import uuid
from typing import Any

from aiokafka.errors import KafkaConnectionError, RequestTimedOutError

from bonito_logs.config import Settings
from bonito_logs.schemas import decode


class FakeBroker:
    def __init__(self, partitions: int = 6, *, down: bool = False) -> None:
        self.partitions = partitions
        self.down = down
        self.hold = False  # keep acknowledgements pending until release()
        self.fail_batches = 0  # fail this many next batches (nothing written)
        self.log: dict[int, list[tuple[bytes, bytes]]] = {p: [] for p in range(partitions)}
        self.held: list[tuple[asyncio.Future, int, list]] = []
        self.producers = 0

    def factory(self, settings: Settings) -> FakeProducer:
        self.producers += 1
        return FakeProducer(self)

    def release(self, fail_partitions: set[int] = frozenset()) -> None:
        """Acknowledge held batches; those for ``fail_partitions`` fail instead."""
        held, self.held = self.held, []
        for fut, partition, items in held:
            if fut.done():
                continue
            if partition in fail_partitions:
                fut.set_exception(RequestTimedOutError())
            else:
                self.log[partition].extend(items)
                fut.set_result(None)

    def records(self) -> list[dict[str, Any]]:
        """Every record written, decoded, partition by partition."""
        out = []
        for p in sorted(self.log):
            for key, value in self.log[p]:
                rec = decode(value)
                rec["_partition"] = p
                rec["_key"] = key
                out.append(rec)
        return out

    def count(self) -> int:
        return sum(len(v) for v in self.log.values())


class FakeBatch:
    def __init__(self, limit: int) -> None:
        self.items: list[tuple[bytes, bytes]] = []
        self.size = 0
        self.limit = limit

    def append(self, *, timestamp: Any, key: bytes, value: bytes) -> object | None:
        n = len(key) + len(value)
        if self.items and self.size + n > self.limit:
            return None
        self.items.append((key, value))
        self.size += n
        return object()


class FakeProducer:
    def __init__(self, broker: FakeBroker) -> None:
        self.broker = broker
        self.started = False
        # Like an idempotent producer: after a failed batch on a partition, the broker
        # rejects this producer's later batches there (out-of-order sequence number).
        self.broken: set[int] = set()

    async def start(self) -> None:
        if self.broker.down:
            raise KafkaConnectionError("fake broker is down")
        self.started = True

    async def stop(self) -> None:
        self.started = False

    async def partitions_for(self, topic: str) -> set[int]:
        if self.broker.down:
            raise KafkaConnectionError("fake broker is down")
        return set(range(self.broker.partitions))

    def create_batch(self) -> FakeBatch:
        return FakeBatch(16 * 1024)

    async def send_batch(self, batch: FakeBatch, topic: str, *, partition: int) -> asyncio.Future:
        fut = asyncio.get_running_loop().create_future()
        broker = self.broker
        if broker.down:
            fut.set_exception(KafkaConnectionError("fake broker is down"))
        elif broker.fail_batches or partition in self.broken:
            if partition not in self.broken:
                broker.fail_batches -= 1
            self.broken.add(partition)
            fut.set_exception(RequestTimedOutError())
        elif broker.hold:
            broker.held.append((fut, partition, list(batch.items)))
        else:
            broker.log[partition].extend(batch.items)
            fut.set_result(None)
        return fut


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def unit_settings(tmp_path, **changes: Any) -> Settings:
    """Settings for unit tests: a private home (spool), fast retries, nothing listening."""
    base = Settings(kafka_bootstrap=f"127.0.0.1:{free_port()}", home=str(tmp_path / "home"),
                    logs_topic="unit.logs", client_retry_backoff_s=0.05,
                    client_linger_ms=1, client_close_timeout_s=2.0)
    return base.replace(**changes)


ORGS = [str(uuid.UUID(int=i + 1, version=4)) for i in range(8)]


def fields(i: int, org: str | None = None) -> dict[str, Any]:
    return {"org_id": org or ORGS[i % len(ORGS)], "log_type": "agent", "event_type": "step",
            "severity": "info", "metadata": {"n": i}, "message": f"record {i}"}


def sent_synchronously(coro: Any) -> Any:
    """Drive a coroutine one step: it must finish without suspending; returns its value."""
    try:
        coro.send(None)
    except StopIteration as done:
        return done.value
    coro.close()
    raise AssertionError("the coroutine suspended (it awaited something that was not ready)")

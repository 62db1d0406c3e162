"""Delivery rules on a fake connector and a fake clock: retries, breaker, dead letters, reconfiguration."""

from __future__ import annotations

from typing import Any

import pytest

from bonito_logs.connectors import (
    Batch,
    Batching,
    CheckResult,
    CircuitBreaker,
    Connector,
    Rejected,
    RetryPolicy,
    SendResult,
)
from bonito_logs.streams.forwarding.delivery import Delivery, Destination, Item, Stopping
from bonito_logs.streams.forwarding.state import ForwarderState


class FakeConnector(Connector):
    type_name = "fake"

    def __init__(self, results: list[Any] | None = None, *, per_batch: int = 3,
                 too_big: set[str] | None = None) -> None:
        self.results = list(results or [])
        self.per_batch = per_batch
        self.too_big = too_big or set()
        self.sent: list[list[str]] = []
        self.accepted: list[str] = []

    @classmethod
    def _parse(cls, config, credentials, problems, settings):  # pragma: no cover - unused
        return {}

    def batches(self, records: list[dict[str, Any]]) -> Batching:
        rejected = [Rejected(r, "too big", i) for i, r in enumerate(records) if r["id"] in self.too_big]
        ok = [r for r in records if r["id"] not in self.too_big]
        return Batching([Batch(ok[i:i + self.per_batch], [r["id"] for r in ok[i:i + self.per_batch]], 1)
                         for i in range(0, len(ok), self.per_batch)], rejected)

    async def _send(self, batch: Batch) -> SendResult:
        self.sent.append([r["id"] for r in batch.records])
        result = self.results.pop(0) if self.results else SendResult("ok")
        if callable(result):
            result = result(batch)
        if result.outcome == "ok":
            refused = {id(r.record) for r in result.rejected}
            self.accepted += [r["id"] for r in batch.records if id(r) not in refused]
        return result

    async def _check(self) -> CheckResult:  # pragma: no cover - unused
        return CheckResult(True, "ok")


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class FakeHost:
    def __init__(self, connector: Connector, clock: Clock, *, threshold: int = 3, cooldown: float = 10.0) -> None:
        self.clock = clock
        self.destination: Destination | None = Destination(connector, CircuitBreaker(threshold, cooldown, clock))
        self.waits: list[float] = []
        self.letters: list[tuple[Any, str, str | None]] = []
        self.paused = 0
        self.resumed = 0
        self.stop_after_waits: int | None = None
        self.on_wait: Any = None

    async def checkpoint(self) -> None:
        pass

    async def wait(self, seconds: float) -> None:
        self.waits.append(seconds)
        if self.on_wait is not None:
            self.on_wait(len(self.waits))
        self.clock.now += seconds
        if self.stop_after_waits is not None and len(self.waits) >= self.stop_after_waits:
            raise Stopping

    async def send(self, connector: Connector, batch: Batch) -> SendResult:
        return await connector.send(batch)

    async def dead_letter(self, letters: list[tuple[Any, str, str | None]]) -> None:
        self.letters.extend(letters)

    def pause(self) -> None:
        self.paused += 1

    def resume(self) -> None:
        self.resumed += 1


def items(n: int, *, replayed: bool = False) -> list[Item]:
    return [Item({"id": f"r{i}"}, origin=f"origin-{i}", replayed=replayed) for i in range(n)]


def make(connector: FakeConnector, **host: Any) -> tuple[Delivery, FakeHost, ForwarderState]:
    clock = Clock()
    fake = FakeHost(connector, clock, **host)
    state = ForwarderState("i-1", "org-1", "w-1", 1)
    state.breaker = fake.destination.breaker
    policy = RetryPolicy(base=0.5, cap=4.0, rng=lambda: 1.0)
    return Delivery(fake, policy, state), fake, state


async def test_everything_accepted_is_counted_and_nothing_dead_lettered():
    connector = FakeConnector()
    delivery, host, state = make(connector)
    await delivery.deliver(items(7))
    assert connector.accepted == [f"r{i}" for i in range(7)]
    assert len(connector.sent) == 3 and host.letters == [] and host.waits == []
    assert state.counters["records_forwarded"] == 7 and state.health == "ok"


async def test_retries_back_off_and_honour_retry_after():
    connector = FakeConnector([SendResult("retry", "503"), SendResult("retry", "429", retry_after=3.0)])
    delivery, host, state = make(connector, threshold=5)
    await delivery.deliver(items(2))
    assert host.waits == [0.5, 3.0]  # 0.5 * 2**0, then max(1.0, Retry-After 3)
    assert connector.accepted == ["r0", "r1"] and state.counters["retries"] == 2
    assert state.health == "ok" and state.last_error == "429"


async def test_breaker_opens_pauses_probes_and_closes():
    results = [SendResult("retry", "503 Service Unavailable")] * 4 + [SendResult("ok")]
    connector = FakeConnector(results)
    delivery, host, state = make(connector, threshold=3, cooldown=10.0)
    seen = []
    host.on_wait = lambda _n: seen.append((state.health, host.destination.breaker.state))
    await delivery.deliver(items(2))
    assert ("circuit_open", "open") in seen  # while it waited the cool-down
    assert host.paused >= 1 and host.resumed >= 1
    assert len(connector.sent) == 5  # 3 failures open it; a failed probe; a successful probe
    assert host.waits[2] == pytest.approx(10.0) and host.waits[3] == pytest.approx(10.0)
    assert host.destination.breaker.state == "closed" and state.health == "ok"
    assert connector.accepted == ["r0", "r1"] and host.letters == []


async def test_permanent_refusal_dead_letters_the_batch_with_the_reason():
    connector = FakeConnector([SendResult("permanent", "Datadog answered 403: Forbidden", status=403)])
    delivery, host, state = make(connector, threshold=1)
    await delivery.deliver(items(5))  # batches of 3: the first is refused, the second accepted
    assert [(o, r) for o, r, _ in host.letters] == [
        (f"origin-{i}", "Datadog answered 403: Forbidden") for i in range(3)]
    assert [rid for _, _, rid in host.letters] == ["r0", "r1", "r2"]
    assert connector.accepted == ["r3", "r4"]
    assert host.destination.breaker.state == "closed"  # it answered: not an outage
    assert state.counters["records_dead_lettered"] == 3
    assert state.last_error == "Datadog answered 403: Forbidden"


async def test_health_is_failing_after_a_permanent_refusal_until_a_success():
    connector = FakeConnector([SendResult("permanent", "bad token")], per_batch=10)
    delivery, _, state = make(connector)
    await delivery.deliver(items(2))
    assert state.health == "failing"
    await delivery.deliver(items(1))
    assert state.health == "ok"


async def test_records_refused_one_by_one_are_dead_lettered_the_rest_counted():
    def partly(batch: Batch) -> SendResult:
        return SendResult("ok", rejected=(Rejected(batch.records[1], "event 1 invalid", 1),))

    connector = FakeConnector([partly])
    delivery, host, state = make(connector)
    await delivery.deliver(items(3))
    assert [(o, r) for o, r, _ in host.letters] == [("origin-1", "event 1 invalid")]
    assert state.counters["records_forwarded"] == 2


async def test_only_pending_records_are_sent_again():
    def half(batch: Batch) -> SendResult:
        return SendResult("retry", "busy", pending=batch.slice(2))

    connector = FakeConnector([half], per_batch=4)
    delivery, host, state = make(connector)
    await delivery.deliver(items(4))
    assert connector.sent == [["r0", "r1", "r2", "r3"], ["r2", "r3"]]
    assert state.counters["records_forwarded"] == 4


async def test_oversize_records_from_batching_are_dead_lettered():
    connector = FakeConnector(too_big={"r1"})
    delivery, host, state = make(connector)
    await delivery.deliver(items(3))
    assert [(o, r) for o, r, _ in host.letters] == [("origin-1", "too big")]
    assert connector.accepted == ["r0", "r2"]


async def test_a_new_destination_mid_retry_gets_the_rest_re_encoded():
    old = FakeConnector([SendResult("retry", "down")] * 10, per_batch=2)
    new = FakeConnector(per_batch=10)
    delivery, host, state = make(old, threshold=50)

    def swap(n_waits: int) -> None:
        if n_waits == 2:
            host.destination = Destination(new, CircuitBreaker(3, 10.0, host.clock))

    host.on_wait = swap
    await delivery.deliver(items(5))
    assert old.accepted == [] and len(old.sent) == 2
    assert new.sent == [["r0", "r1", "r2", "r3", "r4"]]  # one batch, the new connector's way
    assert state.counters["records_forwarded"] == 5


async def test_replayed_records_are_counted_as_replayed():
    delivery, _, state = make(FakeConnector())
    await delivery.deliver(items(2, replayed=True))
    assert state.counters["records_replayed"] == 2 and state.counters["records_forwarded"] == 2


async def test_a_stop_while_waiting_ends_the_delivery_undelivered():
    connector = FakeConnector([SendResult("retry", "down")] * 10)
    delivery, host, state = make(connector)
    host.stop_after_waits = 2
    with pytest.raises(Stopping):
        await delivery.deliver(items(2))
    assert connector.accepted == [] and host.letters == []


async def test_an_encoder_crash_falls_back_to_one_record_at_a_time():
    class Picky(FakeConnector):
        def batches(self, records):
            if any(r["id"] == "r1" for r in records):
                if len(records) == 1:
                    raise ValueError("cannot encode")
                raise ValueError("cannot encode one of them")
            return super().batches(records)

    connector = Picky()
    delivery, host, _ = make(connector)
    await delivery.deliver(items(3))
    assert connector.accepted == ["r0", "r2"]
    assert [(o, r) for o, r, _ in host.letters] == [("origin-1", "cannot be encoded: ValueError")]

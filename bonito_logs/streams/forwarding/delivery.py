"""Delivering one batch of records to a destination until each is accepted or dead-lettered.

The rules, in the order a batch meets them:

* The connector splits the records within the destination's limits; records that can
  never fit (oversize) are dead-lettered at once with the connector's reason.
* Each request goes out only if the integration's ``CircuitBreaker`` allows it. While
  it is open the forwarder's partitions are paused and nothing is committed; after the
  cool-down one probe request is let through.
* ``ok``: done (records the destination refused one by one are dead-lettered).
* ``permanent``: the destination answered and will never take these records as they are
  (bad credentials, invalid data): they are dead-lettered with its reason, to be replayed
  once the cause is fixed. The destination is up, so this does not trip the breaker.
* ``retry``: the breaker counts a failure, and the same records (only ``pending`` ones
  when part got through) are sent again after capped exponential backoff with jitter,
  never sooner than a ``Retry-After``. Retryable failures are never dead-lettered: a
  transient error says nothing about the records, and Kafka keeps them meanwhile.

When the integration is reconfigured mid-batch (new credentials, say) the records not yet
delivered are encoded again for the new destination and the breaker starts closed.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any, Protocol

from bonito_logs.connectors import (
    Batch,
    CircuitBreaker,
    Connector,
    Rejected,
    RetryPolicy,
    SendResult,
)
from bonito_logs.streams.forwarding.state import ForwarderState

log = logging.getLogger(__name__)


class Interrupted(Exception):
    """The batch ends undelivered and uncommitted."""


class Stopping(Interrupted):
    """The forwarder is stopping (integration disabled or deleted, worker shutting down)."""


class Abandoned(Interrupted):
    """The batch's partitions were revoked: their new owner delivers them."""


@dataclass
class Item:
    record: dict[str, Any]  # decoded
    origin: Any  # the aiokafka ConsumerRecord it came from
    replayed: bool = False


@dataclass
class Destination:
    """A connector and its breaker; replaced as a whole when the integration changes."""

    connector: Connector
    breaker: CircuitBreaker


class Host(Protocol):
    """What the forwarder gives a delivery: the destination and its ways to wait and park."""

    destination: Destination | None

    async def checkpoint(self) -> None:
        """Raise ``Stopping``/``Abandoned``; apply a pending reconfiguration; wait while broken."""

    async def wait(self, seconds: float) -> None:
        """Sleep, cut short by a stop, a revocation or a reconfiguration."""

    async def send(self, connector: Connector, batch: Batch) -> SendResult:
        """``connector.send(batch)``, cancelled by a stop or a revocation."""

    async def dead_letter(self, letters: list[tuple[Any, str, str | None]]) -> None: ...

    def pause(self) -> None: ...

    def resume(self) -> None: ...


class Delivery:
    def __init__(self, host: Host, policy: RetryPolicy, state: ForwarderState) -> None:
        self.host = host
        self.policy = policy
        self.state = state

    async def deliver(self, items: list[Item]) -> None:
        """Return once every item is accepted or dead-lettered; ``Interrupted`` otherwise."""
        pending = items
        while pending:
            await self.host.checkpoint()
            dest = self.host.destination
            assert dest is not None  # checkpoint() waits until there is one
            by_key = {id(item.record): item for item in pending}
            batches, rejected = self._batches(dest.connector, pending)
            await self._reject(rejected, by_key)
            pending = []
            for n, batch in enumerate(batches):
                left = await self._send(batch, dest, by_key)
                if left is not None:  # reconfigured: encode what is left for the new destination
                    rest = left + [r for b in batches[n + 1:] for r in b.records]
                    pending = [by_key[id(r)] for r in rest]
                    break

    def _batches(self, connector: Connector, items: list[Item]) -> tuple[list[Batch], list[Rejected]]:
        try:
            return connector.batches([item.record for item in items])
        except Exception:  # noqa: BLE001 - one record the encoder chokes on must not stall the rest
            log.exception("integration %s: encoding failed; encoding record by record",
                          self.state.integration_id)
        batches: list[Batch] = []
        rejected: list[Rejected] = []
        for item in items:
            try:
                one = connector.batches([item.record])
            except Exception as exc:  # noqa: BLE001
                rejected.append(Rejected(item.record, f"cannot be encoded: {type(exc).__name__}"))
                continue
            batches.extend(one.batches)
            rejected.extend(one.rejected)
        return batches, rejected

    async def _send(self, batch: Batch, dest: Destination,
                    by_key: dict[int, Item]) -> list[dict[str, Any]] | None:
        """Deliver one batch; the records still to send if the destination changed meanwhile."""
        attempt = 0
        while True:
            await self.host.checkpoint()
            if self.host.destination is not dest:
                return list(batch.records)
            breaker = dest.breaker
            if not breaker.allow():
                self.host.pause()
                self.state.breaker_moved()
                await self.host.wait(max(breaker.retry_in(), 0.05))
                continue
            result = await self.host.send(dest.connector, batch)
            self.state.count("requests", result.requests)
            await self._reject(result.rejected, by_key)
            refused = {id(r.record) for r in result.rejected}
            if result.outcome == "ok":
                breaker.record_success()
                self.host.resume()
                self._delivered([r for r in batch.records if id(r) not in refused], by_key)
                return None
            if result.outcome == "permanent":
                breaker.record_success()  # it answered: up, but refusing these records
                self.host.resume()
                rest = [r for r in batch.records if id(r) not in refused]
                self.state.failed(result.reason, retry=False)
                await self._dead_letter([(by_key[id(r)], result.reason) for r in rest])
                return None
            breaker.record_failure()
            self.state.failed(result.reason, retry=True)
            self.state.breaker_moved()
            if result.pending is not None:
                left = {id(r) for r in result.pending.records}
                self._delivered([r for r in batch.records if id(r) not in left and id(r) not in refused],
                                by_key)
                batch = result.pending
            delay = self.policy.delay(min(attempt, 30), result.retry_after)
            attempt += 1
            if breaker.state != "closed":
                self.host.pause()
                delay = max(breaker.retry_in(), min(result.retry_after or 0.0, self.policy.max_retry_after))
            log.info("integration %s: %d records not delivered (%s); retry in %.1fs",
                     self.state.integration_id, len(batch), result.reason, delay)
            await self.host.wait(delay)

    def _delivered(self, records: list[dict[str, Any]], by_key: dict[int, Item]) -> None:
        if records:
            replayed = sum(1 for r in records if by_key[id(r)].replayed)
            self.state.delivered(len(records), replayed=replayed)

    async def _reject(self, rejected: tuple[Rejected, ...] | list[Rejected],
                      by_key: dict[int, Item]) -> None:
        letters = [(by_key[id(r.record)], r.reason) for r in rejected if id(r.record) in by_key]
        if letters:
            await self._dead_letter(letters)

    async def _dead_letter(self, letters: list[tuple[Item, str]]) -> None:
        if not letters:
            return
        await self.host.dead_letter([(item.origin, reason, item.record.get("id"))
                                     for item, reason in letters])
        self.state.dead_lettered(len(letters))
        log.warning("integration %s: %d records dead-lettered: %s", self.state.integration_id,
                    len(letters), letters[0][1])

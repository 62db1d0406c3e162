"""A minimal forwarder loop for tests: batch, send, retry what is retryable."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

from bonito_logs.connectors import Connector, Rejected, SendResult


@dataclass
class Delivery:
    results: list[SendResult] = field(default_factory=list)
    rejected: list[Rejected] = field(default_factory=list)

    @property
    def requests(self) -> int:
        return sum(r.requests for r in self.results)


async def deliver(connector: Connector, records: list[dict[str, Any]], *, attempts: int = 8,
                  pause: float = 0.05) -> Delivery:
    """Send every record; retries (``pending`` first) up to ``attempts``; fails on a permanent outcome."""
    out = Delivery()
    batches, rejected = connector.batches(records)
    out.rejected.extend(rejected)
    for batch in batches:
        for _ in range(attempts):
            result = await connector.send(batch)
            out.results.append(result)
            out.rejected.extend(result.rejected)
            if result.ok:
                break
            if result.permanent:
                raise AssertionError(f"permanent failure: {result.reason}")
            batch = result.pending or batch
            await asyncio.sleep(pause)
        else:
            raise AssertionError(f"still failing after {attempts} attempts: {result.reason}")
    return out

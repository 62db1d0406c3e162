"""A forwarder's own account of itself: counters, last success and error, breaker, health.

Health is derived, never stored separately: ``circuit_open`` while the breaker is
not closed, ``failing`` while the latest outcome was an error (a retry, or records
dead-lettered because the destination refused them), ``ok`` otherwise;
``stopped`` once the forwarder ended. A change of health calls ``on_change`` so
the supervisor reports it at once instead of at the next periodic write.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from bonito_logs.connectors import CircuitBreaker

COUNTERS = ("records_forwarded", "records_dead_lettered", "records_replayed", "requests",
            "retries", "decode_errors")


def _iso(moment: datetime | None) -> str | None:
    if moment is None:
        return None
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _parse(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None


class ForwarderState:
    def __init__(self, integration_id: str, org_id: str, worker_id: str, revision: int, *,
                 on_change: Callable[[], None] | None = None) -> None:
        self.integration_id = integration_id
        self.org_id = org_id
        self.worker_id = worker_id
        self.revision = revision
        self.running = True
        self.started_at = datetime.now(UTC)
        self.counters: dict[str, int] = dict.fromkeys(COUNTERS, 0)
        self.last_success_at: datetime | None = None
        self.last_error_at: datetime | None = None
        self.last_error: str | None = None
        self.partitions: list[str] = []
        self.breaker: CircuitBreaker | None = None
        self._on_change = on_change
        self._health = self.health

    def resume_from(self, previous: dict[str, Any] | None) -> None:
        """Carry on the counters and times of this worker's earlier life (same worker id)."""
        if not previous:
            return
        for name in COUNTERS:
            self.counters[name] += int(previous.get(name) or 0)
        self.last_success_at = _parse(previous.get("last_success_at"))
        self.last_error_at = _parse(previous.get("last_error_at"))
        self.last_error = previous.get("last_error")
        self._changed()

    @property
    def health(self) -> str:
        if not self.running:
            return "stopped"
        if self.breaker is not None and self.breaker.state != "closed":
            return "circuit_open"
        if self.last_error_at is not None and (self.last_success_at is None
                                               or self.last_error_at > self.last_success_at):
            return "failing"
        return "ok"

    # Events -------------------------------------------------------------------------------
    def delivered(self, records: int, *, replayed: int = 0) -> None:
        self.counters["records_forwarded"] += records
        self.counters["records_replayed"] += replayed
        self.last_success_at = datetime.now(UTC)
        self._changed()

    def failed(self, reason: str, *, retry: bool) -> None:
        if retry:
            self.counters["retries"] += 1
        self.last_error = reason[:2000]
        self.last_error_at = datetime.now(UTC)
        self._changed()

    def dead_lettered(self, records: int) -> None:
        self.counters["records_dead_lettered"] += records

    def count(self, name: str, n: int = 1) -> None:
        self.counters[name] += n

    def stopped(self) -> None:
        self.running = False
        self._changed()

    def _changed(self) -> None:
        health = self.health
        if health != self._health:
            self._health = health
            if self._on_change is not None:
                self._on_change()

    def announce(self) -> None:
        """Something the API shows changed (new settings applied): report it now."""
        if self._on_change is not None:
            self._on_change()

    def breaker_moved(self) -> None:
        """The breaker may have opened or closed: re-evaluate health."""
        self._changed()

    def document(self) -> dict[str, Any]:
        breaker = self.breaker.snapshot() if self.breaker is not None else {"state": "closed"}
        return {
            "integration_id": self.integration_id, "org_id": self.org_id,
            "worker_id": self.worker_id, "revision": self.revision, "running": self.running,
            "health": self.health, "breaker": breaker,
            "last_success_at": _iso(self.last_success_at), "last_error_at": _iso(self.last_error_at),
            "last_error": self.last_error, **self.counters,
            "partitions": list(self.partitions), "started_at": _iso(self.started_at),
            "updated_at": _iso(datetime.now(UTC)),
        }

"""An integration as the API shows it: its settings (credentials masked) and its ``state``.

The state joins what the forwarders report (``store.integration_status``, one document
per worker) with what Kafka says (lag, dead letters). Health, worst first:
``disabled``; ``pending`` (enabled, but no live worker reports it yet); ``circuit_open``
(some worker's breaker is open); ``failing`` (some worker's latest outcome was an
error); ``ok``. A report older than ``api_worker_live_s`` is not live: it no longer
decides the health, but its counters still add up.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from bonito_logs.config import Settings
from bonito_logs.store.integrations import Integration
from bonito_logs.store.meta_index import stored_time

_WORST_FIRST = ("circuit_open", "failing", "ok")


def _latest(docs: list[dict[str, Any]], key: str) -> dict[str, Any] | None:
    dated = [(moment, doc) for doc in docs if (moment := stored_time(doc.get(key))) is not None]
    return max(dated, key=lambda pair: pair[0])[1] if dated else None


def state_of(integration: Integration, reports: list[dict[str, Any]], numbers: dict[str, Any],
             settings: Settings, now: datetime | None = None) -> dict[str, Any]:
    now = now or datetime.now(UTC)
    live = [doc for doc in reports
            if (seen := stored_time(doc.get("updated_at"))) is not None
            and (now - seen).total_seconds() <= settings.api_worker_live_s]
    running = [doc for doc in live if doc.get("running")]
    if not integration.enabled:
        health = "disabled"
    elif not running:
        health = "pending"
    else:
        found = {doc.get("health") for doc in running}
        health = next((h for h in _WORST_FIRST if h in found), "ok")
    success = _latest(reports, "last_success_at")
    error = _latest(reports, "last_error_at")
    breakers = [doc.get("breaker") or {} for doc in running]
    open_breakers = [b for b in breakers if b.get("state") not in (None, "closed")]
    return {
        "health": health,
        "enabled": integration.enabled,
        "last_success_at": success.get("last_success_at") if success else None,
        "last_error": ({"at": error.get("last_error_at"), "reason": error.get("last_error")}
                       if error else None),
        "records_forwarded": sum(int(d.get("records_forwarded") or 0) for d in reports),
        "records_dead_lettered": sum(int(d.get("records_dead_lettered") or 0) for d in reports),
        "records_replayed": sum(int(d.get("records_replayed") or 0) for d in reports),
        "records_in_dlq": numbers.get("records_in_dlq"),
        "replay_pending": numbers.get("replay_pending"),
        "consumer_lag": numbers.get("consumer_lag"),
        **({"kafka_error": numbers["kafka_error"]} if "kafka_error" in numbers else {}),
        "circuit": open_breakers[0] if open_breakers else {"state": "closed"},
        "applied_revision": min((int(d.get("revision") or 0) for d in running), default=None),
        "workers": [{"worker_id": d.get("worker_id"), "health": d.get("health"),
                     "running": d.get("running"), "revision": d.get("revision"),
                     "partitions": d.get("partitions") or [], "updated_at": d.get("updated_at")}
                    for d in sorted(live, key=lambda d: str(d.get("worker_id")))],
    }


def integration_json(integration: Integration, reports: list[dict[str, Any]],
                     numbers: dict[str, Any], settings: Settings) -> dict[str, Any]:
    return {**integration.to_public(), "state": state_of(integration, reports, numbers, settings)}

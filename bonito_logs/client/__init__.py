"""The producer helper: ``await log_service.emit(...)`` and everything behind it.

- ``LogService``: async; ``emit`` validates, encodes and queues without waiting;
  a background task sends to Kafka (key = org id), spooling to disk while Kafka is down.
- ``SyncLogService``: the same for threads and synchronous frameworks.
- ``BonitoLogHandler``: a ``logging.Handler`` that emits through either.
- ``log_service``: a default ``LogService`` configured from ``get_settings()``.
- ``ensure_topics(settings)``: create the logs and dead-letter topics if missing.

Names are imported on first use, so ``bonito-logs`` subcommands that never emit
(and ``import bonito_logs.client.cli``) do not load aiokafka and fastavro.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from bonito_logs.client.handler import BonitoLogHandler
    from bonito_logs.client.service import ClientStats, LogService
    from bonito_logs.client.sync import SyncLogService
    from bonito_logs.client.topics import ensure_topics

    log_service: LogService

__all__ = ["BonitoLogHandler", "ClientStats", "LogService", "SyncLogService", "ensure_topics",
           "log_service"]

_WHERE = {
    "BonitoLogHandler": "bonito_logs.client.handler",
    "ClientStats": "bonito_logs.client.service",
    "LogService": "bonito_logs.client.service",
    "SyncLogService": "bonito_logs.client.sync",
    "ensure_topics": "bonito_logs.client.topics",
}
_lock = threading.Lock()


def __getattr__(name: str) -> Any:
    import importlib

    if name == "log_service":
        with _lock:
            if "log_service" not in globals():
                from bonito_logs.client.service import LogService

                globals()["log_service"] = LogService()
            return globals()["log_service"]
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module 'bonito_logs.client' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value

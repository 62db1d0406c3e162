"""The producer helper: ``await log_service.emit(...)`` and everything behind it.

- ``LogService``: async; ``emit`` validates, encodes and queues without waiting;
  a background task sends to Kafka (key = org id), spooling to disk while Kafka is down.
- ``SyncLogService``: the same for threads and synchronous frameworks.
- ``BonitoLogHandler``: a ``logging.Handler`` that emits through either.
- ``log_service``: a default ``LogService`` configured from ``get_settings()``.
- ``ensure_topics(settings)``: create the logs and dead-letter topics if missing.
"""

from bonito_logs.client.handler import BonitoLogHandler
from bonito_logs.client.service import ClientStats, LogService
from bonito_logs.client.sync import SyncLogService
from bonito_logs.client.topics import ensure_topics

log_service = LogService()

__all__ = ["BonitoLogHandler", "ClientStats", "LogService", "SyncLogService", "ensure_topics",
           "log_service"]

"""``BonitoLogHandler``: stdlib ``logging`` records become Bonito log records.

    handler = BonitoLogHandler(org_id=ORG, log_type="agent")
    logging.getLogger("myapp").addHandler(handler)
    log.warning("tool failed", extra={"event_type": "tool_error", "trace_id": tid,
                                      "metadata": {"tool": "search"}})

Mapping: levelname → severity (DEBUG debug, INFO info, WARNING warn, ERROR error,
CRITICAL critical; levels in between round down); event_type from
``extra={"event_type": ...}`` else the handler's default (``"log"``); message =
the formatted message (``record.getMessage()`` unless a formatter is set);
metadata = logger, module, function, line, exception text (when there is one),
merged under ``extra={"metadata": {...}}``; trace_id, user_id, resource_id,
resource_type, action, duration_ms and cost from ``extra`` too; timestamp =
the LogRecord's creation time. ``emit`` never raises: problems go to
``handleError`` like any logging handler.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

from bonito_logs.schemas import MAX_MESSAGE_BYTES

_PASSTHROUGH = ("trace_id", "user_id", "resource_id", "resource_type", "action", "duration_ms",
                "cost")
# Our own client and Kafka library log about delivery; sending those through the
# client would feed back into it (and grow the spool while Kafka is down).
DEFAULT_EXCLUDE = ("bonito_logs.client", "aiokafka")


def severity_for(levelno: int) -> str:
    if levelno >= logging.CRITICAL:
        return "critical"
    if levelno >= logging.ERROR:
        return "error"
    if levelno >= logging.WARNING:
        return "warn"
    if levelno >= logging.INFO:
        return "info"
    return "debug"


def _clip(text: str) -> str:
    if len(text) * 4 <= MAX_MESSAGE_BYTES:
        return text
    raw = text.encode("utf-8", "replace")
    if len(raw) <= MAX_MESSAGE_BYTES:
        return text
    return raw[: MAX_MESSAGE_BYTES - 3].decode("utf-8", "ignore") + "…"


class BonitoLogHandler(logging.Handler):
    """A ``logging.Handler`` that emits through a ``SyncLogService`` (default) or ``LogService``.

    ``service``: anything with ``emit_nowait`` or ``emit`` taking the record fields
    (a ``LogService`` or a ``SyncLogService``); default: one process-wide
    ``SyncLogService``. ``exclude``: logger name prefixes never forwarded.
    """

    def __init__(self, org_id: str, log_type: str, *, event_type: str = "log",
                 service: Any = None, level: int = logging.NOTSET,
                 exclude: tuple[str, ...] = DEFAULT_EXCLUDE) -> None:
        super().__init__(level)
        self.org_id = org_id
        self.log_type = log_type
        self.event_type = event_type
        self.exclude = tuple(exclude)
        self._service = service

    @property
    def service(self) -> Any:
        if self._service is None:
            from bonito_logs.client.sync import default_sync_service

            self._service = default_sync_service()
        return self._service

    def fields_for(self, record: logging.LogRecord) -> dict[str, Any]:
        """The emit() keyword arguments for one LogRecord."""
        extra = record.__dict__
        metadata: dict[str, Any] = {
            "logger": record.name, "module": record.module, "function": record.funcName,
            "line": record.lineno,
        }
        if record.exc_info:
            metadata["exception"] = self.formatter.formatException(record.exc_info) \
                if self.formatter else logging.Formatter().formatException(record.exc_info)
        elif record.exc_text:
            metadata["exception"] = record.exc_text
        if record.stack_info:
            metadata["stack"] = record.stack_info
        more = extra.get("metadata")
        if isinstance(more, dict):
            metadata.update(more)
        message = self.format(record) if self.formatter else record.getMessage()
        fields = {
            "org_id": self.org_id,
            "log_type": self.log_type,
            "event_type": extra.get("event_type") or self.event_type,
            "severity": severity_for(record.levelno),
            "timestamp": datetime.fromtimestamp(record.created, UTC),
            "message": _clip(message),
            "metadata": metadata,
        }
        for name in _PASSTHROUGH:
            value = extra.get(name)
            if value is not None:
                fields[name] = value
        return fields

    def emit(self, record: logging.LogRecord) -> None:
        try:
            if record.name.startswith(self.exclude):
                return
            fields = self.fields_for(record)
            service = self.service
            send = getattr(service, "emit_nowait", None) or service.emit
            send(**fields)
        except RecursionError:
            raise
        except Exception:
            self.handleError(record)

    def flush(self) -> None:
        service = self._service
        flush = getattr(service, "flush", None)
        if flush is not None and not _is_coroutine_function(flush):
            try:
                flush(timeout=5.0)
            except Exception:  # flushing is best effort; logging.shutdown calls it
                pass


def _is_coroutine_function(fn: Any) -> bool:
    import inspect

    return inspect.iscoroutinefunction(fn)

"""Bonito Logs: ``await log_service.emit(...)`` and everything behind it."""

from bonito_logs.errors import (
    BonitoError,
    DecodeError,
    Forbidden,
    NotFound,
    Unauthorized,
    UnknownSchema,
    ValidationError,
)

__all__ = [
    "BonitoError",
    "DecodeError",
    "Forbidden",
    "LogService",
    "NotFound",
    "SyncLogService",
    "Unauthorized",
    "UnknownSchema",
    "ValidationError",
    "log_service",
]


def __getattr__(name: str):  # lazy: importing the package must not pull in aiokafka
    if name in ("log_service", "LogService", "SyncLogService", "BonitoLogHandler"):
        from bonito_logs import client

        return getattr(client, name)
    raise AttributeError(name)

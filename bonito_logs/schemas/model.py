"""The log record: its fields, its rules, and ``build_record`` which applies them.

A record is a plain ``dict`` with exactly the keys of ``FIELDS`` (dicts are what
fastavro encodes fastest, and what every consumer wants). ``build_record`` is on
the hot path of ``emit``: it checks each rule once, cheaply, and raises
``ValidationError`` naming the field and the rule it broke.
"""

from __future__ import annotations

import math
import random
import re
import uuid
from datetime import UTC, datetime
from typing import Any

import orjson

from bonito_logs.errors import ValidationError

LOG_TYPES: tuple[str, ...] = ("gateway", "agent", "auth", "admin", "kb", "deployment", "billing")
SEVERITIES: tuple[str, ...] = ("debug", "info", "warn", "error", "critical")
ACTIONS: tuple[str, ...] = ("create", "read", "update", "delete", "execute", "search")
SEVERITY_RANK: dict[str, int] = {s: i for i, s in enumerate(SEVERITIES)}

FIELDS: tuple[str, ...] = (
    "id", "org_id", "log_type", "event_type", "severity", "timestamp",
    "trace_id", "user_id", "resource_id", "resource_type", "action",
    "metadata", "duration_ms", "cost", "message",
)
REQUIRED: tuple[str, ...] = ("org_id", "log_type", "event_type", "severity")

MAX_EVENT_TYPE = 64
MAX_ID_LENGTH = 256
MAX_MESSAGE_BYTES = 32 * 1024
MAX_METADATA_BYTES = 64 * 1024
MAX_RECORD_BYTES = 256 * 1024

_LOG_TYPES = frozenset(LOG_TYPES)
_SEVERITIES = frozenset(SEVERITIES)
_ACTIONS = frozenset(ACTIONS)
_FIELDS = frozenset(FIELDS)
_SNAKE = re.compile(r"[a-z][a-z0-9]*(?:_[a-z0-9]+)*\Z")
_UUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}\Z")
_getrandbits = random.getrandbits  # reseeded after fork; ids need uniqueness, not secrecy
# RFC 4122 version 4: version nibble 0100, variant bits 10.
_V4_CLEAR = ~((0xF000 << 64) | (0xC000 << 48)) & ((1 << 128) - 1)
_V4_SET = (0x4000 << 64) | (0x8000 << 48)


def new_id() -> str:
    """A random version-4 UUID string, several times cheaper than ``str(uuid.uuid4())``."""
    h = "%032x" % ((_getrandbits(128) & _V4_CLEAR) | _V4_SET)
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def build_record(
    org_id: Any = None,
    log_type: Any = None,
    event_type: Any = None,
    severity: Any = None,
    timestamp: Any = None,
    trace_id: Any = None,
    user_id: Any = None,
    resource_id: Any = None,
    resource_type: Any = None,
    action: Any = None,
    metadata: Any = None,
    duration_ms: Any = None,
    cost: Any = None,
    message: Any = None,
    id: Any = None,  # noqa: A002 - the schema's field name
    **unknown: Any,
) -> dict[str, Any]:
    """Validate the fields and return the canonical record (id and timestamp filled in).

    ``metadata_json`` of the returned dict is not a key: metadata stays a dict; the
    codec serialises it. Raises ``ValidationError`` on the first broken rule.
    """
    if unknown:
        name = sorted(unknown)[0]
        raise ValidationError(name, "is not a field of the log schema")
    return {
        "id": _uuid_field("id", id) if id is not None else new_id(),
        "org_id": _required_uuid(org_id),
        "log_type": _enum("log_type", log_type, _LOG_TYPES, LOG_TYPES, required=True),
        "event_type": _event_type(event_type),
        "severity": _enum("severity", severity, _SEVERITIES, SEVERITIES, required=True),
        "timestamp": _timestamp(timestamp),
        "trace_id": _opt_id("trace_id", trace_id),
        "user_id": _opt_id("user_id", user_id),
        "resource_id": _opt_id("resource_id", resource_id),
        "resource_type": _resource_type(resource_type),
        "action": _enum("action", action, _ACTIONS, ACTIONS, required=False),
        "metadata": _metadata(metadata),
        "duration_ms": _non_negative("duration_ms", duration_ms),
        "cost": _non_negative("cost", cost),
        "message": _message(message),
    }


def _required_uuid(value: Any) -> str:
    if value is None or value == "":
        raise ValidationError("org_id", "is required")
    return _uuid_field("org_id", value)


def _uuid_field(name: str, value: Any) -> str:
    if isinstance(value, uuid.UUID):
        return str(value)
    if not isinstance(value, str) or not _UUID.match(value):
        raise ValidationError(name, "must be a UUID string like 8-4-4-4-12 hex digits")
    return value.lower()


def _enum(name: str, value: Any, allowed: frozenset[str], ordered: tuple[str, ...], *,
          required: bool) -> str | None:
    if value is None:
        if required:
            raise ValidationError(name, "is required")
        return None
    if value not in allowed:  # also rejects non-strings
        raise ValidationError(name, "must be one of " + ", ".join(ordered))
    return value


def _event_type(value: Any) -> str:
    if value is None or value == "":
        raise ValidationError("event_type", "is required")
    if not isinstance(value, str) or not _SNAKE.match(value):
        raise ValidationError("event_type", "must be lowercase snake_case (a-z, 0-9, _)")
    if len(value) > MAX_EVENT_TYPE:
        raise ValidationError("event_type", f"must be at most {MAX_EVENT_TYPE} characters")
    return value


def _resource_type(value: Any) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or not _SNAKE.match(value) or len(value) > MAX_EVENT_TYPE:
        raise ValidationError(
            "resource_type", f"must be lowercase snake_case of at most {MAX_EVENT_TYPE} characters")
    return value


def _timestamp(value: Any) -> datetime:
    if value is None:
        return datetime.now(UTC)
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value.replace("Z", "+00:00") if value.endswith("Z") else value)
        except ValueError:
            raise ValidationError("timestamp", "must be an ISO 8601 date-time") from None
    if not isinstance(value, datetime):
        raise ValidationError("timestamp", "must be a datetime or an ISO 8601 string")
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)  # naive means UTC, by the schema's definition
    if value.tzinfo is not UTC:
        value = value.astimezone(UTC)
    return value


def _opt_id(name: str, value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, uuid.UUID):
        return str(value)
    if not isinstance(value, str):
        raise ValidationError(name, "must be a string")
    if not value or len(value) > MAX_ID_LENGTH:
        raise ValidationError(name, f"must be 1 to {MAX_ID_LENGTH} characters")
    return value


def _metadata(value: Any) -> dict[str, Any] | None:
    if value is None:
        return None
    if not isinstance(value, dict):
        raise ValidationError("metadata", "must be a JSON object (a dict)")
    return value


def metadata_json(metadata: dict[str, Any] | None) -> str | None:
    """Compact JSON for the metadata field; enforces serialisability and the size limit."""
    if metadata is None:
        return None
    try:
        raw = orjson.dumps(metadata)
    except TypeError as exc:
        raise ValidationError("metadata", f"must be JSON-serializable ({exc})") from None
    if len(raw) > MAX_METADATA_BYTES:
        raise ValidationError("metadata", f"must encode to at most {MAX_METADATA_BYTES} bytes of JSON "
                                          f"(got {len(raw)})")
    return raw.decode()


def _non_negative(name: str, value: Any) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValidationError(name, "must be a number")
    value = float(value)
    if not math.isfinite(value):
        raise ValidationError(name, "must be a finite number")
    if value < 0:
        raise ValidationError(name, "must be >= 0")
    return value


def _message(value: Any) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise ValidationError("message", "must be a string")
    # Cheap bound first: a str of n code points is at most 4n UTF-8 bytes.
    if len(value) * 4 > MAX_MESSAGE_BYTES and len(value.encode()) > MAX_MESSAGE_BYTES:
        raise ValidationError("message", f"must be at most {MAX_MESSAGE_BYTES} bytes of UTF-8")
    return value

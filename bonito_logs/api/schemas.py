"""JSON Schemas of the API's bodies, shared by the OpenAPI document (``components``).

They describe what the code accepts and returns; where the code rejects unknown
keys the schema says ``additionalProperties: false``.
"""

from __future__ import annotations

from typing import Any

from bonito_logs.schemas import ACTIONS, LOG_TYPES, SEVERITIES
from bonito_logs.store.cursor import MAX_CURSOR_CHARS
from bonito_logs.store.keys import MAX_EMAIL_LENGTH, MAX_NAME_LENGTH, ROLES
from bonito_logs.store.query import (
    DEFAULT_LIMIT,
    MAX_ID_CHARS,
    MAX_LIMIT,
    MAX_LIST_ITEMS,
    MAX_SEARCH_CHARS,
    MAX_TYPE_CHARS,
    MAX_WINDOW,
    SORT_FIELDS,
    SORT_ORDERS,
)


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _nullable(schema: dict[str, Any]) -> dict[str, Any]:
    kind = schema["type"]
    return {**schema, "type": [kind, "null"]}


_STRING = {"type": "string"}
_ISO = {"type": "string", "format": "date-time"}

ERROR: dict[str, Any] = {
    "type": "object",
    "required": ["error"],
    "properties": {
        "error": {
            "type": "object",
            "required": ["code", "message", "problems"],
            "properties": {
                "code": {"type": "string", "examples": ["validation_error"]},
                "message": {"type": "string"},
                "problems": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "required": ["field", "rule"],
                        "properties": {"field": _STRING, "rule": _STRING},
                    },
                },
            },
        },
    },
}

def _list_of(items: dict[str, Any]) -> dict[str, Any]:
    return {"type": ["array", "null"], "maxItems": MAX_LIST_ITEMS, "items": items}


def _text(max_chars: int) -> dict[str, Any]:
    return {"type": ["string", "null"], "maxLength": max_chars}


_DATE = {"type": ["string", "null"], "format": "date-time",
         "description": "ISO 8601; without a zone means UTC; a bare end date means the end of that day"}
_MINIMUM = {"type": ["number", "null"], "minimum": 0}

# null (and "" for text) means "not given", as in bonito_logs.store.query.
QUERY_FILTERS: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "log_types": _list_of({"type": "string", "enum": list(LOG_TYPES)}),
        "event_types": _list_of({"type": "string", "minLength": 1, "maxLength": MAX_TYPE_CHARS}),
        "severities": _list_of({"type": "string", "enum": list(SEVERITIES)}),
        "start_date": _DATE,
        "end_date": _DATE,
        "search": {**_text(MAX_SEARCH_CHARS),
                   "description": "words, \"phrases\", field:value; every word must match"},
        "trace_id": _text(MAX_ID_CHARS),
        "user_id": _text(MAX_ID_CHARS),
        "resource_id": _text(MAX_ID_CHARS),
        "resource_type": _text(MAX_TYPE_CHARS),
        "action": {"type": ["string", "null"], "enum": [*ACTIONS, None]},
        "min_duration_ms": _MINIMUM,
        "min_cost": _MINIMUM,
    },
}

LOG_QUERY: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "description": ("Every key is optional; unknown keys are refused with 422 naming them. "
                    f"offset + limit must be at most {MAX_WINDOW}: page further with `cursor`."),
    "properties": {
        "filters": {"oneOf": [_ref("LogQueryFilters"), {"type": "null"}]},
        "limit": {"type": ["integer", "null"], "minimum": 1, "maximum": MAX_LIMIT,
                  "default": DEFAULT_LIMIT},
        "offset": {"type": ["integer", "null"], "minimum": 0, "default": 0},
        "sort_by": {"type": ["string", "null"], "enum": [*SORT_FIELDS, None], "default": "created_at"},
        "sort_order": {"type": ["string", "null"], "enum": [*SORT_ORDERS, None], "default": "desc"},
        "cursor": {"type": ["string", "null"], "maxLength": MAX_CURSOR_CHARS,
                   "description": "next_cursor of the previous page; offset must then be 0"},
    },
}

LOG_RECORD: dict[str, Any] = {
    "type": "object",
    "properties": {
        "id": _STRING,
        "org_id": {"type": "string", "format": "uuid"},
        "log_type": {"type": "string", "enum": list(LOG_TYPES)},
        "event_type": _STRING,
        "severity": {"type": "string", "enum": list(SEVERITIES)},
        "timestamp": _ISO,
        "trace_id": _nullable(_STRING),
        "user_id": _nullable(_STRING),
        "resource_id": _nullable(_STRING),
        "resource_type": _nullable(_STRING),
        "action": _nullable(_STRING),
        "metadata": _nullable({"type": "object"}),
        "duration_ms": _nullable({"type": "number"}),
        "cost": _nullable({"type": "number"}),
        "message": _nullable(_STRING),
    },
}

SEARCH_RESULT: dict[str, Any] = {
    "type": "object",
    "required": ["items", "total", "limit", "offset", "next_cursor", "took_ms"],
    "properties": {
        "items": {"type": "array", "items": _ref("LogRecord")},
        "total": {
            "type": "object",
            "properties": {"value": {"type": "integer"}, "exact": {"type": "boolean"}},
        },
        "limit": {"type": "integer"},
        "offset": {"type": "integer"},
        "next_cursor": {"type": ["string", "null"]},
        "took_ms": {"type": "number"},
    },
}

TRACE: dict[str, Any] = {
    "type": "object",
    "required": ["trace_id", "items", "summary"],
    "properties": {
        "trace_id": _STRING,
        "items": {"type": "array", "items": _ref("LogRecord")},
        "summary": {
            "type": "object",
            "properties": {
                "first_timestamp": _ISO,
                "last_timestamp": _ISO,
                "span_ms": {"type": "number"},
                "total_duration_ms": {"type": "number"},
                "total_cost": {"type": "number"},
                "counts_by_severity": {"type": "object", "additionalProperties": {"type": "integer"}},
                "log_types": {"type": "array", "items": _STRING},
                "record_count": {"type": "integer"},
            },
        },
    },
}

API_KEY: dict[str, Any] = {
    "type": "object",
    "required": ["key_id", "org_id", "role", "created_at"],
    "properties": {
        "key_id": _STRING,
        "org_id": {"type": "string", "format": "uuid"},
        "role": {"type": "string", "enum": list(ROLES)},
        "name": _nullable(_STRING),
        "email": _nullable(_STRING),
        "created_at": _ISO,
        "revoked_at": _nullable(_ISO),
        "last_used_at": _nullable(_ISO),
    },
}

NEW_API_KEY: dict[str, Any] = {
    "allOf": [
        _ref("ApiKey"),
        {
            "type": "object",
            "required": ["key"],
            "properties": {"key": {"type": "string", "description": "the secret key; shown only once"}},
        },
    ],
}

API_KEY_CREATE: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "required": ["role"],
    "properties": {
        "role": {"type": "string", "enum": list(ROLES)},
        "name": {"type": "string", "minLength": 1, "maxLength": MAX_NAME_LENGTH},
        "email": {"type": "string", "format": "email", "maxLength": MAX_EMAIL_LENGTH},
    },
}

API_KEY_LIST: dict[str, Any] = {
    "type": "object",
    "required": ["items"],
    "properties": {"items": {"type": "array", "items": _ref("ApiKey")}},
}

_COMPONENT_STATUS = {
    "type": "object",
    "required": ["status"],
    "properties": {"status": {"type": "string", "enum": ["ok", "unreachable"]},
                   "error": _STRING},
}

_LAG = {
    "type": "object",
    "description": "A consumer group's lag on the logs topic: records not yet committed "
                   "(a partition the group never committed counts in full).",
    "required": ["status", "group", "topic", "total", "partitions"],
    "properties": {
        "status": {"type": "string", "enum": ["ok", "unknown"]},
        "group": _nullable(_STRING),
        "topic": _nullable(_STRING),
        "total": {"type": ["integer", "null"]},
        "error": _STRING,
        "partitions": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {
                    "partition": {"type": "integer"},
                    "committed": {"type": ["integer", "null"]},
                    "end": {"type": "integer"},
                    "lag": {"type": "integer"},
                },
            },
        },
    },
}

_COUNTS = {"type": "object", "additionalProperties": {"type": "number"}}

_WORKER = {
    "type": "object",
    "description": "A live worker's heartbeat document, as it wrote it.",
    "properties": {
        "worker_id": _STRING,
        "host": _STRING,
        "pid": {"type": "integer"},
        "started_at": _ISO,
        "updated_at": _ISO,
        "partitions": {"type": "array", "items": {"type": "integer"},
                       "description": "the indexer's partitions"},
        "counters": {**_COUNTS, "description": "the indexer's counters since the worker started"},
        "aggregator": {
            "type": "object",
            "description": "only when the worker runs the aggregator",
            "properties": {
                "partitions": {"type": "array", "items": {"type": "integer"}},
                "counters": {**_COUNTS, "description": "records_seen, records_applied, "
                             "records_already_counted, records_past_retention, decode_errors, "
                             "documents_read, documents_written, documents_rejected, conflicts, "
                             "rewinds, failures; since the worker started"},
            },
        },
    },
}

HEALTH: dict[str, Any] = {
    "type": "object",
    "required": ["status", "kafka", "opensearch", "lag", "aggregator", "workers"],
    "properties": {
        "status": {"type": "string", "enum": ["ok", "degraded"],
                   "description": "degraded when Kafka or OpenSearch is unreachable; "
                                  "never because of lag"},
        "kafka": _COMPONENT_STATUS,
        "opensearch": _COMPONENT_STATUS,
        "lag": {**_LAG, "description": "the indexer group's lag: records not yet searchable"},
        "aggregator": {
            "type": "object",
            "required": ["lag", "live_workers"],
            "properties": {
                "lag": {**_LAG, "description": "the aggregator group's lag: records the "
                                               "statistics do not count yet"},
                "live_workers": {"type": "integer",
                                 "description": "live workers that run the aggregator"},
            },
        },
        "workers": {
            "type": "object",
            "properties": {
                "live": {"type": "integer"},
                "items": {"type": "array", "items": _WORKER},
            },
        },
    },
}

COMPONENTS: dict[str, Any] = {
    "Error": ERROR,
    "LogQuery": LOG_QUERY,
    "LogQueryFilters": QUERY_FILTERS,
    "LogRecord": LOG_RECORD,
    "SearchResult": SEARCH_RESULT,
    "Trace": TRACE,
    "ApiKey": API_KEY,
    "NewApiKey": NEW_API_KEY,
    "ApiKeyCreate": API_KEY_CREATE,
    "ApiKeyList": API_KEY_LIST,
    "Health": HEALTH,
}

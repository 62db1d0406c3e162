"""JSON Schemas of the export routes, added to the OpenAPI ``components`` on import."""

from __future__ import annotations

from typing import Any

from bonito_logs.api import schemas
from bonito_logs.schemas import FIELDS
from bonito_logs.store.export_request import EXPORT_FORMATS
from bonito_logs.store.exports import STATUSES
from bonito_logs.store.query import SORT_FIELDS, SORT_ORDERS

_ISO_OR_NULL = {"type": ["string", "null"], "format": "date-time"}
_FLAG = {"type": ["boolean", "null"]}

EXPORT_REQUEST: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "description": ("Every key is optional; unknown keys are refused with 422 naming them. "
                    "`filters` take exactly what the query API's filters take."),
    "properties": {
        "filters": {"oneOf": [{"$ref": "#/components/schemas/LogQueryFilters"}, {"type": "null"}]},
        "export_format": {"type": ["string", "null"], "enum": [*EXPORT_FORMATS, None],
                          "default": "csv",
                          "description": "csv (one header row), json (one array) or ndjson"},
        "include_metadata": {**_FLAG, "default": True},
        "email_when_complete": {**_FLAG, "default": False,
                                "description": "email the key's address when the job ends"},
        "sort_by": {"type": ["string", "null"], "enum": [*SORT_FIELDS, None], "default": "created_at"},
        "sort_order": {"type": ["string", "null"], "enum": [*SORT_ORDERS, None], "default": "desc"},
        "fields": {"type": ["array", "null"], "minItems": 1, "uniqueItems": True,
                   "items": {"type": "string", "enum": list(FIELDS)},
                   "description": "the columns to export, in this order (default: every field)"},
        "compress": {**_FLAG, "default": False, "description": "gzip the file"},
    },
}

EXPORT_JOB: dict[str, Any] = {
    "type": "object",
    "required": ["id", "status", "rows_written", "percent", "created_at"],
    "properties": {
        "id": {"type": "string", "format": "uuid"},
        "status": {"type": "string", "enum": list(STATUSES)},
        "export_format": {"type": "string", "enum": list(EXPORT_FORMATS)},
        "request": {"type": "object", "description": "the normalised request"},
        "rows_written": {"type": "integer"},
        "rows_expected": {"type": ["integer", "null"],
                          "description": "records in the job's snapshot, once it started"},
        "percent": {"type": "number", "minimum": 0, "maximum": 100},
        "bytes": {"type": "integer"},
        "created_at": {"type": "string", "format": "date-time"},
        "started_at": _ISO_OR_NULL,
        "finished_at": _ISO_OR_NULL,
        "error": {"type": ["string", "null"]},
        "cancel_requested": {"type": "boolean"},
        "attempts": {"type": "integer"},
        "file_name": {"type": ["string", "null"]},
        "download_url": {"type": ["string", "null"], "format": "uri"},
        "expires_at": _ISO_OR_NULL,
        "email": {
            "type": "object",
            "properties": {
                "requested": {"type": "boolean"},
                "status": {"type": ["string", "null"], "enum": ["pending", "sent", "skipped", "failed", None]},
                "detail": {"type": ["string", "null"]},
            },
        },
    },
}

EXPORT_JOB_LIST: dict[str, Any] = {
    "type": "object",
    "required": ["items"],
    "properties": {"items": {"type": "array", "items": {"$ref": "#/components/schemas/ExportJob"}}},
}

schemas.COMPONENTS.update({
    "ExportRequest": EXPORT_REQUEST,
    "ExportJob": EXPORT_JOB,
    "ExportJobList": EXPORT_JOB_LIST,
})

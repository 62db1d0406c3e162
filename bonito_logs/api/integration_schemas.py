"""JSON Schemas of the integration routes, added to the OpenAPI ``components`` on import."""

from __future__ import annotations

from typing import Any

from bonito_logs.api import schemas
from bonito_logs.api.integration_body import MAX_NAME_LENGTH
from bonito_logs.connectors import TYPES
from bonito_logs.schemas import LOG_TYPES, SEVERITIES
from bonito_logs.store.integration_filters import MAX_EVENT_TYPE, MAX_VALUES

_ISO_OR_NULL = {"type": ["string", "null"], "format": "date-time"}
_NAME = {"type": "string", "minLength": 1, "maxLength": MAX_NAME_LENGTH}
_SETTINGS_DOC = (
    "The integration type's settings. datadog: site, service, tags, source, hostname "
    "(credentials: api_key). splunk: host, index, sourcetype, source, hostname, verify_tls, "
    "ca_bundle, use_ack, ack_timeout_s (credentials: hec_token). cloudwatch: region, "
    "log_group, log_stream (may use {org_id} and {log_type}), endpoint_url (credentials: "
    "aws_access_key_id, aws_secret_access_key, session_token). webhook: url, headers, gzip "
    "(credentials: secret, which signs every request). Hosts must resolve to public addresses."
)


def _values(items: dict[str, Any]) -> dict[str, Any]:
    return {"type": ["array", "null"], "maxItems": MAX_VALUES, "items": items}


FILTERS: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "description": "Which of the org's records are forwarded; a missing or empty list allows all.",
    "properties": {
        "log_types": _values({"type": "string", "enum": list(LOG_TYPES)}),
        "severities": _values({"type": "string", "enum": list(SEVERITIES)}),
        "event_types": _values({"type": "string", "pattern": "^[a-z][a-z0-9]*(_[a-z0-9]+)*$",
                                "maxLength": MAX_EVENT_TYPE}),
    },
}

CREATE: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "required": ["name", "integration_type", "config", "credentials"],
    "properties": {
        "name": _NAME,
        "integration_type": {"type": "string", "enum": list(TYPES)},
        "config": {"type": "object", "description": _SETTINGS_DOC},
        "credentials": {"type": "object", "description": "Secrets; stored encrypted, shown masked."},
        "enabled": {"type": "boolean", "default": True},
        "filters": {"oneOf": [schemas._ref("IntegrationFilters"), {"type": "null"}]},
    },
}

PATCH: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "minProperties": 1,
    "description": "Only the keys given change; `credentials` replaces all credentials.",
    "properties": {key: CREATE["properties"][key]
                   for key in ("name", "config", "credentials", "filters", "enabled")},
}

STATE: dict[str, Any] = {
    "type": "object",
    "required": ["health", "enabled", "records_forwarded"],
    "properties": {
        "health": {"type": "string",
                   "enum": ["ok", "failing", "circuit_open", "pending", "disabled"]},
        "enabled": {"type": "boolean"},
        "last_success_at": _ISO_OR_NULL,
        "last_error": {"type": ["object", "null"],
                       "properties": {"at": _ISO_OR_NULL, "reason": {"type": ["string", "null"]}}},
        "records_forwarded": {"type": "integer"},
        "records_dead_lettered": {"type": "integer"},
        "records_replayed": {"type": "integer"},
        "records_in_dlq": {"type": ["integer", "null"],
                           "description": "dead letters not replayed yet"},
        "replay_pending": {"type": ["integer", "null"],
                           "description": "replayed records not delivered yet"},
        "consumer_lag": {"type": ["integer", "null"],
                         "description": "records of the logs topic its forwarders have not passed yet"},
        "kafka_error": {"type": "string"},
        "circuit": {"type": "object"},
        "applied_revision": {"type": ["integer", "null"],
                             "description": "the oldest revision a live forwarder runs"},
        "workers": {"type": "array", "items": {"type": "object"}},
    },
}

INTEGRATION: dict[str, Any] = {
    "type": "object",
    "required": ["id", "name", "integration_type", "config", "credentials", "filters", "enabled",
                 "revision", "state"],
    "properties": {
        "id": {"type": "string", "format": "uuid"},
        "name": {"type": "string"},
        "integration_type": {"type": "string", "enum": list(TYPES)},
        "config": {"type": "object"},
        "credentials": {"type": "object", "additionalProperties": {"type": "string"},
                        "description": "masked: at most the last 4 characters of long values"},
        "filters": schemas._ref("IntegrationFilters"),
        "enabled": {"type": "boolean"},
        "revision": {"type": "integer"},
        "created_at": _ISO_OR_NULL,
        "updated_at": _ISO_OR_NULL,
        "state": schemas._ref("IntegrationState"),
    },
}

TEST_RESULT: dict[str, Any] = {
    "type": "object",
    "required": ["ok", "message"],
    "properties": {"ok": {"type": "boolean"}, "message": {"type": "string"},
                   "status": {"type": ["integer", "null"]}},
}

DEAD_LETTERS: dict[str, Any] = {
    "type": "object",
    "required": ["items", "pending", "next_after"],
    "properties": {
        "items": {"type": "array", "items": {"type": "object", "properties": {
            "offset": {"type": "integer"}, "record_id": {"type": ["string", "null"]},
            "reason": {"type": ["string", "null"]}, "failed_at": _ISO_OR_NULL,
            "replayed": {"type": "boolean"},
            "source": {"type": "object"}, "preview": {"type": ["object", "null"]}}}},
        "pending": {"type": "integer", "description": "dead letters not replayed yet"},
        "next_after": {"type": ["integer", "null"], "description": "pass as `after` for the next page"},
    },
}

REPLAY: dict[str, Any] = {
    "type": "object",
    "required": ["replayed", "remaining"],
    "properties": {"replayed": {"type": "integer"}, "remaining": {"type": "integer"}},
}

schemas.COMPONENTS.update({
    "IntegrationFilters": FILTERS,
    "IntegrationCreate": CREATE,
    "IntegrationPatch": PATCH,
    "IntegrationState": STATE,
    "Integration": INTEGRATION,
    "IntegrationList": {"type": "object", "required": ["items"],
                        "properties": {"items": {"type": "array", "items": schemas._ref("Integration")}}},
    "IntegrationTestResult": TEST_RESULT,
    "DeadLetterPage": DEAD_LETTERS,
    "ReplayResult": REPLAY,
})

"""Statistics of the caller's organisation, from the rollups the aggregator keeps.

``GET /api/logs/stats`` is a time series per group over any range; ``GET
/api/logs/stats/summary`` is the rolling last hour, day and week against the
period before. Both read rollup documents only (never the raw logs) and always
the organisation of the API key. Any valid key may read them (viewer and up).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from bonito_logs.api.auth import Principal
from bonito_logs.api.openapi import Operation, operation, routes
from bonito_logs.api.services import services
from bonito_logs.errors import ValidationError
from bonito_logs.schemas import LOG_TYPES, SEVERITIES
from bonito_logs.store.stats_request import (
    GROUP_BYS,
    INTERVALS,
    MAX_BUCKETS,
    parse_stats_request,
)


class OrjsonResponse(JSONResponse):
    """A series can hold thousands of points: orjson writes them ~10x faster."""

    def render(self, content: Any) -> bytes:
        return orjson.dumps(content)


@dataclass(frozen=True)
class _QueryOperation(Operation):
    """An ``Operation`` that also documents its query parameters."""

    query: tuple[dict[str, Any], ...] = field(default=())

    def to_openapi(self) -> dict[str, Any]:
        doc = super().to_openapi()
        if self.query:
            doc["parameters"] = [*doc.get("parameters", []), *self.query]
        return doc


def _with_query(*parameters: dict[str, Any]):
    def decorate(endpoint):
        endpoint.__operation__ = _QueryOperation(**{
            f: getattr(endpoint.__operation__, f) for f in Operation.__dataclass_fields__},
            query=parameters)
        return endpoint
    return decorate


def _param(name: str, description: str, schema: dict[str, Any], *, explode: bool = False) -> dict[str, Any]:
    out: dict[str, Any] = {"name": name, "in": "query", "required": False,
                           "description": description, "schema": schema}
    if explode:
        out.update(style="form", explode=True)
    return out


_NUMBER = {"type": "number"}
_DURATION = {"type": "object", "properties": {k: {"type": ["number", "null"]}
                                              for k in ("avg", "p50", "p95", "p99")}}
_TOKENS = {"type": "object", "properties": {k: {"type": "integer"} for k in ("input", "output", "total")}}
FIGURES: dict[str, Any] = {
    "type": "object",
    "required": ["count", "errors", "error_rate", "cost", "duration_ms"],
    "properties": {
        "count": {"type": "integer"}, "errors": {"type": "integer", "description": "error + critical"},
        "error_rate": _NUMBER, "cost": _NUMBER, "duration_ms": _DURATION,
        "tokens": {**_TOKENS, "description": "model and provider groupings only"},
    },
}
STATS_SERIES: dict[str, Any] = {
    "type": "object",
    "required": ["start", "end", "interval", "group_by", "buckets", "series", "totals"],
    "properties": {
        "start": {"type": "string", "format": "date-time", "description": "start, rounded down to the interval"},
        "end": {"type": "string", "format": "date-time", "description": "end (exclusive), rounded up"},
        "interval": {"type": "string", "enum": list(INTERVALS)},
        "group_by": {"type": ["string", "null"], "enum": [*GROUP_BYS, None]},
        "filters": {"type": "object"},
        "buckets": {"type": "integer"},
        "series": {"type": "array", "items": {
            "type": "object", "required": ["group", "points", "totals"],
            "properties": {
                "group": {"type": ["string", "null"]},
                "points": {"type": "array", "items": {"allOf": [FIGURES, {
                    "type": "object", "properties": {"timestamp": {"type": "string", "format": "date-time"}}}]}},
                "totals": FIGURES,
            }}},
        "totals": FIGURES,
    },
}
_HEADLINE = {"type": "object", "properties": {
    "count": {"type": "integer"}, "errors": {"type": "integer"}, "error_rate": _NUMBER,
    "cost": _NUMBER, "p95_duration_ms": {"type": ["number", "null"]}}}
STATS_SUMMARY: dict[str, Any] = {
    "type": "object",
    "required": ["generated_at", "windows"],
    "properties": {
        "generated_at": {"type": "string", "format": "date-time"},
        "windows": {"type": "object", "additionalProperties": {"allOf": [_HEADLINE, {
            "type": "object",
            "properties": {
                "start": {"type": "string", "format": "date-time"},
                "end": {"type": "string", "format": "date-time"},
                "previous": _HEADLINE,
                "change": {"type": "object", "description": "(current - previous) / previous; null when previous is 0",
                           "additionalProperties": {"type": ["number", "null"]}},
                "top_event_types_by_errors": {"type": "array", "maxItems": 5, "items": {"type": "object"}},
                "top_models_by_cost": {"type": "array", "maxItems": 5, "items": {"type": "object"}},
            }}]}},
    },
}


@_with_query(
    _param("start", "ISO 8601; without a zone means UTC; default: end - 24 h. Rounded down to the interval.",
           {"type": "string", "format": "date-time"}),
    _param("end", "ISO 8601, exclusive; a bare date means the end of that day; default: now. "
                  "Rounded up to the interval.", {"type": "string", "format": "date-time"}),
    _param("interval", f"bucket width; at most {MAX_BUCKETS} buckets (minute: 7 days)",
           {"type": "string", "enum": list(INTERVALS), "default": "hour"}),
    _param("group_by", "one series per value; model and provider read gateway records only",
           {"type": "string", "enum": list(GROUP_BYS)}),
    _param("log_types", "only these log types (comma-separated or repeated)",
           {"type": "array", "items": {"type": "string", "enum": list(LOG_TYPES)}}, explode=True),
    _param("severities", "only these severities (comma-separated or repeated)",
           {"type": "array", "items": {"type": "string", "enum": list(SEVERITIES)}}, explode=True),
)
@operation("GET", "/api/logs/stats", tag="stats", role="viewer",
           summary="Request volume, errors, cost and latency over time",
           description="A time series per group (every bucket present, zeros when empty) and totals "
                       "for the period: count, errors (error + critical), error_rate, cost, and "
                       "avg/p50/p95/p99 duration (nearest-rank percentiles within 2 %). Computed "
                       "from pre-aggregated rollups, in milliseconds for any range.",
           ok=STATS_SERIES, ok_description="The series and totals",
           responses={422: ("A parameter is invalid (named in `problems`); e.g. too many buckets",
                            {"$ref": "#/components/schemas/Error"})})
async def get_stats(request: Request, principal: Principal) -> Response:
    query = parse_stats_request(request.query_params.multi_items())
    return Response(await services(request).stats.series_json(principal.org_id, query),
                    media_type="application/json")


@operation("GET", "/api/logs/stats/summary", tag="stats", role="viewer",
           summary="Last hour, day and week at a glance, against the period before",
           description="Rolling windows ending with the current minute: volume, error rate, cost, "
                       "p95 latency, the change against the previous window of the same length, "
                       "the 5 event types with most errors and the 5 models with the highest cost.",
           ok=STATS_SUMMARY, ok_description="The summary",
           responses={422: ("Unexpected query parameters", {"$ref": "#/components/schemas/Error"})})
async def get_stats_summary(request: Request, principal: Principal) -> Response:
    unknown = sorted(set(request.query_params.keys()))
    if unknown:
        raise ValidationError(problems=[{"field": name, "rule": "is not a parameter of the summary"}
                                        for name in unknown])
    now_ms = time.time_ns() // 1_000_000
    return OrjsonResponse(await services(request).stats.summary(principal.org_id, now_ms))


ROUTES = routes(get_stats, get_stats_summary)

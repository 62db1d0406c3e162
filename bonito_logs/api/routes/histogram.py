"""``POST /api/logs/histogram``: record counts over time for any filters (the explorer's chart).

An OpenSearch ``date_histogram`` over the same org-scoped query as ``/api/logs/query``
(``build_query``), split by severity. The time span is the filters' date range
(an open end is now; an open start is the oldest matching record); the bucket
width is the smallest "round" interval that gives about ``buckets`` buckets.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from bonito_logs.api.auth import Principal
from bonito_logs.api.bodies import read_json_object, reject_unknown_keys
from bonito_logs.api.openapi import operation, ref, routes
from bonito_logs.api.services import services
from bonito_logs.errors import ValidationError
from bonito_logs.schemas import SEVERITIES
from bonito_logs.store import build_query, parse_query_request

DEFAULT_BUCKETS = 60
MAX_BUCKETS = 200
_S, _M, _H, _D = 1000, 60_000, 3_600_000, 86_400_000
NICE_INTERVALS_MS: tuple[int, ...] = (
    1, 10, 100, _S, 5 * _S, 10 * _S, 30 * _S, _M, 5 * _M, 10 * _M, 30 * _M, _H, 3 * _H, 6 * _H,
    12 * _H, _D, 7 * _D, 30 * _D,
)

HISTOGRAM_REQUEST: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "filters": {"oneOf": [ref("LogQueryFilters"), {"type": "null"}]},
        "buckets": {"type": ["integer", "null"], "minimum": 1, "maximum": MAX_BUCKETS,
                    "default": DEFAULT_BUCKETS, "description": "at most this many buckets"},
    },
}
HISTOGRAM: dict[str, Any] = {
    "type": "object",
    "required": ["interval_ms", "start", "end", "total", "buckets"],
    "properties": {
        "interval_ms": {"type": "integer", "description": "width of every bucket"},
        "start": {"type": ["string", "null"], "format": "date-time"},
        "end": {"type": ["string", "null"], "format": "date-time"},
        "total": {"type": "integer"},
        "buckets": {"type": "array", "items": {
            "type": "object",
            "required": ["start", "count", "severities"],
            "properties": {
                "start": {"type": "string", "format": "date-time"},
                "count": {"type": "integer"},
                "severities": {"type": "object", "additionalProperties": {"type": "integer"}},
            },
        }},
    },
}


def choose_interval(span_ms: float, buckets: int) -> int:
    """The smallest round interval giving at most ``buckets`` buckets over ``span_ms``."""
    wanted = max(span_ms, 1) / buckets
    for interval in NICE_INTERVALS_MS:
        if interval >= wanted:
            return interval
    return math.ceil(wanted / _D) * _D


def _epoch_ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


def _iso_ms(ms: int) -> str:
    moment = datetime.fromtimestamp(ms / 1000, UTC)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def histogram_aggs(start_ms: int, end_ms: int, interval_ms: int) -> dict[str, Any]:
    return {"volume": {
        "date_histogram": {
            "field": "timestamp", "fixed_interval": f"{interval_ms}ms", "min_doc_count": 0,
            "extended_bounds": {"min": start_ms, "max": end_ms},
        },
        "aggs": {"severity": {"terms": {"field": "severity", "size": len(SEVERITIES)}}},
    }}


def shape(response: dict[str, Any], start_ms: int | None, end_ms: int | None,
          interval_ms: int) -> dict[str, Any]:
    buckets = []
    for bucket in response.get("aggregations", {}).get("volume", {}).get("buckets", []):
        buckets.append({
            "start": _iso_ms(int(bucket["key"])),
            "count": int(bucket["doc_count"]),
            "severities": {b["key"]: int(b["doc_count"]) for b in bucket["severity"]["buckets"]},
        })
    return {
        "interval_ms": interval_ms,
        "start": _iso_ms(start_ms) if start_ms is not None else None,
        "end": _iso_ms(end_ms) if end_ms is not None else None,
        "total": int(response["hits"]["total"]["value"]) if response else 0,
        "buckets": buckets,
    }


@operation("POST", "/api/logs/histogram", tag="logs", role="viewer",
           summary="Record counts over time, by severity, for query filters",
           description="The same `filters` as `/api/logs/query`; at most `buckets` buckets of "
                       "one round width (1 s … 30 d) spanning the date range (an open end is now, "
                       "an open start the oldest matching record).",
           body=HISTOGRAM_REQUEST, ok=HISTOGRAM, ok_description="Counts per bucket")
async def histogram(request: Request, principal: Principal) -> Response:
    body = await read_json_object(request, empty_is={})
    reject_unknown_keys(body, HISTOGRAM_REQUEST["properties"])
    buckets = body.get("buckets")
    if buckets is None:
        buckets = DEFAULT_BUCKETS
    elif isinstance(buckets, bool) or not isinstance(buckets, int) or not 1 <= buckets <= MAX_BUCKETS:
        raise ValidationError("buckets", f"must be an integer between 1 and {MAX_BUCKETS}")
    query = parse_query_request({"filters": body.get("filters")})
    org = principal.org_id
    client = services(request).opensearch
    index = services(request).settings.index_pattern
    dsl = build_query(org, query)
    common = {"index": index, "routing": org, "ignore_unavailable": True, "allow_no_indices": True}
    end_ms = _epoch_ms(query.end_date) if query.end_date else _epoch_ms(datetime.now(UTC))
    if query.start_date is not None:
        start_ms = _epoch_ms(query.start_date)
    else:
        first = await client.search(body={"query": dsl, "size": 0, "track_total_hits": True,
                                          "aggs": {"first": {"min": {"field": "timestamp"}}}},
                                    **common)
        if not first["hits"]["total"]["value"]:
            return JSONResponse(shape({}, None, None, choose_interval(0, buckets)))
        start_ms = int(first["aggregations"]["first"]["value"])
    start_ms = min(start_ms, end_ms)
    interval = choose_interval(end_ms - start_ms, buckets)
    response = await client.search(body={
        "query": dsl, "size": 0, "track_total_hits": True,
        "aggs": histogram_aggs(start_ms, end_ms, interval)}, **common)
    return JSONResponse(shape(response, start_ms, end_ms, interval))


ROUTES = routes(histogram)

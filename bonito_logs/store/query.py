"""The query request: ``parse_query_request`` validates it into a ``LogQuery``;
``build_query`` and ``build_sort`` turn one into OpenSearch DSL.

Every broken rule is reported at once, each as ``{"field", "rule"}`` with a path
like ``filters.start_date``. ``null`` (and ``""`` for text) means "not given".
"""

from __future__ import annotations

import hashlib
import math
import re
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, time
from typing import Any

import orjson

from bonito_logs.errors import ValidationError
from bonito_logs.schemas import ACTIONS, LOG_TYPES, SEVERITIES
from bonito_logs.store.cursor import MAX_CURSOR_CHARS
from bonito_logs.store.documents import timestamp_us
from bonito_logs.store.search_syntax import build_search_query, count_terms

DEFAULT_LIMIT = 100
MAX_LIMIT = 1000
MAX_WINDOW = 10_000  # OpenSearch's index.max_result_window: from + size
MAX_SEARCH_CHARS = 1000
MAX_SEARCH_TERMS = 100  # keeps every search under Lucene's 1024-clause limit
MAX_LIST_ITEMS = 100
MAX_ID_CHARS = 256
MAX_TYPE_CHARS = 64

SORT_FIELDS = {  # request name -> document field
    "timestamp": "timestamp_us",
    "created_at": "timestamp_us",
    "duration_ms": "duration_ms",
    "cost": "cost",
    "severity": "severity_rank",
}
SORT_ORDERS = ("asc", "desc")
TOP_KEYS = ("filters", "limit", "offset", "sort_by", "sort_order", "cursor")
FILTER_KEYS = (
    "log_types", "event_types", "severities", "start_date", "end_date", "search", "trace_id",
    "user_id", "resource_id", "resource_type", "action", "min_duration_ms", "min_cost",
)
_DATE_ONLY = re.compile(r"\d{4}-\d{2}-\d{2}\Z")


@dataclass(frozen=True)
class LogQuery:
    """A validated query request. ``sort_by`` is normalised (``created_at`` -> ``timestamp``)."""

    log_types: tuple[str, ...] = ()
    event_types: tuple[str, ...] = ()
    severities: tuple[str, ...] = ()
    start_date: datetime | None = None
    end_date: datetime | None = None
    search: str | None = None
    trace_id: str | None = None
    user_id: str | None = None
    resource_id: str | None = None
    resource_type: str | None = None
    action: str | None = None
    min_duration_ms: float | None = None
    min_cost: float | None = None
    limit: int = DEFAULT_LIMIT
    offset: int = 0
    sort_by: str = "timestamp"
    sort_order: str = "desc"
    cursor: str | None = None

    def fingerprint(self) -> str:
        """A hash of the filters and the sort: what a cursor is bound to (not limit/offset)."""
        data = asdict(self)
        for key in ("limit", "offset", "cursor"):
            del data[key]
        for key in ("log_types", "event_types", "severities"):
            data[key] = sorted(data[key])
        for key in ("start_date", "end_date"):
            data[key] = timestamp_us(data[key]) if data[key] is not None else None
        return hashlib.sha256(orjson.dumps(data, option=orjson.OPT_SORT_KEYS)).hexdigest()


class _Problems:
    def __init__(self) -> None:
        self.items: list[dict[str, str]] = []

    def add(self, field: str, rule: str) -> None:
        self.items.append({"field": field, "rule": rule})


def parse_query_request(body: Any) -> LogQuery:
    """Validate a ``POST /api/logs/query`` body; raise ``ValidationError`` naming every problem."""
    if body is None:
        body = {}
    if not isinstance(body, dict):
        raise ValidationError("body", "must be a JSON object")
    p = _Problems()
    for key in body:
        if key not in TOP_KEYS:
            p.add(str(key), "is not a known key (expected one of " + ", ".join(TOP_KEYS) + ")")
    values: dict[str, Any] = {}
    filters = body.get("filters")
    if filters is not None and not isinstance(filters, dict):
        p.add("filters", "must be an object")
    elif filters:
        _parse_filters(filters, values, p)

    limit = _integer(body.get("limit"), "limit", 1, MAX_LIMIT, p)
    offset = _integer(body.get("offset"), "offset", 0, None, p)
    values["limit"] = DEFAULT_LIMIT if limit is None else limit
    values["offset"] = 0 if offset is None else offset
    sort_by = _enum_value(body.get("sort_by"), "sort_by", tuple(SORT_FIELDS), p)
    values["sort_by"] = "timestamp" if sort_by in (None, "created_at") else sort_by
    values["sort_order"] = _enum_value(body.get("sort_order"), "sort_order", SORT_ORDERS, p) or "desc"

    cursor = body.get("cursor")
    if cursor is not None and cursor != "":
        if not isinstance(cursor, str) or len(cursor) > MAX_CURSOR_CHARS:
            p.add("cursor", "invalid cursor")
        else:
            values["cursor"] = cursor
            if offset:
                p.add("offset", "must be 0 (or absent) when a cursor is given")
    limit_ok = limit is not None or body.get("limit") is None
    offset_ok = offset is not None or body.get("offset") is None
    if limit_ok and offset_ok and "cursor" not in values:
        if values["offset"] + values["limit"] > MAX_WINDOW:
            p.add("offset", f"offset + limit must be at most {MAX_WINDOW}; "
                            "page further with the cursor (next_cursor)")
    if p.items:
        raise ValidationError(problems=p.items)
    return LogQuery(**values)


def _parse_filters(filters: dict[str, Any], out: dict[str, Any], p: _Problems) -> None:
    for key in filters:
        if key not in FILTER_KEYS:
            p.add(f"filters.{key}", "is not a known filter (expected one of "
                                    + ", ".join(FILTER_KEYS) + ")")
    out["log_types"] = _string_list(filters.get("log_types"), "filters.log_types", LOG_TYPES, p)
    out["severities"] = _string_list(filters.get("severities"), "filters.severities", SEVERITIES, p)
    out["event_types"] = _string_list(filters.get("event_types"), "filters.event_types", None, p)
    start = _date(filters.get("start_date"), "filters.start_date", p, end_of_day=False)
    end = _date(filters.get("end_date"), "filters.end_date", p, end_of_day=True)
    if start is not None and end is not None and end < start:
        p.add("filters.end_date", "must not be before filters.start_date")
    out["start_date"], out["end_date"] = start, end

    search = _text(filters.get("search"), "filters.search", MAX_SEARCH_CHARS, p)
    if search is not None and count_terms(search) > MAX_SEARCH_TERMS:
        p.add("filters.search", f"must contain at most {MAX_SEARCH_TERMS} words")
    out["search"] = search
    for name in ("trace_id", "user_id", "resource_id"):
        out[name] = _text(filters.get(name), f"filters.{name}", MAX_ID_CHARS, p)
    out["resource_type"] = _text(filters.get("resource_type"), "filters.resource_type", MAX_TYPE_CHARS, p)
    out["action"] = _enum_value(filters.get("action"), "filters.action", ACTIONS, p)
    out["min_duration_ms"] = _minimum(filters.get("min_duration_ms"), "filters.min_duration_ms", p)
    out["min_cost"] = _minimum(filters.get("min_cost"), "filters.min_cost", p)


def _string_list(value: Any, field: str, allowed: tuple[str, ...] | None,
                 p: _Problems) -> tuple[str, ...]:
    """A list of strings (empty or null: no filter), de-duplicated, in first-seen order."""
    if value is None:
        return ()
    if not isinstance(value, list):
        p.add(field, "must be a list of strings")
        return ()
    if len(value) > MAX_LIST_ITEMS:
        p.add(field, f"must have at most {MAX_LIST_ITEMS} items")
        return ()
    out: list[str] = []
    for i, item in enumerate(value):
        if allowed is not None:
            if not isinstance(item, str) or item not in allowed:
                p.add(f"{field}[{i}]", "must be one of " + ", ".join(allowed))
                continue
        elif not isinstance(item, str) or not 1 <= len(item) <= MAX_TYPE_CHARS:
            p.add(f"{field}[{i}]", f"must be a string of 1 to {MAX_TYPE_CHARS} characters")
            continue
        if item not in out:
            out.append(item)
    return tuple(out)


def _date(value: Any, field: str, p: _Problems, *, end_of_day: bool) -> datetime | None:
    """An ISO 8601 date-time (naive means UTC). A bare end date means the end of that day."""
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        p.add(field, "must be an ISO 8601 date-time string")
        return None
    text = value.strip()
    try:
        parsed = datetime.fromisoformat(text[:-1] + "+00:00" if text.endswith(("Z", "z")) else text)
    except ValueError:
        p.add(field, "must be an ISO 8601 date-time like 2024-01-31T23:59:59Z")
        return None
    if end_of_day and _DATE_ONLY.match(text):
        parsed = datetime.combine(parsed.date(), time.max)
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    try:
        return parsed.astimezone(UTC)
    except OverflowError:
        p.add(field, "is out of range")
        return None


def _text(value: Any, field: str, max_chars: int, p: _Problems) -> str | None:
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        p.add(field, "must be a string")
        return None
    if len(value) > max_chars:
        p.add(field, f"must be at most {max_chars} characters")
        return None
    return value


def _enum_value(value: Any, field: str, allowed: tuple[str, ...], p: _Problems) -> str | None:
    if value is None or value == "":
        return None
    if not isinstance(value, str) or value not in allowed:
        p.add(field, "must be one of " + ", ".join(allowed))
        return None
    return value


def _integer(value: Any, field: str, low: int, high: int | None, p: _Problems) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        p.add(field, "must be an integer")
        return None
    if value < low or (high is not None and value > high):
        p.add(field, f"must be between {low} and {high}" if high is not None else f"must be >= {low}")
        return None
    return value


def _minimum(value: Any, field: str, p: _Problems) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        p.add(field, "must be a number")
        return None
    if not math.isfinite(value):
        p.add(field, "must be a finite number")
        return None
    if value < 0:
        p.add(field, "must be >= 0")
        return None
    return float(value)


# --- DSL ---------------------------------------------------------------------------------

def build_query(org_id: str, q: LogQuery) -> dict[str, Any]:
    """The bool query for ``q``, always restricted to ``org_id`` (filter context throughout)."""
    clauses: list[dict[str, Any]] = [{"term": {"org_id": org_id}}]
    for field, values in (("log_type", q.log_types), ("event_type", q.event_types),
                          ("severity", q.severities)):
        if values:
            clauses.append({"terms": {field: list(values)}})
    if q.start_date is not None or q.end_date is not None:
        bounds: dict[str, int] = {}
        if q.start_date is not None:
            bounds["gte"] = timestamp_us(q.start_date)
        if q.end_date is not None:
            bounds["lte"] = timestamp_us(q.end_date)
        clauses.append({"range": {"timestamp_us": bounds}})
    for field in ("trace_id", "user_id", "resource_id", "resource_type", "action"):
        value = getattr(q, field)
        if value is not None:
            clauses.append({"term": {field: value}})
    if q.min_duration_ms is not None:
        clauses.append({"range": {"duration_ms": {"gte": q.min_duration_ms}}})
    if q.min_cost is not None:
        clauses.append({"range": {"cost": {"gte": q.min_cost}}})
    text = build_search_query(q.search)
    if text is not None:
        clauses.append(text)
    return {"bool": {"filter": clauses}}


def build_sort(q: LogQuery) -> list[dict[str, Any]]:
    """The sort, always ending in the unique tie-breaker ``timestamp_us``, ``id``.

    Missing values (null duration/cost) sort last in both directions.
    """
    field = SORT_FIELDS[q.sort_by]
    sort: list[dict[str, Any]] = []
    if field != "timestamp_us":
        sort.append({field: {"order": q.sort_order, "missing": "_last"}})
    sort.append({"timestamp_us": {"order": q.sort_order}})
    sort.append({"id": {"order": q.sort_order}})
    return sort

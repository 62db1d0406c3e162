"""``/logs``: the log explorer, and ``/logs/trace/{trace_id}``: one trace as a waterfall.

Both read through ``LogSearch`` with the signed-in principal's org, exactly as
``POST /api/logs/query`` and ``GET /api/logs/trace/{id}`` do.
"""

from __future__ import annotations

import math
from datetime import datetime
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from bonito_logs.api.auth import Principal
from bonito_logs.api.services import services
from bonito_logs.api.session import Session
from bonito_logs.api.web.filters import (
    PER_PAGE,
    RANGE_LABELS,
    metadata_preview,
    pages_to_show,
    view_from_params,
)
from bonito_logs.api.web.render import page, render
from bonito_logs.errors import NotFound, Unavailable, ValidationError
from bonito_logs.schemas import LOG_TYPES, SEVERITIES
from bonito_logs.store import parse_query_request

FIELD_LABELS = {
    "filters.start_date": "From", "filters.end_date": "To", "filters.search": "Search",
    "filters.event_types": "Event type", "filters.trace_id": "Trace id",
    "filters.user_id": "User id", "filters.resource_id": "Resource id",
}


@page("viewer")
async def explorer(request: Request, principal: Principal, session: Session) -> Response:
    view = view_from_params(request.query_params)
    body = view.body()
    result: dict[str, Any] | None = None
    problems: list[dict[str, str]] = []
    error = None
    try:
        result = await services(request).search.search(principal.org_id, parse_query_request(body))
    except ValidationError as exc:
        problems = [{"label": FIELD_LABELS.get(p["field"], p["field"]), **p} for p in exc.problems]
    except Unavailable as exc:
        error = str(exc)
    total = result["total"]["value"] if result else 0
    last_page = max(1, min(math.ceil(total / view.per), view.max_page))
    return render(request, "explorer.html", {
        "active": "logs", "view": view, "body": body, "result": result, "problems": problems,
        "error": error, "total": total, "last_page": last_page,
        "pages": pages_to_show(min(view.page, last_page), last_page),
        "range_labels": RANGE_LABELS, "log_types": LOG_TYPES, "severities": SEVERITIES,
        "per_page": PER_PAGE, "preview": metadata_preview,
    }, principal=principal, session=session)


def _micros(iso: str) -> int:
    moment = datetime.fromisoformat(iso.replace("Z", "+00:00"))
    return int(moment.timestamp()) * 1_000_000 + moment.microsecond


def waterfall(items: list[dict[str, Any]], width: int = 1000) -> dict[str, Any]:
    """Bars on a 0..``width`` axis: each record starts at its timestamp and lasts its duration."""
    starts = [_micros(item["timestamp"]) for item in items]
    first = min(starts)
    ends = [s + int((item.get("duration_ms") or 0) * 1000) for s, item in zip(starts, items, strict=True)]
    span_us = max(max(ends) - first, 1)
    rows = []
    for item, start, end in zip(items, starts, ends, strict=True):
        x = (start - first) / span_us * width
        bar = max((end - start) / span_us * width, 2.0)
        rows.append({"item": item, "offset_ms": (start - first) / 1000, "x": round(min(x, width - bar), 2),
                     "w": round(bar, 2), "timed": item.get("duration_ms") is not None})
    ticks = [round(span_us / 1000 * i / 4, 3) for i in range(5)]
    return {"rows": rows, "span_ms": span_us / 1000, "ticks": ticks, "width": width}


@page("viewer")
async def trace(request: Request, principal: Principal, session: Session) -> Response:
    trace_id = request.path_params["trace_id"]
    try:
        found = await services(request).search.trace(principal.org_id, trace_id)
    except NotFound:
        return render(request, "error.html", {
            "title": "Trace not found",
            "message": f"There is no trace {trace_id!r} in your organisation's logs."},
            principal=principal, session=session, status=404)
    except Unavailable as exc:
        return render(request, "error.html", {"title": "Service unavailable", "message": str(exc)},
                      principal=principal, session=session, status=503)
    summary = found["summary"]
    counts = summary["counts_by_severity"]
    return render(request, "trace.html", {
        "active": "logs", "trace_id": trace_id, "summary": summary, "chart": waterfall(found["items"]),
        "errors": counts.get("error", 0) + counts.get("critical", 0), "preview": metadata_preview,
    }, principal=principal, session=session)

"""Log search, one record, one trace: always within the caller's organisation."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from bonito_logs.api.auth import Principal
from bonito_logs.api.bodies import read_json_object
from bonito_logs.api.openapi import operation, ref, routes
from bonito_logs.api.services import services
from bonito_logs.store import parse_query_request


@operation("POST", "/api/logs/query", tag="logs", role="viewer",
           summary="Search the organisation's log records",
           description="Filters, full-text search, sorting and paging (offset, or `cursor` "
                       "for deep pages). An empty body means no filters.",
           body=ref("LogQuery"), ok=ref("SearchResult"), ok_description="One page of records")
async def query_logs(request: Request, principal: Principal) -> Response:
    body = await read_json_object(request, empty_is={})
    query = parse_query_request(body)
    return JSONResponse(await services(request).search.search(principal.org_id, query))


@operation("GET", "/api/logs/trace/{trace_id}", tag="logs", role="viewer",
           summary="Every record of one trace, in time order, with a summary",
           params={"trace_id": "the trace id the records share"},
           ok=ref("Trace"), ok_description="The trace")
async def get_trace(request: Request, principal: Principal) -> Response:
    trace_id = request.path_params["trace_id"]
    return JSONResponse(await services(request).search.trace(principal.org_id, trace_id))


@operation("GET", "/api/logs/{record_id}", tag="logs", role="viewer",
           summary="One log record by id",
           params={"record_id": "the record's id (a UUID)"},
           ok=ref("LogRecord"), ok_description="The record")
async def get_record(request: Request, principal: Principal) -> Response:
    record_id = request.path_params["record_id"]
    return JSONResponse(await services(request).search.get(principal.org_id, record_id))


# Order matters: /trace/{trace_id} must match before /{record_id}.
ROUTES = routes(query_logs, get_trace, get_record)

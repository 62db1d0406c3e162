"""The OpenAPI document, built from the routes the app actually serves."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from bonito_logs.api.openapi import build_document, operation, routes


@operation("GET", "/api/openapi.json", tag="docs", role=None,
           summary="This API's OpenAPI 3.1 document",
           ok={"type": "object"}, ok_description="The document", uses_backend=False)
async def openapi_document(request: Request) -> Response:
    document = getattr(request.app.state, "openapi", None)
    if document is None:
        document = request.app.state.openapi = build_document(request.app.routes)
    return JSONResponse(document)


ROUTES = routes(openapi_document)

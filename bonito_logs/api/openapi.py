"""OpenAPI 3.1 from the routes themselves: each endpoint declares its doc where it is defined.

    @operation("GET", "/api/logs/{record_id}", tag="logs", role="viewer",
               summary="One log record", ok=ref("LogRecord"))
    async def get_record(request, principal): ...

``operation`` wraps the endpoint with ``requires(role)`` (no role: public), and
``routes(...)`` turns decorated endpoints into Starlette routes. ``build_document``
walks the app's routes, so a route without a doc cannot be served unnoticed
(``undocumented_routes`` finds it; a unit test asserts there is none).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from starlette.routing import BaseRoute, Route

from bonito_logs.api import schemas
from bonito_logs.api.auth import requires

OPENAPI_VERSION = "3.1.0"
_PATH_PARAM = re.compile(r"{([a-zA-Z_][a-zA-Z0-9_]*)(?::[a-z]+)?}")

ERROR_DESCRIPTIONS: dict[int, str] = {
    400: "The request body is not valid JSON",
    401: "Missing, malformed, unknown or revoked API key",
    403: "The API key's role may not do this",
    404: "No such resource in the caller's organisation",
    413: "The request body is too large",
    422: "The request broke a validation rule; `problems` names each field and rule",
    500: "Unexpected server error",
    503: "A backing service (OpenSearch, Kafka) is unavailable",
}


def ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


@dataclass(frozen=True)
class Operation:
    """The documentation of one (method, path)."""

    method: str
    path: str
    summary: str
    tag: str
    role: str | None
    ok: dict[str, Any] | None
    ok_status: int = 200
    ok_description: str = "Success"
    ok_media_type: str = "application/json"
    body: dict[str, Any] | None = None
    description: str = ""
    params: dict[str, str] = field(default_factory=dict)
    responses: dict[int, tuple[str, dict[str, Any] | None]] = field(default_factory=dict)
    uses_backend: bool = True
    operation_id: str = ""

    @property
    def path_params(self) -> list[str]:
        return _PATH_PARAM.findall(self.path)

    def error_statuses(self) -> list[int]:
        statuses = {500}
        if self.role is not None:
            statuses |= {401, 403}
        if self.body is not None:
            statuses |= {400, 413, 422}
        if self.path_params:
            statuses.add(404)
        if self.uses_backend:
            statuses.add(503)
        return sorted(statuses - set(self.responses) - {self.ok_status})

    def to_openapi(self) -> dict[str, Any]:
        doc: dict[str, Any] = {
            "operationId": self.operation_id or _operation_id(self.method, self.path),
            "summary": self.summary,
            "tags": [self.tag],
        }
        if self.description:
            doc["description"] = self.description
        if self.path_params:
            doc["parameters"] = [
                {"name": name, "in": "path", "required": True,
                 "description": self.params.get(name, name.replace("_", " ")),
                 "schema": {"type": "string", "minLength": 1}}
                for name in self.path_params
            ]
        if self.body is not None:
            doc["requestBody"] = {"required": True,
                                  "content": {"application/json": {"schema": self.body}}}
        responses: dict[str, Any] = {str(self.ok_status): _response(self.ok_description, self.ok,
                                                                   self.ok_media_type)}
        for status, (description, schema) in self.responses.items():
            responses[str(status)] = _response(description, schema)
        for status in self.error_statuses():
            responses[str(status)] = _response(ERROR_DESCRIPTIONS[status], ref("Error"))
        doc["responses"] = dict(sorted(responses.items()))
        doc["security"] = [{"bearerAuth": []}] if self.role is not None else []
        if self.role is not None:
            doc["x-min-role"] = self.role
        return doc


def operation(method: str, path: str, *, summary: str, tag: str, role: str | None,
              ok: dict[str, Any] | None, **doc: Any) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Declare a route's method, path, role and documentation next to its code."""
    op = Operation(method=method.upper(), path=path, summary=summary, tag=tag, role=role, ok=ok, **doc)

    def decorate(endpoint: Callable[..., Any]) -> Callable[..., Any]:
        served = requires(role)(endpoint) if role is not None else endpoint
        served.__operation__ = replace(op, operation_id=endpoint.__name__)  # type: ignore[attr-defined]
        return served

    return decorate


def routes(*endpoints: Callable[..., Any]) -> list[Route]:
    """Starlette routes for decorated endpoints, in the order given (the order they match)."""
    out = []
    for endpoint in endpoints:
        op: Operation = endpoint.__operation__  # type: ignore[attr-defined]
        out.append(Route(op.path, endpoint, methods=[op.method], name=endpoint.__name__))
    return out


def operations(app_routes: Iterable[BaseRoute]) -> list[Operation]:
    return [route.endpoint.__operation__ for route in app_routes
            if isinstance(route, Route) and hasattr(route.endpoint, "__operation__")]


def served_operations(app_routes: Iterable[BaseRoute]) -> set[tuple[str, str]]:
    """(method, OpenAPI path) of every HTTP route the app serves (HEAD aside)."""
    served = set()
    for route in app_routes:
        if isinstance(route, Route):
            path = _PATH_PARAM.sub(r"{\1}", route.path)
            served |= {(method, path) for method in route.methods or () if method != "HEAD"}
    return served


def undocumented_routes(app_routes: Sequence[BaseRoute]) -> set[tuple[str, str]]:
    documented = {(op.method, _PATH_PARAM.sub(r"{\1}", op.path)) for op in operations(app_routes)}
    return served_operations(app_routes) - documented


def build_document(app_routes: Sequence[BaseRoute], *, title: str = "Bonito Logs API",
                   version: str = "0.1.0") -> dict[str, Any]:
    paths: dict[str, dict[str, Any]] = {}
    for op in operations(app_routes):
        path = _PATH_PARAM.sub(r"{\1}", op.path)
        paths.setdefault(path, {})[op.method.lower()] = op.to_openapi()
    return {
        "openapi": OPENAPI_VERSION,
        "info": {
            "title": title,
            "version": version,
            "description": (
                "Tenant-scoped log search, traces and API keys. Every /api/* route but this "
                "document needs `Authorization: Bearer <api key>`; the key decides the "
                "organisation and the role (viewer < member < admin)."
            ),
        },
        "paths": paths,
        "components": {
            "schemas": schemas.COMPONENTS,
            "securitySchemes": {
                "bearerAuth": {"type": "http", "scheme": "bearer", "bearerFormat": "bnt_<key_id>_<secret>"},
            },
        },
    }


def _response(description: str, schema: dict[str, Any] | None,
              media_type: str = "application/json") -> dict[str, Any]:
    out: dict[str, Any] = {"description": description}
    if schema is not None:
        out["content"] = {media_type: {"schema": schema}}
    return out


def _operation_id(method: str, path: str) -> str:
    words = re.sub(r"[^a-zA-Z0-9]+", "_", _PATH_PARAM.sub(r"by_\1", path)).strip("_")
    return f"{method.lower()}_{words}"

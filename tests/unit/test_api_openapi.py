"""The OpenAPI document is true to the app: same routes, schemas that resolve, auth declared."""

from __future__ import annotations

import pytest

from bonito_logs.api.app import create_app
from bonito_logs.api.openapi import build_document, served_operations, undocumented_routes
from bonito_logs.config import Settings
from bonito_logs.store.query import FILTER_KEYS, MAX_LIMIT, SORT_FIELDS, TOP_KEYS

METHODS = {"get", "post", "put", "patch", "delete"}


@pytest.fixture(scope="module")
def app():
    return create_app(Settings())


@pytest.fixture(scope="module")
def document(app):
    return build_document(app.routes)


def test_every_route_is_documented_and_nothing_else(app, document):
    assert undocumented_routes(app.routes) == set()
    documented = {(method.upper(), path) for path, item in document["paths"].items()
                  for method in item if method in METHODS}
    assert documented == served_operations(app.routes)


def test_expected_routes_are_there(document):
    assert set(document["paths"]) >= {
        "/api/logs/query", "/api/logs/trace/{trace_id}", "/api/logs/{record_id}",
        "/api/keys", "/api/keys/{key_id}", "/health", "/metrics", "/api/openapi.json",
    }
    assert set(document["paths"]["/api/keys"]) == {"get", "post"}


def test_version_and_security_scheme(document):
    assert document["openapi"].startswith("3.1")
    assert document["components"]["securitySchemes"]["bearerAuth"] == {
        "type": "http", "scheme": "bearer", "bearerFormat": "bnt_<key_id>_<secret>"}


def _operations(document):
    for path, item in document["paths"].items():
        for method, op in item.items():
            yield path, method, op


def test_authenticated_routes_declare_bearer_and_401_403(document):
    for path, _method, op in _operations(document):
        if path.startswith("/api/") and path != "/api/openapi.json":
            assert op["security"] == [{"bearerAuth": []}], path
            assert {"401", "403"} <= set(op["responses"]), path
            assert op["x-min-role"] in ("viewer", "member", "admin")
        else:
            assert op["security"] == [], path


def test_bodies_declare_400_413_422_and_path_params_404(document):
    for path, _method, op in _operations(document):
        if "requestBody" in op:
            assert {"400", "413", "422"} <= set(op["responses"]), path
        if "{" in path:
            assert "404" in op["responses"], path
            names = [p["name"] for p in op["parameters"]]
            assert [f"{{{n}}}" in path for n in names] == [True] * len(names)


def test_error_responses_use_the_error_schema(document):
    for path, _method, op in _operations(document):
        for status, response in op["responses"].items():
            if status.startswith(("4", "5")) and path != "/health":
                schema = response["content"]["application/json"]["schema"]
                assert schema == {"$ref": "#/components/schemas/Error"}, (path, status)
    assert document["paths"]["/health"]["get"]["responses"]["503"]["content"]["application/json"][
        "schema"] == {"$ref": "#/components/schemas/Health"}


def test_every_ref_resolves(document):
    refs = []

    def walk(node):
        if isinstance(node, dict):
            if "$ref" in node:
                refs.append(node["$ref"])
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(document)
    assert refs
    for ref in refs:
        assert ref.startswith("#/components/schemas/")
        assert ref.rsplit("/", 1)[1] in document["components"]["schemas"], ref


def test_query_schema_matches_the_store_rules(document):
    schemas = document["components"]["schemas"]
    query, filters = schemas["LogQuery"], schemas["LogQueryFilters"]
    assert query["additionalProperties"] is False and filters["additionalProperties"] is False
    assert set(query["properties"]) == set(TOP_KEYS)
    assert set(filters["properties"]) == set(FILTER_KEYS)
    assert query["properties"]["limit"]["maximum"] == MAX_LIMIT
    assert query["properties"]["limit"]["minimum"] == 1
    assert set(query["properties"]["sort_by"]["enum"]) - {None} == set(SORT_FIELDS)
    create = schemas["ApiKeyCreate"]
    assert create["additionalProperties"] is False
    assert create["properties"]["role"]["enum"] == ["viewer", "member", "admin"]


def test_operation_ids_are_unique(document):
    ids = [op["operationId"] for _path, _method, op in _operations(document)]
    assert len(ids) == len(set(ids))

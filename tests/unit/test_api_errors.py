"""Typed errors → HTTP status and the one error body; body parsing and size limit."""

from __future__ import annotations

import httpx
import orjson
import pytest
from opensearchpy import exceptions as os_errors
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from bonito_logs.api.bodies import read_json_object, reject_unknown_keys
from bonito_logs.api.errors import (
    EXCEPTION_HANDLERS,
    INTERNAL_MESSAGE,
    BodyLimitMiddleware,
    PayloadTooLarge,
    UnexpectedErrorMiddleware,
    response_for,
)
from bonito_logs.errors import (
    BadRequest,
    Conflict,
    DecodeError,
    Forbidden,
    NotFound,
    Unauthorized,
    Unavailable,
    ValidationError,
)


def body_of(response) -> dict:
    return orjson.loads(response.body)


@pytest.mark.parametrize(
    ("error", "status", "code"),
    [
        (ValidationError("limit", "must be between 1 and 1000"), 422, "validation_error"),
        (BadRequest("request body is not valid JSON"), 400, "bad_request"),
        (Unauthorized("invalid API key"), 401, "unauthorized"),
        (Forbidden("needs admin"), 403, "forbidden"),
        (NotFound("log record not found"), 404, "not_found"),
        (Conflict("already there"), 409, "conflict"),
        (PayloadTooLarge("too big"), 413, "payload_too_large"),
        (Unavailable("OpenSearch is unavailable"), 503, "unavailable"),
    ],
)
def test_each_typed_error_maps_to_its_status_and_the_one_body(error, status, code):
    response = response_for(error)
    assert response.status_code == status
    body = body_of(response)
    assert set(body) == {"error"}
    assert body["error"]["code"] == code
    assert body["error"]["message"] == str(error)
    assert isinstance(body["error"]["problems"], list)


def test_validation_error_lists_every_problem():
    error = ValidationError(problems=[{"field": "bogus", "rule": "is not a known key"},
                                      {"field": "limit", "rule": "must be an integer"}])
    body = body_of(response_for(error))
    assert body["error"]["problems"] == error.problems


def test_unauthorized_asks_for_a_bearer_token():
    response = response_for(Unauthorized("missing key"))
    assert response.headers["www-authenticate"].startswith("Bearer")


def test_opensearch_connection_error_is_503_not_500():
    response = response_for(os_errors.ConnectionError("N/A", "refused", None))
    assert response.status_code == 503
    assert body_of(response)["error"]["code"] == "unavailable"


@pytest.mark.parametrize("status", [429, 502, 503, 504])
def test_opensearch_overload_is_503(status):
    assert response_for(os_errors.TransportError(status, "overloaded", {})).status_code == 503


@pytest.mark.parametrize("error", [RuntimeError("secret detail"), DecodeError("bad bytes"), KeyError("x"),
                                   os_errors.RequestError(400, "parsing_exception", {})])
def test_unexpected_errors_are_500_without_details(error):
    response = response_for(error)
    assert response.status_code == 500
    assert body_of(response)["error"] == {"code": "internal_error", "message": INTERNAL_MESSAGE,
                                          "problems": []}


# --- through a real Starlette stack --------------------------------------------------------

async def echo(request: Request) -> JSONResponse:
    body = await read_json_object(request, empty_is={})
    reject_unknown_keys(body, {"a", "b"})
    return JSONResponse(body)


async def boom(request: Request) -> JSONResponse:
    raise RuntimeError("database password is hunter2")


async def missing(request: Request) -> JSONResponse:
    raise NotFound("log record not found")


def make_app() -> Starlette:
    return Starlette(
        routes=[Route("/echo", echo, methods=["POST"]), Route("/boom", boom),
                Route("/missing", missing)],
        middleware=[Middleware(UnexpectedErrorMiddleware), Middleware(BodyLimitMiddleware, max_bytes=1024)],
        exception_handlers=EXCEPTION_HANDLERS,
    )


@pytest.fixture
async def client():
    transport = httpx.ASGITransport(app=make_app())
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as c:
        yield c


async def test_json_object_body_passes(client):
    response = await client.post("/echo", json={"a": 1})
    assert response.status_code == 200
    assert response.json() == {"a": 1}


async def test_empty_body_reads_as_empty_object_where_allowed(client):
    response = await client.post("/echo", content=b"")
    assert response.status_code == 200


async def test_invalid_json_is_400(client):
    response = await client.post("/echo", content=b"{not json", headers={"content-type": "application/json"})
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "bad_request"
    assert "not valid JSON" in response.json()["error"]["message"]


@pytest.mark.parametrize(("payload", "kind"), [(b"[1, 2]", "an array"), (b'"x"', "a string"),
                                              (b"3", "a number"), (b"null", "null")])
async def test_json_that_is_not_an_object_is_422(client, payload, kind):
    response = await client.post("/echo", content=payload)
    assert response.status_code == 422
    assert response.json()["error"]["problems"] == [{"field": "body", "rule": f"must be a JSON object, not {kind}"}]


async def test_unknown_keys_are_named(client):
    response = await client.post("/echo", json={"a": 1, "zz": 2, "c": 3})
    assert response.status_code == 422
    assert [p["field"] for p in response.json()["error"]["problems"]] == ["c", "zz"]


async def test_declared_oversized_body_is_413(client):
    response = await client.post("/echo", content=b"{" + b" " * 2000 + b"}")
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "payload_too_large"


async def test_streamed_oversized_body_is_413(client):
    async def chunks():
        for _ in range(10):
            yield b" " * 200

    response = await client.post("/echo", content=chunks())
    assert response.status_code == 413


async def test_unexpected_exception_is_generic_500_and_logged(client, caplog):
    response = await client.get("/boom")
    assert response.status_code == 500
    assert response.json()["error"]["message"] == INTERNAL_MESSAGE
    assert "hunter2" not in response.text
    assert any("hunter2" in (r.exc_text or "") or r.exc_info for r in caplog.records)


async def test_typed_error_from_a_route(client):
    response = await client.get("/missing")
    assert response.status_code == 404
    assert response.json() == {"error": {"code": "not_found", "message": "log record not found", "problems": []}}


async def test_unknown_path_and_wrong_method_use_the_error_body(client):
    response = await client.get("/nowhere")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"
    response = await client.get("/echo")
    assert response.status_code == 405
    assert response.json()["error"]["code"] == "method_not_allowed"

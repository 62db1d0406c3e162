"""The one place typed errors become HTTP responses.

Every error answer has the same body: ``{"error": {"code", "message", "problems"}}``.
Expected failures are ``BonitoError`` subclasses raised anywhere below the routes;
anything else is a bug: logged with its traceback, answered 500 with a generic message.
"""

from __future__ import annotations

import logging
from typing import Any

from opensearchpy import exceptions as os_errors
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from bonito_logs.errors import (
    BadRequest,
    BonitoError,
    Conflict,
    Forbidden,
    NotFound,
    Unauthorized,
    Unavailable,
    ValidationError,
)

log = logging.getLogger(__name__)


class PayloadTooLarge(BonitoError):
    status = 413
    code = "payload_too_large"


# Most specific first: the first class the error is an instance of decides.
STATUS_BY_ERROR: tuple[tuple[type[BonitoError], int], ...] = (
    (ValidationError, 422),
    (BadRequest, 400),
    (Unauthorized, 401),
    (Forbidden, 403),
    (NotFound, 404),
    (Conflict, 409),
    (PayloadTooLarge, 413),
    (Unavailable, 503),
)

_CODE_BY_STATUS = {
    400: "bad_request", 401: "unauthorized", 403: "forbidden", 404: "not_found",
    405: "method_not_allowed", 409: "conflict", 413: "payload_too_large",
    415: "unsupported_media_type", 422: "validation_error", 500: "internal_error",
    503: "unavailable",
}
WWW_AUTHENTICATE = 'Bearer realm="bonito-logs"'
INTERNAL_MESSAGE = "internal server error"


def error_body(code: str, message: str, problems: list[dict[str, str]] | None = None) -> dict[str, Any]:
    return {"error": {"code": code, "message": message, "problems": list(problems or [])}}


def error_response(status: int, message: str, *, code: str | None = None,
                   problems: list[dict[str, str]] | None = None,
                   headers: dict[str, str] | None = None) -> JSONResponse:
    code = code or _CODE_BY_STATUS.get(status, "error")
    headers = dict(headers or {})
    if status == 401:
        headers.setdefault("WWW-Authenticate", WWW_AUTHENTICATE)
    return JSONResponse(error_body(code, message, problems), status_code=status, headers=headers)


def status_for(exc: BaseException) -> int | None:
    """The HTTP status of an expected error, ``None`` for a bug."""
    for cls, status in STATUS_BY_ERROR:
        if isinstance(exc, cls):
            return status
    return None


def response_for(exc: BaseException) -> JSONResponse:
    """The response for any exception (the single mapping every handler goes through)."""
    if _is_opensearch_outage(exc):
        exc = Unavailable("OpenSearch is unavailable")
    status = status_for(exc)
    if status is None:
        return error_response(500, INTERNAL_MESSAGE)
    problems = exc.problems if isinstance(exc, ValidationError) else None
    message = str(exc) or _CODE_BY_STATUS.get(status, "error").replace("_", " ")
    return error_response(status, message, code=exc.code, problems=problems)


async def _handle_bonito_error(request: Request, exc: Exception) -> Response:
    if status_for(exc) is None:
        log.error("unexpected %s on %s %s", type(exc).__name__, request.method, request.url.path,
                  exc_info=exc)
    return response_for(exc)


def _is_opensearch_outage(exc: BaseException) -> bool:
    """Connection failures and overload answers: the client should retry later (503)."""
    return isinstance(exc, os_errors.ConnectionError) or (
        isinstance(exc, os_errors.TransportError) and exc.status_code in (429, 502, 503, 504))


async def _handle_opensearch_error(request: Request, exc: Exception) -> Response:
    if _is_opensearch_outage(exc):
        log.warning("OpenSearch unavailable on %s %s: %s", request.method, request.url.path, exc)
    else:  # a request OpenSearch refused is our bug, not the caller's
        log.error("OpenSearch error on %s %s", request.method, request.url.path, exc_info=exc)
    return response_for(exc)


async def _handle_http_exception(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    headers = dict(exc.headers or {})
    message = exc.detail if isinstance(exc.detail, str) else _CODE_BY_STATUS.get(exc.status_code, "error")
    return error_response(exc.status_code, message, headers=headers)


EXCEPTION_HANDLERS: dict[Any, Any] = {
    BonitoError: _handle_bonito_error,
    os_errors.TransportError: _handle_opensearch_error,
    HTTPException: _handle_http_exception,
}


class UnexpectedErrorMiddleware:
    """Turns any exception that escaped the handlers into the generic 500 body, logged once."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, receive, tracking_send)
        except Exception:
            log.exception("unhandled error on %s %s", scope.get("method"), scope.get("path"))
            if started:  # too late for a clean answer: let the server drop the connection
                raise
            await error_response(500, INTERNAL_MESSAGE)(scope, receive, send)


class BodyLimitMiddleware:
    """Refuses request bodies over ``max_bytes`` with 413, declared or streamed."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        message = f"request body is larger than {self.max_bytes} bytes"
        for name, value in scope.get("headers", ()):
            if name == b"content-length":
                try:
                    declared = int(value)
                except ValueError:
                    declared = -1
                if declared > self.max_bytes:
                    await error_response(413, message)(scope, receive, send)
                    return
        seen = 0

        async def limited_receive() -> Message:
            nonlocal seen
            received = await receive()
            if received["type"] == "http.request":
                seen += len(received.get("body", b""))
                if seen > self.max_bytes:
                    raise PayloadTooLarge(message)
            return received

        await self.app(scope, limited_receive, send)

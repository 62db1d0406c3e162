"""Reading request bodies: JSON objects only, with errors that say what is wrong."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import orjson
from starlette.requests import Request

from bonito_logs.errors import BadRequest, ValidationError


async def read_json_object(request: Request, *, empty_is: dict[str, Any] | None = None) -> dict[str, Any]:
    """The body as a JSON object. Not JSON → ``BadRequest`` (400); not an object → 422.

    An empty body reads as ``empty_is`` when given (routes whose keys are all optional).
    """
    raw = await request.body()
    if not raw.strip() and empty_is is not None:
        return dict(empty_is)
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise BadRequest(f"request body is not valid JSON: {exc}") from None
    if not isinstance(body, dict):
        raise ValidationError("body", f"must be a JSON object, not {_json_type(body)}")
    return body


def reject_unknown_keys(body: dict[str, Any], allowed: Iterable[str], prefix: str = "") -> None:
    """422 naming every key of ``body`` not in ``allowed``."""
    allowed = set(allowed)
    unknown = sorted(key for key in body if key not in allowed)
    if unknown:
        raise ValidationError(problems=[{"field": prefix + key, "rule": "is not a known field"}
                                        for key in unknown])


def _json_type(value: Any) -> str:
    if isinstance(value, list):
        return "an array"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    return "null"

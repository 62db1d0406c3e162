"""Typed errors. The API maps them to HTTP in one place (``bonito_logs.api.errors``)."""

from __future__ import annotations


class BonitoError(Exception):
    """Base class of every error this package raises on purpose."""

    status = 500
    code = "internal_error"


class ValidationError(BonitoError, ValueError):
    """Input broke a rule. ``problems`` holds one ``{"field", "rule"}`` per broken rule."""

    status = 422
    code = "validation_error"

    def __init__(self, field: str | None = None, rule: str | None = None, *,
                 problems: list[dict[str, str]] | None = None) -> None:
        self.problems: list[dict[str, str]] = list(problems or [])
        if field is not None:
            self.problems.insert(0, {"field": field, "rule": rule or "is invalid"})
        if not self.problems:
            raise TypeError("ValidationError needs a field and rule, or problems")
        super().__init__("; ".join(f"{p['field']}: {p['rule']}" for p in self.problems))

    @property
    def field(self) -> str:
        return self.problems[0]["field"]

    @property
    def rule(self) -> str:
        return self.problems[0]["rule"]


class BadRequest(BonitoError):
    status = 400
    code = "bad_request"


class Unauthorized(BonitoError):
    status = 401
    code = "unauthorized"


class Forbidden(BonitoError):
    status = 403
    code = "forbidden"


class NotFound(BonitoError):
    status = 404
    code = "not_found"


class Conflict(BonitoError):
    status = 409
    code = "conflict"


class Unavailable(BonitoError):
    """A backing service (Kafka, OpenSearch, a destination) cannot be reached right now."""

    status = 503
    code = "unavailable"


class DecodeError(BonitoError):
    """Bytes on a topic are not a record we can read (bad marker, truncated, corrupt)."""

    code = "decode_error"


class UnknownSchema(DecodeError):
    """The single-object header names a schema fingerprint we do not ship."""

    code = "unknown_schema"

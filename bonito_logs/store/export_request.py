"""The export request: ``parse_export_request`` validates a ``POST /api/logs/export`` body.

The filters and the sort go through ``parse_query_request``, so they obey exactly
the query API's rules and report the same paths (``filters.start_date``...).
Every broken rule is reported at once, each as ``{"field", "rule"}``.

``ExportRequest.to_body()`` is the normalised body that the job stores; parsing
it again gives the same request (the worker does that to rebuild the query).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from bonito_logs.errors import ValidationError
from bonito_logs.schemas import FIELDS
from bonito_logs.store.query import LogQuery, parse_query_request

EXPORT_FORMATS: tuple[str, ...] = ("csv", "json", "ndjson")
EXPORT_KEYS: tuple[str, ...] = (
    "filters", "export_format", "include_metadata", "email_when_complete",
    "sort_by", "sort_order", "fields", "compress",
)
CONTENT_TYPES = {
    "csv": "text/csv; charset=utf-8",
    "json": "application/json",
    "ndjson": "application/x-ndjson",
}
_BOOLEANS = {"include_metadata": True, "email_when_complete": False, "compress": False}


@dataclass(frozen=True)
class ExportRequest:
    """A validated export request. ``columns`` is what each row holds, in file order."""

    query: LogQuery
    export_format: str = "csv"
    include_metadata: bool = True
    email_when_complete: bool = False
    compress: bool = False
    fields: tuple[str, ...] | None = None
    filters: dict[str, Any] | None = None

    @property
    def columns(self) -> tuple[str, ...]:
        chosen = self.fields if self.fields is not None else FIELDS
        return tuple(c for c in chosen if self.include_metadata or c != "metadata")

    @property
    def extension(self) -> str:
        return self.export_format + (".gz" if self.compress else "")

    @property
    def content_type(self) -> str:
        return "application/gzip" if self.compress else CONTENT_TYPES[self.export_format]

    def to_body(self) -> dict[str, Any]:
        """The normalised request body, JSON-ready; ``parse_export_request`` accepts it."""
        return {
            "filters": self.filters or {},
            "export_format": self.export_format,
            "include_metadata": self.include_metadata,
            "email_when_complete": self.email_when_complete,
            "sort_by": self.query.sort_by,
            "sort_order": self.query.sort_order,
            "fields": list(self.fields) if self.fields is not None else None,
            "compress": self.compress,
        }


def parse_export_request(body: Any) -> ExportRequest:
    """Validate an export body; raise ``ValidationError`` naming every problem."""
    if body is None:
        body = {}
    if not isinstance(body, dict):
        raise ValidationError("body", "must be a JSON object")
    problems: list[dict[str, str]] = []

    def add(field: str, rule: str) -> None:
        problems.append({"field": field, "rule": rule})

    for key in body:
        if key not in EXPORT_KEYS:
            add(str(key), "is not a known key (expected one of " + ", ".join(EXPORT_KEYS) + ")")
    query_body = {key: body[key] for key in ("filters", "sort_by", "sort_order") if key in body}
    query = LogQuery()
    try:
        query = parse_query_request(query_body)
    except ValidationError as exc:
        problems.extend(exc.problems)

    export_format = body.get("export_format")
    if export_format is None:
        export_format = "csv"
    elif export_format not in EXPORT_FORMATS:
        add("export_format", "must be one of " + ", ".join(EXPORT_FORMATS))
    flags: dict[str, bool] = {}
    for name, default in _BOOLEANS.items():
        value = body.get(name)
        if value is None:
            flags[name] = default
        elif not isinstance(value, bool):
            add(name, "must be true or false")
        else:
            flags[name] = value
    fields = _fields(body.get("fields"), add)
    if fields is not None and "metadata" in fields and flags.get("include_metadata") is False:
        add("fields", "names metadata while include_metadata is false")

    if problems:
        raise ValidationError(problems=problems)
    return ExportRequest(query=query, export_format=export_format, fields=fields,
                         filters=_normalised_filters(body.get("filters"), query), **flags)


def _fields(value: Any, add: Any) -> tuple[str, ...] | None:
    """A non-empty list of distinct schema field names, kept in the caller's order."""
    if value is None:
        return None
    if not isinstance(value, list) or not value:
        add("fields", "must be a non-empty list of field names")
        return None
    seen: list[str] = []
    bad = False
    for i, name in enumerate(value):
        if not isinstance(name, str) or name not in FIELDS:
            add(f"fields[{i}]", "must be one of " + ", ".join(FIELDS))
            bad = True
        elif name in seen:
            add(f"fields[{i}]", f"repeats {name}")
            bad = True
        else:
            seen.append(name)
    return None if bad else tuple(seen)


def _normalised_filters(filters: Any, query: LogQuery) -> dict[str, Any]:
    """The given filters with dates made explicit (a bare end date is its day's end)."""
    out = {key: value for key, value in (filters or {}).items() if value is not None and value != ""}
    for key in ("start_date", "end_date"):
        moment = getattr(query, key)
        if moment is not None:
            out[key] = moment.isoformat()
    return out

"""Export request validation: the query API's filter rules, the export's own keys."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from bonito_logs.errors import ValidationError
from bonito_logs.schemas import FIELDS
from bonito_logs.store.export_request import parse_export_request
from bonito_logs.store.query import parse_query_request


def _problems(body):
    with pytest.raises(ValidationError) as info:
        parse_export_request(body)
    return {p["field"]: p["rule"] for p in info.value.problems}


def test_the_documented_example():
    request = parse_export_request({
        "filters": {"log_types": ["gateway"], "start_date": "2024-01-01T00:00:00Z",
                    "end_date": "2024-01-31T23:59:59Z"},
        "export_format": "csv", "include_metadata": True, "email_when_complete": True})
    assert request.export_format == "csv" and request.email_when_complete
    assert request.query.log_types == ("gateway",)
    assert request.query.start_date == datetime(2024, 1, 1, tzinfo=UTC)
    assert request.columns == FIELDS
    assert request.content_type == "text/csv; charset=utf-8" and request.extension == "csv"


def test_defaults():
    request = parse_export_request({})
    assert (request.export_format, request.include_metadata, request.email_when_complete,
            request.compress, request.fields) == ("csv", True, False, False, None)
    assert (request.query.sort_by, request.query.sort_order) == ("timestamp", "desc")


def test_unknown_keys_are_named():
    problems = _problems({"export_format": "csv", "limit": 5, "colour": "red"})
    assert set(problems) == {"limit", "colour"}


def test_filter_problems_are_the_query_apis():
    filters = {"log_types": ["x"], "start_date": "soon", "end_date": "2020-01-01",
               "min_cost": -1, "nope": 1}
    with pytest.raises(ValidationError) as query:
        parse_query_request({"filters": filters})
    with pytest.raises(ValidationError) as export:
        parse_export_request({"filters": filters})
    assert export.value.problems == query.value.problems


def test_export_keys():
    problems = _problems({"export_format": "xlsx", "include_metadata": 1, "compress": "yes",
                          "email_when_complete": None, "sort_order": "up"})
    assert set(problems) == {"export_format", "include_metadata", "compress", "sort_order"}


@pytest.mark.parametrize("fields, field", [
    ([], "fields"), ("id", "fields"), (["id", "bogus"], "fields[1]"), (["id", "id"], "fields[1]"),
    ([3], "fields[0]"),
])
def test_bad_fields(fields, field):
    assert field in _problems({"fields": fields})


def test_fields_subset_and_metadata():
    request = parse_export_request({"fields": ["message", "id", "metadata"]})
    assert request.columns == ("message", "id", "metadata")
    without = parse_export_request({"include_metadata": False})
    assert "metadata" not in without.columns and len(without.columns) == len(FIELDS) - 1
    assert "fields" in _problems({"fields": ["metadata"], "include_metadata": False})


def test_compress_and_formats():
    request = parse_export_request({"export_format": "ndjson", "compress": True})
    assert request.extension == "ndjson.gz" and request.content_type == "application/gzip"
    assert parse_export_request({"export_format": "json"}).content_type == "application/json"


def test_to_body_parses_back_to_the_same_request():
    request = parse_export_request({
        "filters": {"log_types": ["gateway", "gateway"], "end_date": "2024-01-31", "search": "x",
                    "trace_id": ""},
        "export_format": "json", "fields": ["id", "message"], "sort_by": "cost", "sort_order": "asc"})
    body = request.to_body()
    assert body["filters"]["end_date"].startswith("2024-01-31T23:59:59.999999")
    assert "trace_id" not in body["filters"]
    again = parse_export_request(body)
    assert again == request
    assert again.query.fingerprint() == request.query.fingerprint()

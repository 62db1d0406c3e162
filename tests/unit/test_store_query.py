"""parse_query_request: defaults, every rule, every problem named by its field path."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from bonito_logs.errors import ValidationError
from bonito_logs.store import LogQuery, build_query, build_sort, parse_query_request

ORG = "0b8e6d1c-3f0a-4d5e-9a7b-2c1d0e9f8a7b"


def problems(body) -> dict[str, str]:
    with pytest.raises(ValidationError) as info:
        parse_query_request(body)
    return {p["field"]: p["rule"] for p in info.value.problems}


def test_defaults():
    for body in (None, {}, {"filters": {}}, {"filters": None, "cursor": None}):
        q = parse_query_request(body)
        assert q == LogQuery()
        assert (q.limit, q.offset, q.sort_by, q.sort_order, q.cursor) == (100, 0, "timestamp", "desc", None)


def test_full_valid_request():
    q = parse_query_request({
        "filters": {"log_types": ["gateway", "auth", "gateway"], "event_types": ["request"],
                    "severities": ["error", "critical"],
                    "start_date": "2024-01-01T00:00:00Z", "end_date": "2024-01-31T23:59:59.5+01:00",
                    "search": "timeout", "trace_id": "t-1", "user_id": "u-1",
                    "resource_id": "r-1", "resource_type": "model", "action": "execute",
                    "min_duration_ms": 100, "min_cost": 0.01},
        "limit": 50, "offset": 10, "sort_by": "created_at", "sort_order": "asc", "cursor": None})
    assert q.log_types == ("gateway", "auth")
    assert q.severities == ("error", "critical")
    assert q.start_date == datetime(2024, 1, 1, tzinfo=UTC)
    assert q.end_date == datetime(2024, 1, 31, 22, 59, 59, 500000, tzinfo=UTC)
    assert q.min_duration_ms == 100.0 and isinstance(q.min_duration_ms, float)
    assert q.sort_by == "timestamp" and q.sort_order == "asc"
    assert (q.limit, q.offset) == (50, 10)


def test_empty_strings_and_lists_mean_not_given():
    q = parse_query_request({"filters": {"search": "", "trace_id": "", "action": "", "log_types": [],
                                         "start_date": ""}, "sort_by": "", "cursor": ""})
    assert q == LogQuery()


def test_naive_dates_are_utc_and_bare_end_date_is_end_of_day():
    q = parse_query_request({"filters": {"start_date": "2024-01-01", "end_date": "2024-01-31"}})
    assert q.start_date == datetime(2024, 1, 1, tzinfo=UTC)
    assert q.end_date == datetime(2024, 1, 31, 23, 59, 59, 999999, tzinfo=UTC)


def test_unknown_keys_are_all_named():
    found = problems({"filters": {"bogus": 1, "log_type": ["x"]}, "page": 2, "size": 3})
    assert set(found) == {"page", "size", "filters.bogus", "filters.log_type"}
    assert "not a known" in found["page"]


@pytest.mark.parametrize("body, field, rule_part", [
    ([], "body", "JSON object"),
    ("x", "body", "JSON object"),
    ({"filters": []}, "filters", "object"),
    ({"filters": {"log_types": "gateway"}}, "filters.log_types", "list"),
    ({"filters": {"log_types": ["gateway", "nope"]}}, "filters.log_types[1]", "one of"),
    ({"filters": {"log_types": [1]}}, "filters.log_types[0]", "one of"),
    ({"filters": {"severities": ["fatal"]}}, "filters.severities[0]", "one of"),
    ({"filters": {"event_types": [""]}}, "filters.event_types[0]", "1 to 64"),
    ({"filters": {"event_types": ["x" * 65]}}, "filters.event_types[0]", "1 to 64"),
    ({"filters": {"event_types": ["a"] * 101}}, "filters.event_types", "at most 100"),
    ({"filters": {"start_date": "yesterday"}}, "filters.start_date", "ISO 8601"),
    ({"filters": {"start_date": 1704067200}}, "filters.start_date", "ISO 8601"),
    ({"filters": {"end_date": "2024-13-01T00:00:00Z"}}, "filters.end_date", "ISO 8601"),
    ({"filters": {"start_date": "2024-02-01T00:00:00Z", "end_date": "2024-01-01T00:00:00Z"}},
     "filters.end_date", "before"),
    ({"filters": {"search": "x" * 1001}}, "filters.search", "at most 1000"),
    ({"filters": {"search": " ".join(["w"] * 101)}}, "filters.search", "at most 100 words"),
    ({"filters": {"search": "日" * 101}}, "filters.search", "at most 100 words"),
    ({"filters": {"search": ["timeout"]}}, "filters.search", "string"),
    ({"filters": {"trace_id": 5}}, "filters.trace_id", "string"),
    ({"filters": {"user_id": "u" * 257}}, "filters.user_id", "at most 256"),
    ({"filters": {"resource_type": "r" * 65}}, "filters.resource_type", "at most 64"),
    ({"filters": {"action": "explode"}}, "filters.action", "one of"),
    ({"filters": {"min_duration_ms": -1}}, "filters.min_duration_ms", ">= 0"),
    ({"filters": {"min_duration_ms": "100"}}, "filters.min_duration_ms", "number"),
    ({"filters": {"min_cost": True}}, "filters.min_cost", "number"),
    ({"filters": {"min_cost": float("inf")}}, "filters.min_cost", "finite"),
    ({"filters": {"min_cost": -0.5}}, "filters.min_cost", ">= 0"),
    ({"limit": 0}, "limit", "between 1 and 1000"),
    ({"limit": 1001}, "limit", "between 1 and 1000"),
    ({"limit": 10.0}, "limit", "integer"),
    ({"limit": "10"}, "limit", "integer"),
    ({"limit": True}, "limit", "integer"),
    ({"offset": -1}, "offset", ">= 0"),
    ({"offset": 9950, "limit": 100}, "offset", "cursor"),
    ({"offset": 10000}, "offset", "cursor"),
    ({"sort_by": "message"}, "sort_by", "one of"),
    ({"sort_order": "up"}, "sort_order", "asc, desc"),
    ({"cursor": 12}, "cursor", "invalid cursor"),
    ({"cursor": "x" * 5000}, "cursor", "invalid cursor"),
    ({"cursor": "abc", "offset": 5}, "offset", "cursor"),
])
def test_each_rule_names_its_field(body, field, rule_part):
    found = problems(body)
    assert field in found, found
    assert rule_part in found[field]


def test_window_edge_is_allowed_and_cursor_lifts_the_window():
    assert parse_query_request({"offset": 9000, "limit": 1000}).offset == 9000
    assert parse_query_request({"cursor": "abc", "limit": 1000}).cursor == "abc"
    assert parse_query_request({"cursor": "abc", "offset": 0}).offset == 0


def test_every_problem_is_reported_at_once():
    found = problems({"limit": 0, "offset": -3, "sort_by": "x", "extra": 1,
                      "filters": {"severities": ["bad"], "min_cost": -1, "start_date": "no"}})
    assert set(found) == {"limit", "offset", "sort_by", "extra", "filters.severities[0]",
                          "filters.min_cost", "filters.start_date"}


def test_window_not_reported_when_limit_itself_is_bad():
    assert set(problems({"offset": 9990, "limit": 5000})) == {"limit"}


def test_fingerprint_ignores_paging_and_list_order_but_not_filters_or_sort():
    a = parse_query_request({"filters": {"log_types": ["gateway", "auth"]}, "limit": 5})
    b = parse_query_request({"filters": {"log_types": ["auth", "gateway"]}, "offset": 7,
                             "sort_by": "created_at"})
    assert a.fingerprint() == b.fingerprint()
    c = parse_query_request({"filters": {"log_types": ["auth"]}})
    d = parse_query_request({"filters": {"log_types": ["gateway", "auth"]}, "sort_order": "asc"})
    e = parse_query_request({"filters": {"log_types": ["gateway", "auth"]}, "sort_by": "cost"})
    assert len({a.fingerprint(), c.fingerprint(), d.fingerprint(), e.fingerprint()}) == 4


def test_build_query_always_has_org_and_exact_microsecond_range():
    q = parse_query_request({"filters": {"start_date": "2024-01-01T00:00:00.000001Z",
                                         "end_date": "2024-01-01T00:00:01Z",
                                         "severities": ["error"], "min_cost": 0,
                                         "search": "timeout", "user_id": "u"}})
    body = build_query(ORG, q)
    clauses = body["bool"]["filter"]
    assert clauses[0] == {"term": {"org_id": ORG}}
    assert {"terms": {"severity": ["error"]}} in clauses
    assert {"range": {"timestamp_us": {"gte": 1704067200000001, "lte": 1704067201000000}}} in clauses
    assert {"range": {"cost": {"gte": 0.0}}} in clauses
    assert {"term": {"user_id": "u"}} in clauses
    assert list(body) == ["bool"] and list(body["bool"]) == ["filter"]


@pytest.mark.parametrize("sort_by, first", [
    ("timestamp", None), ("created_at", None), ("duration_ms", "duration_ms"),
    ("cost", "cost"), ("severity", "severity_rank")])
@pytest.mark.parametrize("order", ["asc", "desc"])
def test_sort_ends_with_unique_tie_breaker(sort_by, first, order):
    sort = build_sort(parse_query_request({"sort_by": sort_by, "sort_order": order}))
    assert sort[-2:] == [{"timestamp_us": {"order": order}}, {"id": {"order": order}}]
    if first is None:
        assert len(sort) == 2
    else:
        assert sort[0] == {first: {"order": order, "missing": "_last"}}

"""parse_stats_request: defaults, alignment, every rule named by its parameter; the read plan."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from bonito_logs.errors import ValidationError
from bonito_logs.store.rollup_docs import to_ms
from bonito_logs.store.stats_read import plan
from bonito_logs.store.stats_request import StatsRequest, parse_stats_request

NOW = datetime(2026, 5, 10, 12, 34, 56, tzinfo=UTC)


def problems(params) -> dict[str, str]:
    with pytest.raises(ValidationError) as info:
        parse_stats_request(params, now=NOW)
    return {p["field"]: p["rule"] for p in info.value.problems}


def test_defaults_are_the_last_24_hours_by_hour():
    req = parse_stats_request({}, now=NOW)
    assert req.interval == "hour" and req.group_by is None
    assert req.start_ms == to_ms(datetime(2026, 5, 9, 12, tzinfo=UTC))
    assert req.end_ms == to_ms(datetime(2026, 5, 10, 13, tzinfo=UTC))  # rounded up
    assert req.buckets == 25


def test_range_is_widened_to_whole_intervals_and_bare_dates_are_days():
    req = parse_stats_request({"start": "2026-05-01T10:15:00+02:00", "end": "2026-05-03",
                               "interval": "day"}, now=NOW)
    assert req.start_ms == to_ms(datetime(2026, 5, 1, tzinfo=UTC))
    assert req.end_ms == to_ms(datetime(2026, 5, 4, tzinfo=UTC))  # the end of May 3rd
    naive = parse_stats_request({"start": "2026-05-01T10:15:30", "end": "2026-05-01T10:17",
                                 "interval": "minute"}, now=NOW)
    assert naive.buckets == 2


def test_lists_are_comma_separated_or_repeated():
    req = parse_stats_request([("log_types", "gateway,agent"), ("log_types", "kb"),
                               ("severities", "error"), ("severities", " critical ,error")], now=NOW)
    assert req.log_types == ("gateway", "agent", "kb")
    assert req.severities == ("error", "critical")


@pytest.mark.parametrize(("params", "field", "words"), [
    ({"start": "yesterday"}, "start", "ISO 8601"),
    ({"end": "2026-13-01"}, "end", "ISO 8601"),
    ({"start": "1969-12-31T00:00:00Z"}, "start", "between"),
    ({"start": "2026-05-02", "end": "2026-05-01T00:00:00Z"}, "end", "after start"),
    ({"interval": "week"}, "interval", "minute, hour, day"),
    ({"group_by": "user_id"}, "group_by", "log_type, event_type, severity, model, provider"),
    ({"log_types": "gateway,nope"}, "log_types", "'nope'"),
    ({"severities": "fatal"}, "severities", "'fatal'"),
    ({"bogus": "1"}, "bogus", "not a parameter"),
])
def test_each_rule_names_its_parameter(params, field, words):
    found = problems(params)
    assert field in found and words in found[field], found


def test_too_many_buckets_suggests_a_coarser_interval():
    found = problems({"start": "2026-05-01", "end": "2026-05-08T00:01:00Z", "interval": "minute"})
    assert "more than 10080" in found["interval"] and "interval=hour" in found["interval"]
    seven_days = parse_stats_request({"start": "2026-05-01", "end": "2026-05-07", "interval": "minute"},
                                     now=NOW)
    assert seven_days.buckets == 10_080
    assert "interval=day" in problems({"start": "2020-01-01", "end": "2026-01-01"})["interval"]
    too_long = problems({"start": "1990-01-01", "end": "2026-01-01", "interval": "day"})["interval"]
    assert too_long.endswith("more than 10080; use a shorter range"), too_long


def test_every_problem_at_once_and_single_values_once():
    found = problems([("interval", "hour"), ("interval", "day"), ("group_by", "x"), ("start", "?")])
    assert set(found) == {"interval", "group_by", "start"}


def _plan(**kw):
    return plan(StatsRequest(start_ms=0, end_ms=3_600_000, **kw))


def test_plans_read_the_smallest_documents_that_answer():
    assert (_plan().dim, _plan().direct) == ("total", True)
    assert (_plan(group_by="event_type").dim, _plan(group_by="event_type").direct) == ("event_type", True)
    by_lt = _plan(group_by="log_type", log_types=("gateway",))
    assert by_lt.direct and by_lt.select("", "gateway") == "gateway" and by_lt.select("", "kb") is None
    merged = _plan(severities=("error", "critical"))
    assert merged.dim == "severity" and not merged.direct and merged.select("", "error") == ""
    cells = _plan(group_by="event_type", log_types=("kb",), severities=("warn",))
    assert cells.dim == "cell" and cells.parts == ("kb",)
    assert cells.select("kb", "search|warn") == "search" and cells.select("kb", "search|info") is None
    models = _plan(group_by="provider", severities=("error",))
    assert models.dim == "model_cell" and models.select("", '["m","p","error"]') == "p"
    assert _plan(group_by="model", log_types=("kb",)) is None  # models are gateway-only


def test_plans_name_the_only_group_keys_a_full_document_must_ship():
    """Source filter patterns: every stored key the plan selects matches one, and a severity
    filter leaves the other severities' cells behind."""
    from fnmatch import fnmatchcase

    def ships(p, key: str) -> bool:
        return any(fnmatchcase(key, pattern) for pattern in p.wanted_keys)

    assert _plan(group_by="event_type").wanted_keys == ("event_type::*",)
    cells = _plan(group_by="log_type", severities=("error",), log_types=("kb", "agent"))
    assert ships(cells, "cell:kb:search|error") and ships(cells, "cell:agent:tool.call|error")
    assert not ships(cells, "cell:kb:search|info") and not ships(cells, "cell:gateway:x|error")
    assert not ships(cells, "event_type::search")
    every_lt = _plan(group_by="event_type", log_types=("kb",))
    assert every_lt.wanted_keys == ("cell:kb:*",)
    models = _plan(group_by="model", severities=("error", "critical"))
    assert ships(models, 'model_cell::["gpt-4o","openai","critical"]')
    assert not ships(models, 'model_cell::["gpt-4o","openai","info"]')
    merged = _plan(severities=("error", "critical"))
    assert sorted(merged.wanted_keys) == ["severity::critical", "severity::error"]

"""A view's hourly points: kept as the JSON the stats API answers with."""

from __future__ import annotations

import orjson

from bonito_logs.store.rollup_docs import (
    DaySeries,
    DocKey,
    RollupDoc,
    Stats,
    iso_ms,
    legacy_series,
    zero_point,
)

DAY = 1_795_737_600_000  # 2026-11-27T00:00:00Z
HOUR = 3_600_000


def test_zero_points_are_what_empty_stats_show():
    for tokens in (False, True):
        point = orjson.loads(zero_point("2026-11-27T05:00:00Z", tokens))
        assert point == {"timestamp": "2026-11-27T05:00:00Z", **Stats().public(tokens=tokens)}
        assert list(point)[0] == "timestamp"


def test_a_day_series_holds_24_points_and_changes_one_hour_at_a_time():
    series = DaySeries(DAY, tokens=False)
    figures = {"count": 3, "errors": 1, "error_rate": 1 / 3, "cost": 0.5,
               "duration_ms": {"avg": 2.0, "p50": 1.0, "p95": 3.0, "p99": 3.0}}
    series.set_hour(DAY + 5 * HOUR, figures)
    points = orjson.loads(series.text)
    assert [p["timestamp"] for p in points] == [iso_ms(DAY + h * HOUR) for h in range(24)]
    assert points[5] == {"timestamp": iso_ms(DAY + 5 * HOUR), **figures}
    assert sum(p["count"] for p in points) == 3
    again = DaySeries(DAY, tokens=False, text=series.text)  # as read back from a document
    again.set_hour(DAY + 6 * HOUR, {**figures, "count": 4})
    again.set_hour(DAY + 5 * HOUR, None)
    assert [p["count"] for p in orjson.loads(again.text)][4:8] == [0, 0, 4, 0]


def test_a_view_round_trips_through_its_source_and_reads_the_layout_before_it():
    view = RollupDoc(DocKey("org", "day", DAY, "view.severity"))
    hour = RollupDoc(DocKey("org", "hour", DAY + 2 * HOUR))
    from bonito_logs.store.rollup_stats import Contribution
    hour.apply(0, 10, ("severity::info", "severity::error"), Contribution(0, 5, 12.5, 100))
    view.project_hour(hour)
    source = orjson.loads(orjson.dumps(view.to_source()))
    assert set(source["series"]) == {"info", "error"}
    back = RollupDoc.from_source(view.key, source)
    assert back.to_source()["series"] == source["series"]
    shown = {"info": hour.groups["severity::info"].public(tokens=False, rounded=True)}
    legacy = legacy_series(DAY, {str(DAY + 2 * HOUR): shown}, tokens=False)
    assert legacy["info"] == source["series"]["info"]

"""Stats latency: 30-day hourly series from the rollups against an OpenSearch aggregation
over the raw logs computing the same figures, in the same run.

On the shared 1M-record data set (``bench/_dataset.py``; built once through Kafka and
the worker runtime, the aggregator included). For one org, 30 days by hour grouped
by log type: count, errors, cost, avg/p50/p95/p99 duration per hour and per group,
plus the period's totals.

  (a) rollups: ``StatsReader.series_json`` (what ``GET /api/logs/stats`` runs: the
      rollup search and the JSON answer), and the full API request in-process
      (auth, validation, HTTP) for reference;
  (b) raw: one search with date_histogram → terms → sum / filter / avg / percentiles
      aggregations (and terms → the same for the totals) over the daily log indices.

The figures are compared (counts, errors and cost must be equal; the raw
percentiles are OpenSearch's t-digest estimates, so only their distance is shown).

Usage: ``python bench/stats.py [--repeat 40] [--group-by log_type]`` with the stack up.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402
import orjson  # noqa: E402

from bench._common import percentile  # noqa: E402
from bench._dataset import ORGS, dataset_end, ensure_dataset  # noqa: E402
from bonito_logs.api.app import create_app  # noqa: E402
from bonito_logs.config import Settings  # noqa: E402
from bonito_logs.store.rollup_docs import to_ms  # noqa: E402
from bonito_logs.store.rollups import make_stats_client  # noqa: E402
from bonito_logs.store.stats_read import StatsReader  # noqa: E402
from bonito_logs.store.stats_request import parse_stats_request  # noqa: E402

ERRORS = ["error", "critical"]


def _metrics() -> dict[str, Any]:
    return {
        "cost": {"sum": {"field": "cost"}},
        "errors": {"filter": {"terms": {"severity": ERRORS}}},
        "duration": {"avg": {"field": "duration_ms"}},
        "pct": {"percentiles": {"field": "duration_ms", "percents": [50, 95, 99]}},
    }


def raw_body(org: str, start_ms: int, end_ms: int, field: str) -> dict[str, Any]:
    return {
        "size": 0, "track_total_hits": False,
        "query": {"bool": {"filter": [{"term": {"org_id": org}},
                                      {"range": {"timestamp": {"gte": start_ms, "lt": end_ms,
                                                               "format": "epoch_millis"}}}]}},
        "aggs": {
            "hours": {"date_histogram": {"field": "timestamp", "fixed_interval": "1h", "min_doc_count": 0,
                                         "extended_bounds": {"min": start_ms, "max": end_ms - 1}},
                      "aggs": {"groups": {"terms": {"field": field, "size": 100}, "aggs": _metrics()}}},
            "totals": {"terms": {"field": field, "size": 100}, "aggs": _metrics()},
        },
    }


def _figures(bucket: dict[str, Any]) -> dict[str, Any]:
    pct = bucket["pct"]["values"]
    return {"count": bucket["doc_count"], "errors": bucket["errors"]["doc_count"],
            "cost": bucket["cost"]["value"], "avg": bucket["duration"]["value"],
            "p50": pct.get("50.0"), "p95": pct.get("95.0"), "p99": pct.get("99.0")}


async def raw_stats(client, settings: Settings, org: str, start_ms: int, end_ms: int,
                    field: str) -> dict[str, Any]:
    resp = await client.search(index=settings.index_pattern, body=raw_body(org, start_ms, end_ms, field),
                               routing=org, request_cache=False)
    aggs = resp["aggregations"]
    series: dict[str, dict[int, dict[str, Any]]] = {}
    for hour in aggs["hours"]["buckets"]:
        for group in hour["groups"]["buckets"]:
            series.setdefault(group["key"], {})[hour["key"]] = _figures(group)
    totals = {g["key"]: _figures(g) for g in aggs["totals"]["buckets"]}
    return {"series": series, "totals": totals}


def compare(rollup: dict[str, Any], raw: dict[str, Any], start_ms: int) -> str:
    step = 3_600_000
    worst_cost = worst_p95 = 0.0
    points = 0
    for series in rollup["series"]:
        group = series["group"]
        raw_points = raw["series"].get(group, {})
        for i, got in enumerate(series["points"]):
            want = raw_points.get(start_ms + i * step)
            if want is None or want["count"] == 0:
                assert got["count"] == 0, (group, i)
                continue
            points += 1
            assert (got["count"], got["errors"]) == (want["count"], want["errors"]), (group, i, got, want)
            worst_cost = max(worst_cost, abs(got["cost"] - want["cost"]))
            mine, theirs = got["duration_ms"]["p95"], want["p95"]
            if mine is not None and theirs:
                worst_p95 = max(worst_p95, abs(mine - theirs) / theirs)
        total = raw["totals"][group]
        assert (series["totals"]["count"], series["totals"]["errors"]) == (total["count"], total["errors"])
    assert worst_cost < 1e-6, worst_cost
    return (f"figures match on {points} non-empty points: counts and errors equal, cost within "
            f"{worst_cost:.1e}; p95 differs from OpenSearch's t-digest estimate by at most {worst_p95:.1%}")


async def timed(fn, repeat: int) -> list[float]:
    for _ in range(3):  # warm caches, connections and the JIT of the node
        await fn()
    out = []
    for _ in range(repeat):
        started = time.perf_counter()
        await fn()
        out.append((time.perf_counter() - started) * 1000)
    return out


async def main(repeat: int, group_by: str) -> None:
    settings = await ensure_dataset(quiet=False)
    org = ORGS[0]
    end = dataset_end()
    start = end - timedelta(days=30)
    params = {"start": start.isoformat(), "end": end.isoformat(), "interval": "hour", "group_by": group_by}
    request = parse_stats_request(params)
    start_ms, end_ms = to_ms(start), to_ms(end)
    client = make_stats_client(settings)
    reader = StatsReader(client, settings)
    app = create_app(settings)
    token = (await app.state.services.keys.create(org, "viewer")).token
    try:
        rollup = orjson.loads(await reader.series_json(org, request))
        raw = await raw_stats(client, settings, org, start_ms, end_ms, group_by)
        verdict = compare(rollup, raw, start_ms)
        t_rollup = await timed(lambda: reader.series_json(org, request), repeat)
        t_raw = await timed(lambda: raw_stats(client, settings, org, start_ms, end_ms, group_by), repeat)
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://bench") as http:
            headers = {"Authorization": f"Bearer {token}"}

            async def api() -> None:
                response = await http.get("/api/logs/stats", params=params, headers=headers)
                assert response.status_code == 200, response.text

            t_api = await timed(api, repeat)
    finally:
        await app.state.services.keys.revoke(token[len("bnt_"):].split("_")[0])
        await app.state.services.aclose()
        await client.close()
    n = rollup["totals"]["count"]
    print(f"org {org}: {n} records, 30 days by hour grouped by {group_by} "
          f"({request.buckets} buckets x {len(rollup['series'])} groups), {repeat} runs each")
    print(verdict)
    rows = [("(a) rollups, StatsReader.series_json", t_rollup), ("(a') rollups, GET /api/logs/stats", t_api),
            ("(b) raw logs, OpenSearch aggregation", t_raw)]
    for name, values in rows:
        print(f"{name:<40} p50 {percentile(values, 50):7.1f} ms   p95 {percentile(values, 95):7.1f} ms")
    ratio50 = percentile(t_raw, 50) / percentile(t_rollup, 50)
    ratio95 = percentile(t_raw, 95) / percentile(t_rollup, 95)
    print(f"ratio raw/rollups: p50 {ratio50:.1f}x, p95 {ratio95:.1f}x "
          f"(target >= 10x; rollup p95 target <= 50 ms: {percentile(t_rollup, 95):.1f} ms)")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=40)
    parser.add_argument("--group-by", default="log_type", choices=["log_type", "event_type", "severity"])
    args = parser.parse_args()
    asyncio.run(main(args.repeat, args.group_by))

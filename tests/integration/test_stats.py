"""Rollups and the stats API against the real stack: exact counts, errors and costs,
percentiles within 2 %, for every interval and group-by; late records; org isolation."""

from __future__ import annotations

import asyncio
import math
import time
from datetime import UTC, datetime, timedelta

import pytest

from bonito_logs.store import sketch
from bonito_logs.store.rollup_docs import floor_ms, to_ms
from bonito_logs.streams.aggregator import AggregatorAgent
from bonito_logs.streams.app import prepare
from tests.integration.stats_support import (
    Expected,
    arrival_order,
    assert_series,
    expected_series,
    stats_records,
    wait_aggregated,
)
from tests.integration.support import encoded, new_orgs, produce, running
from tests.integration.test_api_support import api_session, bearer, new_key

INTERVALS = ("minute", "hour", "day")
GROUP_BYS = (None, "log_type", "event_type", "severity", "model", "provider")
FILTERED = (
    {"log_types": "gateway,agent"},
    {"severities": "error,critical"},
    {"log_types": "gateway,kb", "severities": "warn,error", "group_by": "event_type"},
    {"log_types": "gateway", "group_by": "log_type"},
    {"severities": "info,error", "group_by": "model"},
    {"severities": "debug,info", "group_by": "log_type"},
    {"log_types": "auth,admin", "group_by": "severity"},
)


@pytest.fixture
async def aggregated(settings):
    """Runs an in-process aggregator for the test; yields a function that waits for it."""
    await prepare(settings)
    async with running(AggregatorAgent(settings)) as agent:
        yield agent


async def test_100k_records_over_3_days_exact_for_every_interval_and_group_by(settings, aggregated):
    started = time.monotonic()
    orgs = new_orgs(3)
    day0 = datetime.fromtimestamp(floor_ms(to_ms(datetime.now(UTC)), "day") / 1000, UTC) - timedelta(days=3)
    records = stats_records(100_000, orgs, seed=21, start=day0, span=timedelta(days=3))
    assert await produce(settings, encoded(arrival_order(records, seed=21))) == 100_000
    produced_s = time.monotonic() - started
    await wait_aggregated(settings)
    assert aggregated.counters["records_applied"] == 100_000
    ingest_s = time.monotonic() - started
    checked = 0
    async with api_session(settings) as (app, client):
        keys = {org: await new_key(app, org, "viewer") for org in orgs}
        start, end = day0.isoformat(), (day0 + timedelta(days=3)).isoformat()
        combos = [{"interval": i, **({"group_by": g} if g else {})} for i in INTERVALS for g in GROUP_BYS]
        combos += [{"interval": "hour", **f} for f in FILTERED]
        for n, params in enumerate(combos):
            # every org for hour and day; the (large) minute answers for one org each
            targets = orgs if params["interval"] != "minute" else [orgs[n % len(orgs)]]
            for org in targets:
                response = await client.get("/api/logs/stats", headers=bearer(keys[org]),
                                            params={"start": start, "end": end, **params})
                assert response.status_code == 200, response.text
                checked += assert_series(response.json(), records, org, params)
    assert checked > 100_000
    print(f"produced in {produced_s:.1f}s, aggregated in {ingest_s:.1f}s; {checked} points checked "
          f"in {time.monotonic() - started - ingest_s:.1f}s")


async def test_an_org_never_sees_another_orgs_statistics(settings, aggregated):
    org_a, org_b, org_c = new_orgs(3)
    now = datetime.now(UTC)
    records = stats_records(3_000, [org_a, org_b], seed=5, start=now - timedelta(hours=2),
                            span=timedelta(hours=2) - timedelta(seconds=1))
    await produce(settings, encoded(records))
    await wait_aggregated(settings)
    async with api_session(settings) as (app, client):
        key_a, key_b, key_c = await asyncio.gather(
            new_key(app, org_a, "viewer"), new_key(app, org_b, "member"), new_key(app, org_c, "admin"))
        params = {"start": (now - timedelta(hours=3)).isoformat(), "end": now.isoformat(),
                  "interval": "hour", "group_by": "event_type"}
        for org, key in ((org_a, key_a), (org_b, key_b)):
            body = (await client.get("/api/logs/stats", headers=bearer(key), params=params)).json()
            assert body["totals"]["count"] == sum(r["org_id"] == org for r in records)
            assert_series(body, records, org, params)
            summary = (await client.get("/api/logs/stats/summary", headers=bearer(key))).json()
            assert summary["windows"]["24h"]["count"] == body["totals"]["count"]
        empty = (await client.get("/api/logs/stats", headers=bearer(key_c), params=params)).json()
        assert empty["series"] == [] and empty["totals"]["count"] == 0
        summary = (await client.get("/api/logs/stats/summary", headers=bearer(key_c))).json()
        assert all(w["count"] == 0 for w in summary["windows"].values())
        unauthenticated = await client.get("/api/logs/stats", params=params)
        assert unauthenticated.status_code == 401


async def test_summary_windows_and_change_against_the_previous_period(settings, aggregated):
    (org,) = new_orgs(1)
    now = datetime.now(UTC)
    records = stats_records(6_000, [org], seed=8, start=now - timedelta(days=14),
                            span=timedelta(days=14) - timedelta(seconds=1))
    await produce(settings, encoded(records))
    await wait_aggregated(settings)
    async with api_session(settings) as (app, client):
        key = await new_key(app, org, "viewer")
        response = await client.get("/api/logs/stats/summary", headers=bearer(key))
        assert response.status_code == 200, response.text
        body = response.json()
    assert set(body["windows"]) == {"1h", "24h", "7d"}
    for name, window in body["windows"].items():
        start = to_ms(datetime.fromisoformat(window["start"].replace("Z", "+00:00")))
        end = to_ms(datetime.fromisoformat(window["end"].replace("Z", "+00:00")))
        span = end - start
        _, current = expected_series(records, org, {}, start, end)
        _, previous = expected_series(records, org, {}, start - span, start)
        for got, want in ((window, current.get(None)), (window["previous"], previous.get(None))):
            want = want or Expected()
            assert (got["count"], got["errors"]) == (want.count, want.errors), name
            assert abs(got["cost"] - math.fsum(want.costs)) <= 1e-9, name
            if want.durations:
                exact = sketch.exact_percentile(want.durations, 95)
                assert abs(got["p95_duration_ms"] - exact) <= 0.02 * exact, name
            else:
                assert got["p95_duration_ms"] is None
        if window["previous"]["count"]:
            change = (window["count"] - window["previous"]["count"]) / window["previous"]["count"]
            assert window["change"]["count"] == pytest.approx(change)
        _, by_event = expected_series(records, org, {"group_by": "event_type"}, start, end)
        tops = sorted(((-e.errors, g) for g, e in by_event.items() if e.errors))[:5]
        assert [t["event_type"] for t in window["top_event_types_by_errors"]] == [g for _, g in tops]
        _, by_model = expected_series(records, org, {"group_by": "model"}, start, end)
        ranked = sorted(((-math.fsum(e.costs), g) for g, e in by_model.items()))[:5]
        assert [(t["model"] or "") for t in window["top_models_by_cost"]] == [g for _, g in ranked]
        for top in window["top_models_by_cost"]:
            want = by_model[top["model"] or ""]
            assert top["count"] == want.count, name
            assert abs(top["cost"] - math.fsum(want.costs)) <= 1e-9, name

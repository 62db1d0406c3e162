"""Helpers of the statistics tests: records with gateway metadata, late arrivals, and the
reference figures computed straight from the generated records (no tests here)."""

from __future__ import annotations

import asyncio
import math
import random
import time
from collections import defaultdict
from datetime import datetime, timedelta
from typing import Any

from bonito_logs.config import Settings
from bonito_logs.store import sketch
from bonito_logs.store.rollup_docs import STEP_MS, to_ms
from bonito_logs.store.rollups import make_stats_client
from bonito_logs.streams.lag import group_lag
from tests.integration.support import generate_records

MODELS = (("gpt-4o", "openai"), ("gpt-4o-mini", "openai"), ("claude-3-5-sonnet", "anthropic"),
          ("llama-3-70b", "groq"), ("mistral-large", "mistral"))
LATE_SHARE = 0.05
MAX_LATE = timedelta(minutes=10)
PERCENTILE_TOLERANCE = 0.02
COST_TOLERANCE = 1e-9


def stats_records(n: int, orgs: list[str], *, seed: int, start: datetime, span: timedelta) -> list[dict]:
    """``generate_records`` plus what the stats read: gateway model/provider/tokens, and
    durations over many decades (zeros included) so every histogram range is exercised."""
    records = generate_records(n, orgs, seed=seed, start=start, span=span)
    rng = random.Random(seed)
    for record in records:
        if record["log_type"] == "gateway":
            model, provider = rng.choice(MODELS)
            meta: dict[str, Any] = {"model": model, "provider": provider}
            if rng.random() < 0.9:
                tin, tout = rng.randrange(5000), rng.randrange(2000)
                meta.update(input_tokens=tin, output_tokens=tout, total_tokens=tin + tout)
            if rng.random() < 0.03:
                meta = {"status": 500}  # a gateway record without model or provider
            record["metadata"] = meta
        roll = rng.random()
        if record["duration_ms"] is not None and roll < 0.3:
            record["duration_ms"] = 10 ** rng.uniform(-2, 6)
        elif roll > 0.98:
            record["duration_ms"] = 0.0
    return records


def arrival_order(records: list[dict], seed: int) -> list[dict]:
    """Time order, except ``LATE_SHARE`` of the records arrive up to ``MAX_LATE`` late
    (after newer ones)."""
    rng = random.Random(seed)
    late = MAX_LATE.total_seconds()

    def arrival(record: dict) -> float:
        delay = rng.uniform(1, late) if rng.random() < LATE_SHARE else 0.0
        return record["timestamp"].timestamp() + delay

    keyed = [(arrival(r), i) for i, r in enumerate(records)]
    return [records[i] for _, i in sorted(keyed)]


async def wait_aggregated(settings: Settings, timeout: float = 240.0) -> None:
    """Until the aggregator group has committed the whole topic, then refresh the rollups."""
    deadline = time.monotonic() + timeout
    while (lag := await group_lag(settings, settings.aggregator_group_id)) > 0:
        if time.monotonic() > deadline:
            raise AssertionError(f"aggregator still {lag} records behind after {timeout}s")
        await asyncio.sleep(0.5)
    client = make_stats_client(settings)
    try:
        await client.indices.refresh(index=f"{settings.meta_prefix}stats-*", ignore_unavailable=True,
                                     allow_no_indices=True)
    finally:
        await client.close()


_GROUP_FIELD = {None: 0, "log_type": 2, "event_type": 3, "severity": 4, "model": 5, "provider": 6}
_prepared: dict[int, tuple[list[dict], dict[str, list[tuple]]]] = {}


def _rows(records: list[dict], org: str) -> list[tuple]:
    """The records of ``org`` as tuples of what the figures need (computed once per list)."""
    cached = _prepared.get(id(records))
    if cached is None or cached[0] is not records:
        by_org: dict[str, list[tuple]] = defaultdict(list)
        for r in records:
            meta = r.get("metadata") or {}
            model = provider = None
            if r["log_type"] == "gateway":
                model = "" if meta.get("model") is None else str(meta["model"])
                provider = "" if meta.get("provider") is None else str(meta["provider"])
            by_org[r["org_id"]].append((None, to_ms(r["timestamp"]), r["log_type"], r["event_type"],
                                        r["severity"], model, provider, r))
        cached = _prepared[id(records)] = (records, by_org)
    return cached[1].get(org, [])


class Expected:
    """Exact figures of a set of records."""

    __slots__ = ("count", "errors", "costs", "durations")

    def __init__(self) -> None:
        self.count = 0
        self.errors = 0
        self.costs: list[float] = []
        self.durations: list[float] = []

    def add(self, record: dict) -> None:
        self.count += 1
        self.errors += record["severity"] in ("error", "critical")
        if record["cost"] is not None:
            self.costs.append(record["cost"])
        if record["duration_ms"] is not None:
            self.durations.append(record["duration_ms"])


def expected_series(records: list[dict], org: str, params: dict[str, Any], start_ms: int,
                    end_ms: int) -> tuple[dict[Any, dict[int, Expected]], dict[Any, Expected]]:
    """Exact figures per group and bucket of the org's records matching ``params``."""
    interval, group_by = params.get("interval", "hour"), params.get("group_by")
    lts = set(params["log_types"].split(",")) if params.get("log_types") else None
    sevs = set(params["severities"].split(",")) if params.get("severities") else None
    step = STEP_MS[interval]
    field = _GROUP_FIELD[group_by]
    points: dict[Any, dict[int, Expected]] = defaultdict(dict)
    totals: dict[Any, Expected] = defaultdict(Expected)
    for row in _rows(records, org):
        ts = row[1]
        if not start_ms <= ts < end_ms:
            continue
        if group_by in ("model", "provider") and row[2] != "gateway":
            continue
        if (lts and row[2] not in lts) or (sevs and row[4] not in sevs):
            continue
        group = row[field]
        record = row[7]
        bucket = ts - ts % step
        points[group].setdefault(bucket, Expected()).add(record)
        totals[group].add(record)
    return points, totals


def assert_figures(got: dict[str, Any], want: Expected | None, where: str) -> None:
    if want is None or want.count == 0:
        assert got["count"] == 0 and got["errors"] == 0 and got["cost"] == 0, where
        return
    assert got["count"] == want.count, f"{where}: count {got['count']} != {want.count}"
    assert got["errors"] == want.errors, f"{where}: errors {got['errors']} != {want.errors}"
    cost = math.fsum(want.costs)
    assert abs(got["cost"] - cost) <= COST_TOLERANCE, f"{where}: cost {got['cost']!r} != {cost!r}"
    assert got["error_rate"] == want.errors / want.count, where
    duration = got["duration_ms"]
    if not want.durations:
        assert duration["p50"] is None and duration["avg"] is None, where
        return
    for name, p in (("p50", 50), ("p95", 95), ("p99", 99)):
        exact = sketch.exact_percentile(want.durations, p)
        value = duration[name]
        assert abs(value - exact) <= PERCENTILE_TOLERANCE * exact, \
            f"{where}: {name} {value!r} vs exact {exact!r} (n={len(want.durations)})"
    avg = math.fsum(want.durations) / len(want.durations)
    assert abs(duration["avg"] - avg) <= 1e-6 * max(1.0, avg), where


def assert_series(body: dict[str, Any], records: list[dict], org: str, params: dict[str, Any]) -> int:
    """Compare a stats answer with the figures of the records; returns the points checked."""
    interval = body["interval"]
    start_ms = to_ms(datetime.fromisoformat(body["start"].replace("Z", "+00:00")))
    end_ms = to_ms(datetime.fromisoformat(body["end"].replace("Z", "+00:00")))
    points, totals = expected_series(records, org, params, start_ms, end_ms)
    step = STEP_MS[interval]
    assert body["buckets"] == (end_ms - start_ms) // step
    got_groups = {s["group"] for s in body["series"]}
    assert got_groups == set(points), f"{params}: groups {sorted(map(str, got_groups))} != " \
                                      f"{sorted(map(str, points))}"
    checked = 0
    overall = Expected()
    for series in body["series"]:
        group = series["group"]
        want_points = points[group]
        assert len(series["points"]) == body["buckets"]
        for i, got in enumerate(series["points"]):
            bucket = start_ms + i * step
            assert_figures(got, want_points.get(bucket), f"{params} {group} @{got['timestamp']}")
            checked += 1
        assert_figures(series["totals"], totals[group], f"{params} {group} totals")
        want = totals[group]
        overall.count += want.count
        overall.errors += want.errors
        overall.costs += want.costs
        overall.durations += want.durations
    assert_figures(body["totals"], overall, f"{params} overall totals")
    return checked

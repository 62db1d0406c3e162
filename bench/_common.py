"""Shared bits of the benchmarks: isolated settings, percentiles, printing."""

from __future__ import annotations

import statistics
import uuid

from bonito_logs.config import Settings


def bench_settings(name: str, **over) -> Settings:
    token = f"{name}-{uuid.uuid4().hex[:6]}"
    base = Settings.from_env()
    return base.replace(
        logs_topic=f"bench.{token}.logs", dlq_topic=f"bench.{token}.dlq",
        index_prefix=f"bench-{token}-logs-", meta_prefix=f"bench-{token}-",
        indexer_group=f"bench.{token}.indexer", **over)


def percentile(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    k = max(0, min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1))))
    return ordered[k]


def summary(values: list[float]) -> str:
    return (f"p50={percentile(values, 50):.1f} p95={percentile(values, 95):.1f} "
            f"p99={percentile(values, 99):.1f} mean={statistics.fmean(values):.1f}")

"""Prometheus metrics: the API's own requests, plus the pipeline as the workers report it.

Request metrics are labelled by route *template* (``/api/logs/{record_id}``), never
the raw path, so ids do not explode cardinality. Worker counters come from the
heartbeat documents of live workers (the aggregator's from the workers that run it);
lag from the indexer and aggregator groups' committed offsets.
Each app has its own registry, so several apps (tests) can live in one process.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    Metric,
    SummaryMetricFamily,
)
from prometheus_client.registry import Collector
from starlette.routing import Match
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from bonito_logs.api.monitor import ClusterMonitor, Snapshot

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
UNMATCHED_ROUTE = "<unmatched>"

# heartbeat counter → (metric name stem, help)
WORKER_COUNTERS: dict[str, tuple[str, str]] = {
    "records_indexed": ("records_indexed", "records the indexer stored in OpenSearch"),
    "bulk_requests": ("bulk_requests", "bulk requests sent to OpenSearch"),
    "dlq_records": ("dlq_records", "records sent to the dead-letter topic"),
    "retries": ("retries", "bulk retries after a retryable failure"),
    "decode_errors": ("decode_errors", "records that could not be decoded"),
}

# heartbeat aggregator counter (status.AGGREGATOR_COUNTERS) → (metric name stem, help)
ROLLUP_COUNTERS: dict[str, tuple[str, str]] = {
    "records_seen": ("rollup_records_seen", "records the aggregator fetched from Kafka"),
    "records_applied": ("rollup_records_applied", "records the aggregator counted in the rollups"),
    "records_already_counted": ("rollup_records_already_counted",
                                "replayed records the rollups already held (skipped)"),
    "records_past_retention": ("rollup_records_past_retention",
                               "records of months past the stats retention (skipped)"),
    "decode_errors": ("rollup_decode_errors", "records the aggregator could not decode (skipped)"),
    "documents_read": ("rollup_documents_read", "rollup documents read from OpenSearch"),
    "documents_written": ("rollup_documents_written", "rollup documents written to OpenSearch"),
    "documents_rejected": ("rollup_documents_rejected",
                           "rollup documents OpenSearch refused for good (their records are lost)"),
    "conflicts": ("rollup_conflicts", "rollup flushes that met a version conflict"),
    "rewinds": ("rollup_rewinds", "times the aggregator dropped its buffer and rewound to the last commit"),
    "failures": ("rollup_failures", "aggregator batches that failed unexpectedly"),
}


class ApiMetrics:
    """The registry ``/metrics`` renders."""

    def __init__(self, monitor: ClusterMonitor) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self._monitor = monitor
        self.requests = Counter(
            "bonito_api_requests", "HTTP requests answered by the API",
            ["method", "route", "status"], registry=self.registry,
        )
        self.latency = Histogram(
            "bonito_api_request_duration_seconds", "time to answer an HTTP request",
            ["method", "route", "status"], registry=self.registry,
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
        )
        self._pipeline = PipelineCollector()
        self.registry.register(self._pipeline)

    def observe(self, method: str, route: str, status: int, seconds: float) -> None:
        labels = (method, route, str(status))
        self.requests.labels(*labels).inc()
        self.latency.labels(*labels).observe(seconds)

    async def render(self) -> bytes:
        self._pipeline.snapshot = await self._monitor.snapshot()
        return generate_latest(self.registry)


class PipelineCollector(Collector):
    """Worker counters and consumer lag from the monitor's latest snapshot."""

    def __init__(self) -> None:
        self.snapshot: Snapshot | None = None

    def describe(self) -> list[Metric]:
        return []  # families vary with the snapshot; nothing to check at registration

    def collect(self) -> Iterator[Metric]:
        snapshot = self.snapshot
        if snapshot is None:
            return
        yield from worker_families(snapshot.workers)
        yield from rollup_families(snapshot.aggregators)
        yield from lag_families(snapshot.lag, "indexer")
        yield from lag_families(snapshot.aggregator_lag, "aggregator")


def worker_families(workers: list[dict[str, Any]]) -> Iterator[Metric]:
    live = GaugeMetricFamily("bonito_workers_live", "stream workers with a recent heartbeat")
    live.add_metric([], len(workers))
    yield live
    yield from counter_families(WORKER_COUNTERS, workers, lambda worker: worker.get("counters"))
    bulk = SummaryMetricFamily("bonito_worker_bulk_seconds", "time spent in bulk requests, per worker",
                               labels=["worker"])
    bulk_total = SummaryMetricFamily("bonito_workers_bulk_seconds",
                                     "time spent in bulk requests, summed over live workers")
    count_sum, seconds_sum = 0.0, 0.0
    for worker in workers:
        counters = worker.get("counters")
        count, seconds = _number(counters, "bulk_requests"), _number(counters, "bulk_seconds_sum")
        bulk.add_metric([str(worker.get("worker_id"))], count_value=count, sum_value=seconds)
        count_sum += count
        seconds_sum += seconds
    bulk_total.add_metric([], count_value=count_sum, sum_value=seconds_sum)
    yield bulk
    yield bulk_total


def rollup_families(aggregators: list[dict[str, Any]]) -> Iterator[Metric]:
    """The aggregator's counters, from the live workers whose heartbeat has them."""
    live = GaugeMetricFamily("bonito_aggregator_workers_live",
                             "live workers that run the aggregator")
    live.add_metric([], len(aggregators))
    yield live
    yield from counter_families(ROLLUP_COUNTERS, aggregators,
                                lambda worker: (worker.get("aggregator") or {}).get("counters"))


def counter_families(names: dict[str, tuple[str, str]], workers: list[dict[str, Any]],
                     counters_of: Callable[[dict[str, Any]], Any]) -> Iterator[Metric]:
    """Per counter, ``bonito_worker_<stem>`` per worker and ``bonito_workers_<stem>`` summed."""
    for key, (stem, help_text) in names.items():
        per_worker = CounterMetricFamily(f"bonito_worker_{stem}", f"{help_text}, per worker",
                                         labels=["worker"])
        total = GaugeMetricFamily(f"bonito_workers_{stem}",
                                  f"{help_text}, summed over live workers (drops when a worker leaves)")
        sum_value = 0.0
        for worker in workers:
            value = _number(counters_of(worker), key)
            per_worker.add_metric([str(worker.get("worker_id"))], value)
            sum_value += value
        total.add_metric([], sum_value)
        yield per_worker
        yield total


def lag_families(lag: dict[str, Any], component: str) -> Iterator[Metric]:
    """``bonito_<component>_lag_known`` and ``..._lag_records`` per partition."""
    known = GaugeMetricFamily(f"bonito_{component}_lag_known",
                              f"1 when the {component}'s consumer lag could be read from Kafka")
    known.add_metric([], 1 if lag.get("status") == "ok" else 0)
    yield known
    per_partition = GaugeMetricFamily(
        f"bonito_{component}_lag_records",
        f"records not yet committed by the {component} group, per partition",
        labels=["topic", "group", "partition"],
    )
    for row in lag.get("partitions", []):
        per_partition.add_metric([str(lag.get("topic")), str(lag.get("group")), str(row["partition"])],
                                 row["lag"])
    yield per_partition


def _number(counters: Any, key: str) -> float:
    value = counters.get(key, 0) if isinstance(counters, dict) else 0
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else 0.0


class RequestMetricsMiddleware:
    """Counts and times every HTTP request by method, route template and status."""

    def __init__(self, app: ASGIApp, metrics: ApiMetrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def recording_send(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, recording_send)
        finally:
            self.metrics.observe(scope.get("method", ""), route_template(scope), status,
                                 time.perf_counter() - started)


def route_template(scope: Scope) -> str:
    """The path template of the route that served ``scope``, never the raw path."""
    route = scope.get("route")  # set by recent routers on a match (the same scope dict)
    if route is None and scope.get("app") is not None:
        for candidate in getattr(scope["app"], "routes", ()):
            if candidate.matches(scope)[0] != Match.NONE:
                route = candidate
                break
    return getattr(route, "path", None) or UNMATCHED_ROUTE

"""Prometheus text: request metrics by route template, worker counters and lag from a snapshot."""

from __future__ import annotations

import httpx
from prometheus_client.parser import text_string_to_metric_families
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from bonito_logs.api.metrics import ApiMetrics, RequestMetricsMiddleware
from bonito_logs.api.monitor import Snapshot

WORKERS = [
    {"worker_id": "w1", "host": "h", "pid": 1, "partitions": [0, 1],
     "counters": {"records_indexed": 100, "bulk_requests": 4, "bulk_seconds_sum": 0.5,
                  "dlq_records": 1, "retries": 2, "decode_errors": 0}},
    {"worker_id": "w2", "host": "h", "pid": 2, "partitions": [2],
     "counters": {"records_indexed": 50, "bulk_requests": 2, "bulk_seconds_sum": 0.25,
                  "dlq_records": 0, "retries": 1, "decode_errors": 3}},
]
LAG = {"status": "ok", "group": "g", "topic": "t", "total": 7,
       "partitions": [{"partition": 0, "committed": 10, "end": 15, "lag": 5},
                      {"partition": 1, "committed": None, "end": 2, "lag": 2}]}


class FakeMonitor:
    def __init__(self, snapshot: Snapshot) -> None:
        self._snapshot = snapshot

    async def snapshot(self) -> Snapshot:
        return self._snapshot


def samples(text: str) -> dict[tuple[str, tuple], float]:
    out = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            out[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return out


async def test_worker_counters_per_worker_and_summed():
    metrics = ApiMetrics(FakeMonitor(Snapshot(lag=LAG, workers=WORKERS)))
    text = (await metrics.render()).decode()
    got = samples(text)
    assert got[("bonito_workers_live", ())] == 2
    assert got[("bonito_worker_records_indexed_total", (("worker", "w1"),))] == 100
    assert got[("bonito_worker_records_indexed_total", (("worker", "w2"),))] == 50
    assert got[("bonito_workers_records_indexed", ())] == 150
    assert got[("bonito_workers_dlq_records", ())] == 1
    assert got[("bonito_workers_retries", ())] == 3
    assert got[("bonito_workers_decode_errors", ())] == 3
    assert got[("bonito_worker_bulk_seconds_count", (("worker", "w1"),))] == 4
    assert got[("bonito_worker_bulk_seconds_sum", (("worker", "w2"),))] == 0.25
    assert got[("bonito_workers_bulk_seconds_count", ())] == 6
    assert got[("bonito_workers_bulk_seconds_sum", ())] == 0.75
    assert got[("bonito_indexer_lag_known", ())] == 1
    assert got[("bonito_indexer_lag_records", (("group", "g"), ("partition", "0"), ("topic", "t")))] == 5
    assert got[("bonito_indexer_lag_records", (("group", "g"), ("partition", "1"), ("topic", "t")))] == 2


async def test_no_workers_and_unknown_lag_still_render():
    metrics = ApiMetrics(FakeMonitor(Snapshot(lag={"status": "unknown", "partitions": []})))
    got = samples((await metrics.render()).decode())
    assert got[("bonito_workers_live", ())] == 0
    assert got[("bonito_workers_records_indexed", ())] == 0
    assert got[("bonito_indexer_lag_known", ())] == 0


async def test_request_metrics_use_the_route_template_not_the_raw_path():
    metrics = ApiMetrics(FakeMonitor(Snapshot(lag={"status": "unknown", "partitions": []})))

    async def item(request: Request) -> JSONResponse:
        return JSONResponse({"id": request.path_params["item_id"]})

    app = Starlette(routes=[Route("/items/{item_id}", item)],
                    middleware=[Middleware(RequestMetricsMiddleware, metrics=metrics)])
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as c:
        for i in range(5):
            assert (await c.get(f"/items/{i}")).status_code == 200
        assert (await c.get("/nowhere/7")).status_code == 404
    text = (await metrics.render()).decode()
    got = samples(text)
    ok = (("method", "GET"), ("route", "/items/{item_id}"), ("status", "200"))
    assert got[("bonito_api_requests_total", ok)] == 5
    assert got[("bonito_api_request_duration_seconds_count", ok)] == 5
    assert got[("bonito_api_requests_total",
                (("method", "GET"), ("route", "<unmatched>"), ("status", "404")))] == 1
    assert "/items/3" not in text and "/nowhere/7" not in text


async def test_text_format_is_0_0_4():
    metrics = ApiMetrics(FakeMonitor(Snapshot(lag=LAG, workers=WORKERS)))
    text = (await metrics.render()).decode()
    assert "# TYPE bonito_worker_records_indexed_total counter" in text
    assert "# TYPE bonito_api_request_duration_seconds histogram" in text
    assert "# TYPE bonito_indexer_lag_records gauge" in text

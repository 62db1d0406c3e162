"""Prometheus text: request metrics by route template, worker and aggregator counters and lag
from a snapshot."""

from __future__ import annotations

import httpx
from prometheus_client.parser import text_string_to_metric_families
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from bonito_logs.api.metrics import ROLLUP_COUNTERS, ApiMetrics, RequestMetricsMiddleware
from bonito_logs.api.monitor import Snapshot
from bonito_logs.streams.status import AGGREGATOR_COUNTERS

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
ROLLUP_1 = {"records_seen": 120, "records_applied": 100, "records_already_counted": 15,
            "records_past_retention": 3, "decode_errors": 2, "documents_read": 40,
            "documents_written": 55, "documents_rejected": 1, "conflicts": 2, "rewinds": 3,
            "failures": 1}
ROLLUP_3 = {**dict.fromkeys(ROLLUP_1, 0), "records_seen": 30, "records_applied": 30,
            "documents_written": 6, "rewinds": 1}
# w1 runs everything, w2 only the indexer, w3 only the aggregator
AGGREGATING = [
    {**WORKERS[0], "aggregator": {"partitions": [0, 1], "counters": ROLLUP_1}},
    WORKERS[1],
    {"worker_id": "w3", "host": "h", "pid": 3, "partitions": [],
     "counters": {"records_indexed": 0, "bulk_requests": 0, "bulk_seconds_sum": 0.0,
                  "dlq_records": 0, "retries": 0, "decode_errors": 0},
     "aggregator": {"partitions": [2], "counters": ROLLUP_3}},
]
AGGREGATOR_LAG = {"status": "ok", "group": "g.aggregator", "topic": "t", "total": 12,
                  "partitions": [{"partition": 0, "committed": 3, "end": 15, "lag": 12},
                                 {"partition": 1, "committed": 2, "end": 2, "lag": 0}]}


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


async def test_aggregator_counters_per_aggregating_worker_and_summed():
    metrics = ApiMetrics(FakeMonitor(Snapshot(lag=LAG, workers=AGGREGATING, aggregator_lag=AGGREGATOR_LAG)))
    got = samples((await metrics.render()).decode())
    assert got[("bonito_workers_live", ())] == 3
    assert got[("bonito_aggregator_workers_live", ())] == 2
    for key, (stem, _) in ROLLUP_COUNTERS.items():
        assert got[(f"bonito_worker_{stem}_total", (("worker", "w1"),))] == ROLLUP_1[key], key
        assert got[(f"bonito_worker_{stem}_total", (("worker", "w3"),))] == ROLLUP_3[key], key
        assert (f"bonito_worker_{stem}_total", (("worker", "w2"),)) not in got, key  # no aggregator
        assert got[(f"bonito_workers_{stem}", ())] == ROLLUP_1[key] + ROLLUP_3[key], key
    assert got[("bonito_workers_rollup_records_applied", ())] == 130
    assert got[("bonito_workers_rollup_documents_written", ())] == 61
    assert got[("bonito_workers_rollup_conflicts", ())] == 2
    assert got[("bonito_workers_rollup_rewinds", ())] == 4
    assert got[("bonito_workers_rollup_records_already_counted", ())] == 15
    assert got[("bonito_workers_rollup_documents_rejected", ())] == 1
    # the indexer's decode errors are not the aggregator's
    assert got[("bonito_workers_decode_errors", ())] == 3
    assert got[("bonito_workers_rollup_decode_errors", ())] == 2


async def test_aggregator_lag_per_partition_next_to_the_indexers():
    metrics = ApiMetrics(FakeMonitor(Snapshot(lag=LAG, workers=AGGREGATING, aggregator_lag=AGGREGATOR_LAG)))
    got = samples((await metrics.render()).decode())
    assert got[("bonito_aggregator_lag_known", ())] == 1
    lag = {key[1]: value for key, value in got.items() if key[0] == "bonito_aggregator_lag_records"}
    assert lag == {(("group", "g.aggregator"), ("partition", "0"), ("topic", "t")): 12,
                   (("group", "g.aggregator"), ("partition", "1"), ("topic", "t")): 0}
    assert got[("bonito_indexer_lag_records", (("group", "g"), ("partition", "0"), ("topic", "t")))] == 5


async def test_aggregator_lag_unknown_and_no_aggregators_still_render():
    unknown = {"status": "unknown", "group": "g.aggregator", "topic": "t", "total": None,
               "partitions": [], "error": "timed out"}
    metrics = ApiMetrics(FakeMonitor(Snapshot(lag=LAG, workers=WORKERS, aggregator_lag=unknown)))
    got = samples((await metrics.render()).decode())
    assert got[("bonito_aggregator_lag_known", ())] == 0
    assert got[("bonito_indexer_lag_known", ())] == 1
    assert not [key for key in got if key[0] == "bonito_aggregator_lag_records"]
    assert got[("bonito_aggregator_workers_live", ())] == 0
    assert got[("bonito_workers_rollup_records_applied", ())] == 0
    assert not [key for key in got if key[0].startswith("bonito_worker_rollup_")]
    default = ApiMetrics(FakeMonitor(Snapshot(lag=LAG)))  # a snapshot that never read it
    assert samples((await default.render()).decode())[("bonito_aggregator_lag_known", ())] == 0


async def test_malformed_aggregator_sections_count_as_zero_not_as_errors():
    odd = [{"worker_id": "a", "aggregator": {"counters": {"records_applied": "many", "rewinds": True}}},
           {"worker_id": "b", "aggregator": {"partitions": [0]}},
           {"worker_id": "c", "aggregator": "yes"}]
    metrics = ApiMetrics(FakeMonitor(Snapshot(lag=LAG, workers=odd)))
    got = samples((await metrics.render()).decode())
    assert got[("bonito_aggregator_workers_live", ())] == 2  # "c" has no section to speak of
    assert got[("bonito_worker_rollup_records_applied_total", (("worker", "a"),))] == 0
    assert got[("bonito_worker_rollup_rewinds_total", (("worker", "b"),))] == 0
    assert got[("bonito_workers_rollup_records_applied", ())] == 0


def test_every_aggregator_counter_has_a_metric():
    assert list(ROLLUP_COUNTERS) == list(AGGREGATOR_COUNTERS)
    stems = [stem for stem, _ in ROLLUP_COUNTERS.values()]
    assert stems == [f"rollup_{name}" for name in AGGREGATOR_COUNTERS]


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


async def test_aggregator_families_have_types_and_help():
    metrics = ApiMetrics(FakeMonitor(Snapshot(lag=LAG, workers=AGGREGATING, aggregator_lag=AGGREGATOR_LAG)))
    text = (await metrics.render()).decode()
    assert "# TYPE bonito_worker_rollup_records_applied_total counter" in text
    assert "# HELP bonito_worker_rollup_records_applied_total records the aggregator counted in " \
           "the rollups, per worker" in text
    assert "# TYPE bonito_workers_rollup_documents_written gauge" in text
    assert "# TYPE bonito_aggregator_lag_records gauge" in text
    assert "# HELP bonito_aggregator_lag_records records not yet committed by the aggregator group, " \
           "per partition" in text
    assert "# TYPE bonito_aggregator_lag_known gauge" in text
    assert "# TYPE bonito_aggregator_workers_live gauge" in text

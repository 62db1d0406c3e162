"""/health from a fake monitor: the aggregator's lag is reported, only reachability decides the
status, and every answer matches the documented ``Health`` schema."""

from __future__ import annotations

from collections import Counter

import httpx
import jsonschema
import pytest

from bonito_logs.api.app import create_app
from bonito_logs.api.monitor import Snapshot
from bonito_logs.api.openapi import build_document
from bonito_logs.config import Settings
from bonito_logs.streams.status import WorkerStatus

UP = {"status": "ok", "brokers": 1, "controller_id": 1}
OS_UP = {"status": "ok", "cluster_status": "green", "nodes": 1}
DOWN = {"status": "unreachable", "error": "timed out"}


def lag(group: str, *lags: int) -> dict:
    rows = [{"partition": p, "committed": 0, "end": n, "lag": n} for p, n in enumerate(lags)]
    return {"status": "ok", "group": group, "topic": "t.logs", "total": sum(lags), "partitions": rows}


def heartbeats() -> list[dict]:
    """What real workers write: one indexer-only, one running the aggregator too."""
    indexer = WorkerStatus("w-indexer")
    both = WorkerStatus("w-both")
    both.aggregator = Counter(records_seen=9, records_applied=8)
    both.aggregator_partitions = [0, 1]
    return [both.document(), indexer.document()]


class FakeMonitor:
    def __init__(self, snapshot: Snapshot, kafka: dict = UP, opensearch: dict = OS_UP) -> None:
        self._snapshot, self._kafka, self._opensearch = snapshot, kafka, opensearch

    async def kafka_status(self) -> dict:
        return self._kafka

    async def opensearch_status(self) -> dict:
        return self._opensearch

    async def snapshot(self) -> Snapshot:
        return self._snapshot

    async def aclose(self) -> None:
        pass


@pytest.fixture
async def app():
    app = create_app(Settings())
    yield app
    await app.state.services.aclose()


async def get_health(app, monitor: FakeMonitor) -> httpx.Response:
    app.state.services.monitor = monitor
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as client:
        response = await client.get("/health")
    schemas = build_document(app.routes)["components"]["schemas"]
    jsonschema.validate(response.json(), schemas["Health"])
    return response


async def test_health_reports_the_aggregators_lag_and_workers(app):
    snapshot = Snapshot(lag=lag("t.indexer", 0, 2), workers=heartbeats(),
                        aggregator_lag=lag("t.aggregator", 40, 2))
    response = await get_health(app, FakeMonitor(snapshot))
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    assert body["lag"]["total"] == 2
    assert body["aggregator"] == {"lag": lag("t.aggregator", 40, 2), "live_workers": 1}
    assert body["aggregator"]["lag"]["total"] == 42
    assert body["workers"]["live"] == 2
    items = {w["worker_id"]: w for w in body["workers"]["items"]}
    assert items["w-both"]["aggregator"]["counters"]["records_applied"] == 8
    assert "aggregator" not in items["w-indexer"]


async def test_a_huge_aggregator_lag_alone_never_degrades_health(app):
    snapshot = Snapshot(lag=lag("t.indexer", 0), workers=[],
                        aggregator_lag=lag("t.aggregator", 50_000_000))
    response = await get_health(app, FakeMonitor(snapshot))
    assert response.status_code == 200
    assert response.json()["status"] == "ok"
    assert response.json()["aggregator"] == {"lag": lag("t.aggregator", 50_000_000), "live_workers": 0}


async def test_unreachable_kafka_is_degraded_and_both_lags_unknown(app):
    unknown = {"status": "unknown", "group": "t.aggregator", "topic": "t.logs", "total": None,
               "partitions": [], "error": "timed out"}
    snapshot = Snapshot(lag={**unknown, "group": "t.indexer"}, aggregator_lag=unknown)
    response = await get_health(app, FakeMonitor(snapshot, kafka=DOWN))
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "degraded"
    assert body["aggregator"]["lag"] == unknown


def test_health_schema_documents_the_aggregator_entry(app):
    document = build_document(app.routes)
    health = document["components"]["schemas"]["Health"]
    assert "aggregator" in health["required"]
    assert set(health["properties"]["aggregator"]["properties"]) == {"lag", "live_workers"}
    description = document["paths"]["/health"]["get"]["description"]
    assert "aggregator.lag" in description and "never change the status" in description

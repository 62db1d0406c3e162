"""/health and /metrics against the real Kafka and OpenSearch, and both when a service is down."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.structs import OffsetAndMetadata
from opensearchpy import AsyncOpenSearch
from prometheus_client.parser import text_string_to_metric_families

from tests.integration.test_api_support import api_session, bearer, new_key

PARTITIONS = 3


async def make_topic_with_lag(settings) -> None:
    """3 partitions holding 5, 3 and 0 records; the indexer group committed 2 on partition 0."""
    admin = AIOKafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(settings.logs_topic, PARTITIONS, 1)])
    finally:
        await admin.close()
    producer = AIOKafkaProducer(bootstrap_servers=settings.kafka_bootstrap, acks="all")
    await producer.start()
    try:
        for partition, count in ((0, 5), (1, 3)):
            for i in range(count):
                await producer.send_and_wait(settings.logs_topic, b"x%d" % i, partition=partition)
    finally:
        await producer.stop()
    consumer = AIOKafkaConsumer(bootstrap_servers=settings.kafka_bootstrap,
                                group_id=settings.indexer_group, enable_auto_commit=False)
    await consumer.start()
    try:
        tp = TopicPartition(settings.logs_topic, 0)
        consumer.assign([tp])
        await consumer.commit({tp: OffsetAndMetadata(2, "")})
    finally:
        await consumer.stop()


async def write_heartbeats(settings) -> None:
    client = AsyncOpenSearch(hosts=[settings.opensearch_url])
    now = datetime.now(UTC)
    try:
        for worker_id, updated, indexed in (("w-live-1", now, 40), ("w-live-2", now - timedelta(seconds=5), 2),
                                            ("w-dead", now - timedelta(minutes=5), 1000)):
            await client.index(index=f"{settings.meta_prefix}workers", id=worker_id, refresh="true", body={
                "worker_id": worker_id, "host": "h", "pid": 1, "started_at": (now - timedelta(hours=1)).isoformat(),
                "updated_at": updated.isoformat(), "partitions": [0],
                "counters": {"records_indexed": indexed, "bulk_requests": 2, "bulk_seconds_sum": 0.5,
                             "dlq_records": 1, "retries": 0, "decode_errors": 0},
            })
    finally:
        await client.close()


@pytest.fixture
async def api(settings):
    async with api_session(settings) as (app, client):
        await asyncio.gather(make_topic_with_lag(settings), write_heartbeats(settings))
        yield app, client


async def test_health_ok_with_lag_and_live_workers(api, settings):
    _, client = api
    response = await client.get("/health")
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["status"] == "ok"
    assert body["kafka"]["status"] == "ok" and body["kafka"]["brokers"] >= 1
    assert body["opensearch"]["status"] == "ok"
    lag = body["lag"]
    assert lag["status"] == "ok" and lag["group"] == settings.indexer_group
    assert lag["topic"] == settings.logs_topic
    assert lag["partitions"] == [
        {"partition": 0, "committed": 2, "end": 5, "lag": 3},
        {"partition": 1, "committed": None, "end": 3, "lag": 3},
        {"partition": 2, "committed": None, "end": 0, "lag": 0},
    ]
    assert lag["total"] == 6
    assert body["workers"]["live"] == 2
    assert [w["worker_id"] for w in body["workers"]["items"]] == ["w-live-1", "w-live-2"]


async def test_metrics_parse_and_carry_pipeline_and_request_metrics(api, settings):
    app, client = api
    key = await new_key(app, "5d1f3c0e-8f5a-4b8e-9d2c-3a1b2c3d4e5f", "viewer")
    for _ in range(3):
        assert (await client.get(f"/api/logs/{'0' * 8}-aaaa-4aaa-8aaa-{'1' * 12}",
                                 headers=bearer(key))).status_code == 404
    response = await client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain; version=0.0.4")
    samples = {}
    for family in text_string_to_metric_families(response.text):
        for s in family.samples:
            samples[(s.name, tuple(sorted(s.labels.items())))] = s.value
    assert samples[("bonito_api_requests_total", (("method", "GET"), ("route", "/api/logs/{record_id}"),
                                                  ("status", "404")))] == 3
    assert samples[("bonito_workers_live", ())] == 2
    assert samples[("bonito_workers_records_indexed", ())] == 42  # the dead worker is left out
    assert samples[("bonito_worker_records_indexed_total", (("worker", "w-live-1"),))] == 40
    assert samples[("bonito_workers_bulk_seconds_count", ())] == 4
    assert samples[("bonito_workers_bulk_seconds_sum", ())] == 1.0
    assert samples[("bonito_indexer_lag_known", ())] == 1
    labels = (("group", settings.indexer_group), ("partition", "0"), ("topic", settings.logs_topic))
    assert samples[("bonito_indexer_lag_records", labels)] == 3


async def test_kafka_down_is_degraded_503(settings):
    down = settings.replace(kafka_bootstrap="127.0.0.1:1", api_probe_timeout_s=1.0)
    async with api_session(down) as (_, client):
        response = await client.get("/health")
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "degraded"
    assert body["kafka"]["status"] == "unreachable" and body["kafka"]["error"]
    assert body["opensearch"]["status"] == "ok"
    assert body["lag"]["status"] == "unknown"


async def test_opensearch_down_is_503_everywhere_not_500(settings):
    async with api_session(settings) as (app, _):
        token = await new_key(app, "5d1f3c0e-8f5a-4b8e-9d2c-3a1b2c3d4e5f", "admin")
    down = settings.replace(opensearch_url="http://127.0.0.1:1", api_probe_timeout_s=1.0)
    async with api_session(down, wait=False) as (_, client):
        health = await client.get("/health")
        assert health.status_code == 503
        assert health.json()["opensearch"]["status"] == "unreachable"
        for method, path in (("POST", "/api/logs/query"), ("GET", "/api/logs/x"), ("GET", "/api/keys")):
            response = await client.request(method, path, headers=bearer(token),
                                            json={} if method == "POST" else None)
            assert response.status_code == 503, (method, path, response.text)
            assert response.json()["error"]["code"] == "unavailable"
        assert (await client.get("/metrics")).status_code == 200

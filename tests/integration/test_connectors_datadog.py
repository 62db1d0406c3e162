"""Datadog connector against the local intake peer (no Kafka or OpenSearch needed)."""

from __future__ import annotations

import gzip
import json
from datetime import UTC, datetime, timedelta

import pytest

from bonito_logs.connectors import DatadogConnector
from tests.peers.datadog import DEFAULT_API_KEY, REQUIRED
from tests.peers.drive import deliver
from tests.peers.fixtures import datadog_peer  # noqa: F401
from tests.peers.records import make_records

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
ORG = "5b0e4a63-9f0c-4b5e-8d4e-3f3a2f7c1a10"


@pytest.fixture
def peer_settings(settings):
    return settings.replace(allow_private_destinations=True, connector_timeout_s=2.0)


@pytest.fixture
async def connector(datadog_peer, peer_settings):  # noqa: F811
    c = DatadogConnector({"site": "datadoghq.eu", "service": "gateway", "tags": ["env:test"],
                          "endpoint_url": datadog_peer.url},
                         {"api_key": DEFAULT_API_KEY}, org_id=ORG, settings=peer_settings)
    yield c
    await c.close()


async def test_2000_records_arrive_once_in_the_documented_format(connector, datadog_peer):  # noqa: F811
    records = make_records(2000, org_id=ORG)
    delivery = await deliver(connector, records)
    assert delivery.rejected == [] and all(r.ok for r in delivery.results)
    assert datadog_peer.received_ids() == {r["id"] for r in records}
    assert datadog_peer.duplicates == 0 and datadog_peer.truncated == 0
    assert len(datadog_peer.events) == 2000
    by_id = {e["id"]: e for e in datadog_peer.events}
    for record in records:
        entry = by_id[record["id"]]
        assert all(name in entry for name in REQUIRED)
        assert entry["status"] == record["severity"]
        assert entry["timestamp"] == (record["timestamp"] - EPOCH) // timedelta(milliseconds=1)
        assert entry["service"] == "gateway" and "env:test" in entry["ddtags"].split(",")
        assert entry.get("metadata") == record["metadata"]
    posts = datadog_peer.requests_to("/api/v2/logs")
    assert len(posts) == 2
    for request in posts:
        assert request.header("content-encoding") == "gzip"
        assert len(json.loads(gzip.decompress(request.body))) <= 1000


@pytest.mark.parametrize("status", [429, 503, 500])
async def test_throttling_and_outage_are_retries(connector, datadog_peer, status):  # noqa: F811
    datadog_peer.fail_with(status, count=1, retry_after=3)
    (batch,), _ = connector.batches(make_records(10, org_id=ORG))
    first = await connector.send(batch)
    assert first.outcome == "retry" and first.status == status and first.retry_after == 3
    assert datadog_peer.events == []
    assert (await connector.send(batch)).ok
    assert len(datadog_peer.events) == 10


async def test_failure_window_in_seconds(connector, datadog_peer):  # noqa: F811
    datadog_peer.fail_with(503, seconds=0.3)
    records = make_records(50, org_id=ORG)
    delivery = await deliver(connector, records, attempts=40, pause=0.05)
    assert any(r.outcome == "retry" for r in delivery.results)
    assert datadog_peer.received_ids() == {r["id"] for r in records}


async def test_bad_api_key_is_permanent_with_datadogs_reason(connector, datadog_peer):  # noqa: F811
    datadog_peer.set_api_key("f" * 32)
    (batch,), _ = connector.batches(make_records(5, org_id=ORG))
    result = await connector.send(batch)
    assert result.outcome == "permanent" and result.status == 403
    assert result.reason == "Datadog answered 403: Forbidden"
    check = await connector.check()
    assert not check.ok and check.message == "Datadog answered 403: Forbidden"


async def test_413_is_split_and_resent(connector, datadog_peer):  # noqa: F811
    datadog_peer.limits(max_entries=300)
    records = make_records(1000, org_id=ORG)
    (batch,), _ = connector.batches(records)
    result = await connector.send(batch)
    assert result.ok and result.rejected == ()
    assert datadog_peer.received_ids() == {r["id"] for r in records}
    assert datadog_peer.duplicates == 0
    statuses = [r.status for r in datadog_peer.requests_to("/api/v2/logs")]
    assert statuses.count(413) >= 3 and statuses.count(202) >= 4


async def test_413_by_payload_size(connector, datadog_peer):  # noqa: F811
    datadog_peer.limits(max_payload_bytes=200_000)
    records = make_records(1000, org_id=ORG)
    delivery = await deliver(connector, records)
    assert delivery.rejected == []
    assert datadog_peer.received_ids() == {r["id"] for r in records} and datadog_peer.duplicates == 0


async def test_hanging_intake_is_a_timeout_retry(datadog_peer, peer_settings):  # noqa: F811
    c = DatadogConnector({"site": "datadoghq.com", "service": "s", "endpoint_url": datadog_peer.url},
                         {"api_key": DEFAULT_API_KEY}, org_id=ORG,
                         settings=peer_settings.replace(connector_timeout_s=0.3))
    datadog_peer.hang(1.0)
    result = await c.send(c.batches(make_records(2, org_id=ORG)).batches[0])
    assert result.outcome == "retry" and "timed out" in result.reason
    await c.close()


async def test_latency_is_tolerated(connector, datadog_peer):  # noqa: F811
    datadog_peer.latency(0.2)
    assert (await connector.send(connector.batches(make_records(3, org_id=ORG)).batches[0])).ok


async def test_check_succeeds(connector, datadog_peer):  # noqa: F811
    result = await connector.check()
    assert result.ok and result.status == 200 and "valid" in result.message
    assert datadog_peer.requests_to("/api/v1/validate")[0].header("dd-api-key") == DEFAULT_API_KEY

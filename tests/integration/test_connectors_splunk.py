"""Splunk HEC connector against the local HEC peer (no Kafka or OpenSearch needed)."""

from __future__ import annotations

import gzip
import json

import pytest

from bonito_logs.connectors import SplunkConnector
from bonito_logs.schemas import record_to_json
from tests.peers.drive import deliver
from tests.peers.fixtures import splunk_peer  # noqa: F401
from tests.peers.records import make_records
from tests.peers.splunk import DEFAULT_TOKEN

ORG = "5b0e4a63-9f0c-4b5e-8d4e-3f3a2f7c1a10"


@pytest.fixture
def peer_settings(settings):
    return settings.replace(allow_private_destinations=True, connector_timeout_s=2.0)


@pytest.fixture
async def make(splunk_peer, peer_settings):  # noqa: F811
    made = []

    def factory(token: str = DEFAULT_TOKEN, **config) -> SplunkConnector:
        c = SplunkConnector({"host": splunk_peer.url, "index": "bonito", "source": "bonito-test",
                             **config}, {"hec_token": token}, org_id=ORG, settings=peer_settings)
        made.append(c)
        return c

    yield factory
    for c in made:
        await c.close()


async def test_2000_records_arrive_once_in_the_documented_format(make, splunk_peer):  # noqa: F811
    records = make_records(2000, org_id=ORG)
    delivery = await deliver(make(), records)
    assert delivery.rejected == [] and all(r.ok for r in delivery.results)
    assert splunk_peer.received_ids() == {r["id"] for r in records}
    assert splunk_peer.duplicates == 0 and len(splunk_peer.events) == 2000
    by_id = {e["event"]["id"]: e for e in splunk_peer.events}
    for record in records:
        event = by_id[record["id"]]
        assert event["event"] == _json(record_to_json(record))
        assert event["index"] == "bonito" and event["source"] == "bonito-test"
        assert event["sourcetype"] == "_json" and event["host"] == "bonito-logs"
        assert abs(event["time"] - record["timestamp"].timestamp()) < 1e-6
        assert all(isinstance(v, str) for v in event["fields"].values())
    for request in splunk_peer.requests_to("/services/collector/event"):
        assert request.header("authorization") == f"Splunk {DEFAULT_TOKEN}"
        assert len(gzip.decompress(request.body)) <= 1_000_000
        assert not gzip.decompress(request.body).startswith(b"[")


def _json(value):
    return json.loads(json.dumps(value))


@pytest.mark.parametrize(("status", "code"), [(503, "9"), (500, "8"), (429, "9")])
async def test_busy_and_errors_are_retries(make, splunk_peer, status, code):  # noqa: F811
    c = make()
    splunk_peer.fail_with(status, count=1, retry_after=2)
    (batch,), _ = c.batches(make_records(5, org_id=ORG))
    first = await c.send(batch)
    assert first.outcome == "retry" and first.code == code and first.retry_after == 2
    assert (await c.send(batch)).ok
    assert len(splunk_peer.events) == 5


@pytest.mark.parametrize("code", [18, 19, 20])
async def test_unhealthy_codes_are_retries(make, splunk_peer, code):  # noqa: F811
    splunk_peer.fail_with(503, count=1, body={"text": "HEC is unhealthy", "code": code})
    c = make()
    result = await c.send(c.batches(make_records(1, org_id=ORG)).batches[0])
    assert result.outcome == "retry" and result.code == str(code)


async def test_invalid_token_is_permanent_with_splunks_reason(make, splunk_peer):  # noqa: F811
    c = make(token="99999999-2222-4333-8444-555555555555")
    result = await c.send(c.batches(make_records(3, org_id=ORG)).batches[0])
    assert result.outcome == "permanent" and result.status == 403 and result.code == "4"
    assert "Invalid token" in result.reason
    check = await c.check()
    assert not check.ok and "Invalid token" in check.message


async def test_disabled_token_is_permanent(make, splunk_peer):  # noqa: F811
    splunk_peer.disable_token()
    result = await make().check()
    assert not result.ok and "Token disabled" in result.message


async def test_invalid_event_number_names_the_event(make, splunk_peer):  # noqa: F811
    records = make_records(40, org_id=ORG)
    splunk_peer.poison(records[17]["id"], code=12)
    splunk_peer.poison(records[30]["id"], code=15)
    delivery = await deliver(make(), records)
    assert [(r.index, r.record["id"]) for r in delivery.rejected] == [
        (17, records[17]["id"]), (30, records[30]["id"])]
    assert "Event field is required (event 17)" in delivery.rejected[0].reason
    assert "Error in handling indexed fields (event 30)" in delivery.rejected[1].reason
    expected = {r["id"] for i, r in enumerate(records) if i not in (17, 30)}
    assert splunk_peer.received_ids() == expected and splunk_peer.duplicates == 0


async def test_use_ack_waits_for_the_indexer(make, splunk_peer):  # noqa: F811
    splunk_peer.enable_acks(delay=0.3)
    c = make(use_ack=True)
    records = make_records(1500, org_id=ORG)
    delivery = await deliver(c, records)
    assert all(r.ok for r in delivery.results)
    assert splunk_peer.received_ids() == {r["id"] for r in records}
    posts = splunk_peer.requests_to("/services/collector/event")
    assert {p.header("x-splunk-request-channel") for p in posts} == {c.channel}
    acks = splunk_peer.requests_to("/services/collector/ack")
    assert len(acks) >= len(posts) * 2  # the first poll (at ~0.05 s) came too early each time
    assert all(a.answer["acks"] for a in acks)


async def test_ack_timeout_is_a_retry(make, splunk_peer):  # noqa: F811
    splunk_peer.enable_acks(delay=30)
    c = make(use_ack=True, ack_timeout_s=1)
    result = await c.send(c.batches(make_records(2, org_id=ORG)).batches[0])
    assert result.outcome == "retry" and "did not acknowledge ackId 0" in result.reason


async def test_missing_channel_when_acks_are_required(make, splunk_peer):  # noqa: F811
    splunk_peer.enable_acks()
    c = make(use_ack=False)
    result = await c.send(c.batches(make_records(2, org_id=ORG)).batches[0])
    assert result.outcome == "permanent" and result.code == "10"
    assert "Data channel is missing" in result.reason


async def test_content_too_large_is_split(make, splunk_peer):  # noqa: F811
    splunk_peer.max_content_length = 150_000
    records = make_records(1500, org_id=ORG)
    delivery = await deliver(make(), records)
    assert delivery.rejected == []
    assert splunk_peer.received_ids() == {r["id"] for r in records} and splunk_peer.duplicates == 0
    assert 413 in [r.status for r in splunk_peer.requests_to("/services/collector/event")]


async def test_hang_is_a_timeout_retry(splunk_peer, peer_settings):  # noqa: F811
    c = SplunkConnector({"host": splunk_peer.url}, {"hec_token": DEFAULT_TOKEN}, org_id=ORG,
                        settings=peer_settings.replace(connector_timeout_s=0.3))
    splunk_peer.hang(1.0)
    result = await c.send(c.batches(make_records(1, org_id=ORG)).batches[0])
    assert result.outcome == "retry" and "timed out" in result.reason
    await c.close()


async def test_check_succeeds(make, splunk_peer):  # noqa: F811
    result = await make().check()
    assert result.ok and result.message == "HEC is healthy; test event accepted"
    assert [r.path for r in splunk_peer.requests] == ["/services/collector/health",
                                                      "/services/collector/event"]


async def test_check_reports_unhealthy_hec(make, splunk_peer):  # noqa: F811
    splunk_peer.fail_with(503, count=1)
    result = await make().check()
    assert not result.ok and result.status == 503
    assert "HEC is unhealthy, queues are full" in result.message


async def test_check_with_acks(make, splunk_peer):  # noqa: F811
    splunk_peer.enable_acks(delay=0.1)
    assert (await make(use_ack=True).check()).ok

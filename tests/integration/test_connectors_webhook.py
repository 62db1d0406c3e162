"""Webhook connector against the local receiver, which verifies every signature."""

from __future__ import annotations

import json

import pytest

from bonito_logs.connectors import WebhookConnector
from bonito_logs.schemas import record_to_json
from tests.peers.drive import deliver
from tests.peers.fixtures import webhook_peer  # noqa: F401
from tests.peers.records import make_records
from tests.peers.webhook import DEFAULT_SECRET

ORG = "5b0e4a63-9f0c-4b5e-8d4e-3f3a2f7c1a10"


@pytest.fixture
def peer_settings(settings):
    return settings.replace(allow_private_destinations=True, connector_timeout_s=2.0)


@pytest.fixture
async def make(webhook_peer, peer_settings):  # noqa: F811
    made = []

    def factory(secret: str = DEFAULT_SECRET, settings=None, **config) -> WebhookConnector:
        c = WebhookConnector({"url": webhook_peer.hook_url, **config}, {"secret": secret},
                             org_id=ORG, settings=settings or peer_settings)
        made.append(c)
        return c

    yield factory
    for c in made:
        await c.close()


@pytest.mark.parametrize("use_gzip", [False, True])
async def test_2000_records_arrive_once_signed(make, webhook_peer, use_gzip):  # noqa: F811
    records = make_records(2000, org_id=ORG)
    delivery = await deliver(make(gzip=use_gzip, headers={"X-Team": "core"}), records)
    assert delivery.rejected == [] and all(r.ok for r in delivery.results)
    assert all(r.status == 200 for r in webhook_peer.requests)  # no 401: every signature verified
    assert webhook_peer.received_ids() == {r["id"] for r in records} and webhook_peer.duplicates == 0
    by_id = {r["id"]: r for r in webhook_peer.events}
    for record in records:
        assert by_id[record["id"]] == json.loads(json.dumps(record_to_json(record)))
    for request in webhook_peer.requests:
        assert request.header("x-team") == "core"
        assert (request.header("content-encoding") == "gzip") is use_gzip
    assert len(webhook_peer.deliveries) == len(delivery.results)


async def test_retry_reuses_the_delivery_id(make, webhook_peer):  # noqa: F811
    webhook_peer.fail_with(503, count=1)
    records = make_records(10, org_id=ORG)
    delivery = await deliver(make(), records)
    first, second = webhook_peer.requests
    assert first.status == 503 and second.status == 200
    assert first.header("x-bonito-delivery") == second.header("x-bonito-delivery")
    assert [r.outcome for r in delivery.results] == ["retry", "ok"]


@pytest.mark.parametrize("status", [429, 503, 500, 408])
async def test_retryable_statuses(make, webhook_peer, status):  # noqa: F811
    webhook_peer.fail_with(status, count=1, retry_after=4)
    c = make()
    result = await c.send(c.batches(make_records(3, org_id=ORG)).batches[0])
    assert result.outcome == "retry" and result.status == status and result.retry_after == 4
    assert webhook_peer.events == []


async def test_wrong_secret_is_refused_by_the_receiver(make, webhook_peer):  # noqa: F811
    c = make(secret="an-entirely-different-secret")
    result = await c.send(c.batches(make_records(3, org_id=ORG)).batches[0])
    assert result.outcome == "permanent" and result.status == 401
    assert "invalid signature" in result.reason
    assert webhook_peer.events == []
    check = await c.check()
    assert not check.ok and "invalid signature" in check.message


async def test_rotated_secret_on_the_receiver(make, webhook_peer):  # noqa: F811
    webhook_peer.set_secret("rotated-secret-0123456789")
    assert not (await make().check()).ok
    assert (await make(secret="rotated-secret-0123456789").check()).ok


async def test_check_is_a_signed_test_post(make, webhook_peer):  # noqa: F811
    result = await make().check()
    assert result.ok and result.status == 200
    assert webhook_peer.tests == 1 and webhook_peer.events == []


async def test_hang_is_a_timeout_retry(make, webhook_peer, peer_settings):  # noqa: F811
    c = make(settings=peer_settings.replace(connector_timeout_s=0.3))
    webhook_peer.hang(1.0)
    result = await c.send(c.batches(make_records(1, org_id=ORG)).batches[0])
    assert result.outcome == "retry" and "timed out" in result.reason


async def test_private_destination_is_refused_at_send_time(make, webhook_peer, settings):  # noqa: F811
    # Built without the allowance (construction does no DNS); sending must refuse loopback.
    c = make(settings=settings.replace(allow_private_destinations=False))
    result = await c.send(c.batches(make_records(1, org_id=ORG)).batches[0])
    check = await c.check()
    assert result.outcome == "permanent" and "SSRF" in result.reason and "loopback" in result.reason
    assert not check.ok and "loopback" in check.message
    assert webhook_peer.requests == []  # nothing reached the peer

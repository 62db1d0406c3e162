"""CloudWatch Logs connector against moto's server, checking every PutLogEvents call's limits.

moto does not enforce the size, count and 24-hour-span rules, so each call the
connector makes is captured (botocore event hook) and checked here.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from botocore.awsrequest import AWSResponse

from bonito_logs.connectors import Batch, CloudWatchConnector
from tests.peers.cloudwatch import DUMMY_KEY_ID, DUMMY_SECRET, watch_put_log_events
from tests.peers.drive import deliver
from tests.peers.fixtures import cloudwatch_peer  # noqa: F401
from tests.peers.records import make_records

ORG = "5b0e4a63-9f0c-4b5e-8d4e-3f3a2f7c1a10"
GROUP = "/bonito/integration"


@pytest.fixture
def peer_settings(settings):
    return settings.replace(allow_private_destinations=True, connector_timeout_s=5.0)


@pytest.fixture
async def make(cloudwatch_peer, peer_settings):  # noqa: F811
    made = []

    def factory(stream: str = "{org_id}/{log_type}", **creds) -> CloudWatchConnector:
        c = CloudWatchConnector(
            {"region": cloudwatch_peer.region, "log_group": GROUP, "log_stream": stream,
             "endpoint_url": cloudwatch_peer.endpoint_url},
            {"aws_access_key_id": DUMMY_KEY_ID, "aws_secret_access_key": DUMMY_SECRET, **creds},
            org_id=ORG, settings=peer_settings)
        made.append(c)
        return c

    yield factory
    for c in made:
        await c.close()


def assert_within_limits(call: dict) -> None:
    events = call["logEvents"]
    stamps = [e["timestamp"] for e in events]
    now_ms = datetime.now(UTC).timestamp() * 1000
    assert 1 <= len(events) <= 10_000
    assert sum(len(e["message"].encode()) + 26 for e in events) <= 1_048_576
    assert all(len(e["message"].encode()) + 26 <= 1_048_576 for e in events)
    assert stamps == sorted(stamps)
    assert stamps[-1] - stamps[0] <= 24 * 3600 * 1000
    assert stamps[0] >= now_ms - 14 * 24 * 3600 * 1000 - 60_000
    assert stamps[-1] <= now_ms + 2 * 3600 * 1000


def stored(peer, group: str = GROUP) -> list[dict]:
    return [json.loads(e["message"]) for s in peer.streams(group) for e in peer.events(group, s)]


async def test_2000_records_create_group_and_streams_and_arrive_once(make, cloudwatch_peer):  # noqa: F811
    c = make()
    calls = watch_put_log_events(c.client)
    # spread over 30 hours, shuffled: batches must sort and split by the 24 h rule
    records = make_records(2000, org_id=ORG, start=datetime.now(UTC) - timedelta(hours=30),
                           step=timedelta(seconds=54), log_types=("gateway", "agent", "billing"))
    shuffled = records[::2] + records[1::2]
    delivery = await deliver(c, shuffled)
    assert delivery.rejected == [] and all(r.ok for r in delivery.results)
    assert sorted(cloudwatch_peer.streams(GROUP)) == sorted(
        f"{ORG}/{t}" for t in ("gateway", "agent", "billing"))
    got = stored(cloudwatch_peer)
    assert sorted(r["id"] for r in got) == sorted(r["id"] for r in records)  # each exactly once
    by_id = {r["id"]: r for r in records}
    for message in got:
        assert message["log_type"] == by_id[message["id"]]["log_type"]
        assert message["timestamp"].endswith("Z")
    # 3 streams × (30 h split by the 24 h rule) = 6 batches; the first of each stream meets
    # ResourceNotFound, creates, puts again: 9 calls
    assert len(delivery.results) == 6 and len(calls) == 9
    for call in calls:
        assert_within_limits(call)


async def test_existing_group_and_stream_are_reused(make, cloudwatch_peer):  # noqa: F811
    cloudwatch_peer.create(GROUP, f"{ORG}-fixed")
    c = make(stream="{org_id}-fixed")
    calls = watch_put_log_events(c.client)
    delivery = await deliver(c, make_records(300, org_id=ORG))
    assert delivery.requests == 1 and len(calls) == 1
    assert len(stored(cloudwatch_peer)) == 300


async def test_resource_not_found_creates_then_delivers(make, cloudwatch_peer):  # noqa: F811
    cloudwatch_peer.create(GROUP)  # group exists, stream does not
    c = make(stream="only-{org_id}")
    result = await c.send(c.batches(make_records(10, org_id=ORG)).batches[0])
    assert result.ok and result.requests == 4  # put, create group (exists), create stream, put
    assert cloudwatch_peer.streams(GROUP) == [f"only-{ORG}"]
    assert len(stored(cloudwatch_peer)) == 10


class _Raw:
    def __init__(self, body: bytes) -> None:
        self.body = body

    def stream(self, **_):
        yield self.body


def inject(client, status: int, code: str, message: str, times: int = 1) -> None:
    """Answer the next ``times`` PutLogEvents calls with an AWS error before they leave."""
    left = {"n": times}

    def before_send(request, **_):
        if left["n"] <= 0:
            return None
        left["n"] -= 1
        body = json.dumps({"__type": code, "message": message}).encode()
        return AWSResponse(request.url, status, {"x-amzn-ErrorType": code,
                                                 "Content-Type": "application/x-amz-json-1.1"}, _Raw(body))

    client.meta.events.register("before-send.logs.PutLogEvents", before_send)


@pytest.mark.parametrize(("status", "code"), [(400, "ThrottlingException"),
                                              (503, "ServiceUnavailableException")])
async def test_throttling_and_unavailable_are_retries(make, cloudwatch_peer, status, code):  # noqa: F811
    c = make()
    inject(c.client, status, code, "Rate exceeded")
    (batch, *_), _ = c.batches(make_records(5, org_id=ORG, log_types=("auth",)))
    first = await c.send(batch)
    assert first.outcome == "retry" and first.code == code
    assert first.reason == f"CloudWatch Logs answered {code}: Rate exceeded"
    assert (await c.send(batch)).ok
    assert len(stored(cloudwatch_peer)) == 5


async def test_invalid_parameter_is_permanent(make, cloudwatch_peer):  # noqa: F811
    c = make()
    (batch,), _ = c.batches(make_records(3, org_id=ORG, log_types=("kb",)))
    unsorted = Batch(batch.records[::-1], batch.events[::-1], batch.size, batch.key)
    cloudwatch_peer.create(GROUP, batch.key)
    result = await c.send(unsorted)
    assert result.outcome == "permanent" and result.code == "InvalidParameterException"
    assert "chronological order" in result.reason


async def test_bad_credentials_are_permanent_with_aws_reason(make, cloudwatch_peer):  # noqa: F811
    c = make()
    cloudwatch_peer.require_auth()
    try:
        result = await c.send(c.batches(make_records(2, org_id=ORG)).batches[0])
        check = await c.check()
    finally:
        cloudwatch_peer.allow_any_auth()
    assert result.outcome == "permanent" and result.code == "InvalidClientTokenId"
    assert result.reason.endswith("The security token included in the request is invalid.")
    assert not check.ok and "The security token included in the request is invalid." in check.message


async def test_events_outside_the_window_come_back_rejected(make, cloudwatch_peer):  # noqa: F811
    c = make(stream="window")
    now = datetime.now(UTC)
    old, fresh = make_records(2, org_id=ORG, start=now - timedelta(days=15), step=timedelta(days=15) - timedelta(minutes=5))
    batches, rejected = c.batches([old, fresh])
    assert [r.record["id"] for r in rejected] == [old["id"]]
    # and when one slips through anyway (a clock off by a day), CloudWatch's answer is mapped
    forced = Batch([old, fresh], [c.encode(old), c.encode(fresh)], 0, "window")
    result = await c.send(forced)
    assert result.ok and [(r.index, r.record["id"]) for r in result.rejected] == [(0, old["id"])]
    assert "older than 14 days" in result.rejected[0].reason
    assert [m["id"] for m in stored(cloudwatch_peer)] == [fresh["id"]]


async def test_check_creates_group_and_stream(make, cloudwatch_peer):  # noqa: F811
    result = await make(stream="{org_id}-check").check()
    assert result.ok and f"log group {GROUP} created" in result.message
    assert cloudwatch_peer.streams(GROUP) == [f"{ORG}-check"]
    again = await make(stream="{org_id}-check").check()
    assert again.ok and "found" in again.message


async def test_check_with_per_log_type_streams(make, cloudwatch_peer):  # noqa: F811
    cloudwatch_peer.create(GROUP)
    result = await make().check()
    assert result.ok and "created per log type" in result.message


async def test_endpoint_is_guarded_at_send_time(cloudwatch_peer, settings):  # noqa: F811
    c = CloudWatchConnector({"region": "us-east-1", "log_group": GROUP, "log_stream": "s",
                             "endpoint_url": cloudwatch_peer.endpoint_url},
                            {"aws_access_key_id": DUMMY_KEY_ID, "aws_secret_access_key": DUMMY_SECRET},
                            org_id=ORG, settings=settings.replace(allow_private_destinations=False))
    result = await c.send(c.batches(make_records(1, org_id=ORG)).batches[0])
    assert result.outcome == "permanent" and "loopback" in result.reason
    assert GROUP not in [g["logGroupName"] for g in cloudwatch_peer.client.describe_log_groups()["logGroups"]]
    await c.close()

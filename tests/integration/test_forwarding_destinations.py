"""Each destination gets exactly its org's matching records, once, in its documented format.

One worker, four integrations of org A (Datadog, Splunk HEC with indexer acknowledgement,
CloudWatch, webhook) with filters, and one of org B (a webhook to a peer of its own), all
fed by the same 20,000 records (10,000 per org) at once.
"""

from __future__ import annotations

import json
import uuid

from bonito_logs.schemas import record_to_json
from bonito_logs.store.integration_filters import RecordFilter
from tests.integration.forwarding_support import (
    CW_GROUP,
    cloudwatch_body,
    datadog_body,
    forwarding_api,
    forwarding_settings,
    splunk_body,
    webhook_body,
    worker,
)
from tests.integration.support import encoded, generate_records, produce, wait_until
from tests.peers.datadog import REQUIRED
from tests.peers.fixtures import cloudwatch_peer, datadog_peer, splunk_peer, webhook_peer  # noqa: F401
from tests.peers.webhook import RECORD_KEYS, WebhookPeer

FILTERS = {"log_types": ["gateway", "agent", "auth", "kb"], "severities": ["info", "warn", "error", "critical"]}


def cloudwatch_ids(peer, org: str) -> list[str]:
    ids = []
    for stream in peer.streams(CW_GROUP):
        assert stream.startswith(f"{org}/"), stream
        for event in peer.events(CW_GROUP, stream):
            message = json.loads(event["message"])
            assert stream == f"{org}/{message['log_type']}"
            ids.append(message["id"])
    return ids


async def test_four_destinations_get_exactly_the_matching_records_of_their_org_once(
        settings, datadog_peer, splunk_peer, webhook_peer, cloudwatch_peer):  # noqa: F811
    s = forwarding_settings(settings, connector_timeout_s=10.0)  # a loaded machine is slow, not down
    orgs = {"a": str(uuid.uuid4()), "b": str(uuid.uuid4())}
    splunk_peer.enable_acks(delay=0.2)  # a batch counts only once the indexer acknowledged it
    with WebhookPeer() as peer_b:
        async with forwarding_api(s, orgs) as api:
            ids = {
                "datadog": (await api.create(datadog_body(datadog_peer, filters=FILTERS)))["id"],
                "splunk": (await api.create(splunk_body(splunk_peer, use_ack=True, filters=FILTERS)))["id"],
                "cloudwatch": (await api.create(cloudwatch_body(cloudwatch_peer, filters=FILTERS)))["id"],
                "webhook": (await api.create(webhook_body(webhook_peer, filters=FILTERS)))["id"],
            }
            ids["org_b"] = (await api.create(webhook_body(peer_b), who="admin_b"))["id"]
            records = generate_records(20_000, [orgs["a"], orgs["b"]], seed=101)
            keep = RecordFilter.from_body(FILTERS)
            expected = {r["id"] for r in records if r["org_id"] == orgs["a"] and keep.matches(r)}
            of_b = {r["id"] for r in records if r["org_id"] == orgs["b"]}
            assert 3_000 < len(expected) < 7_000 and len(of_b) == 10_000
            by_id = {r["id"]: r for r in records}

            with worker(s, "fwd-destinations"):
                await produce(s, encoded(records))

                async def all_arrived() -> bool:
                    return (datadog_peer.received_ids() >= expected and splunk_peer.received_ids() >= expected
                            and webhook_peer.received_ids() >= expected and peer_b.received_ids() >= of_b
                            and len(cloudwatch_ids(cloudwatch_peer, orgs["a"])) >= len(expected))

                await wait_until(all_arrived, 240, "every destination to receive its records", interval=2)
                states = {}
                for name, iid in ids.items():
                    count = len(of_b) if name == "org_b" else len(expected)
                    states[name] = await api.wait_state(
                        iid, lambda st, n=count: st["records_forwarded"] >= n, 30,
                        f"{name} to report its deliveries", who="admin_b" if name == "org_b" else "admin")

    # Exactly the matching records of org A, once each, at every destination of org A.
    for peer in (datadog_peer, splunk_peer, webhook_peer):
        assert peer.received_ids() == expected, peer.name
        assert peer.duplicates == 0, peer.name
    acks = splunk_peer.requests_to("/services/collector/ack")
    assert acks and all(r.status == 200 for r in acks)  # every batch waited for its ack
    cw = cloudwatch_ids(cloudwatch_peer, orgs["a"])
    assert set(cw) == expected and len(cw) == len(expected)
    # Org B's records reach only org B's integration, and all of them do.
    assert peer_b.received_ids() == of_b and peer_b.duplicates == 0

    # Each in the documented format.
    for entry in datadog_peer.events:
        record = by_id[entry["id"]]
        assert all(name in entry for name in REQUIRED)
        assert entry["service"] == "bonito" and entry["status"] == record["severity"]
        assert {"env:prod", f"log_type:{record['log_type']}"} <= set(entry["ddtags"].split(","))
        assert entry["org_id"] == orgs["a"]
    for event in splunk_peer.events:
        record = by_id[event["event"]["id"]]
        assert event["event"] == json.loads(json.dumps(record_to_json(record)))
        assert event["index"] == "bonito" and event["fields"]["org_id"] == orgs["a"]
        assert event["fields"]["level"] == record["severity"].upper().replace("WARN", "WARNING")
    for delivered in webhook_peer.events:
        assert set(delivered) == RECORD_KEYS
        assert delivered == json.loads(json.dumps(record_to_json(by_id[delivered["id"]])))
    for name, state in states.items():
        assert state["health"] == "ok", (name, state)
        if state["last_error"] is not None:  # a transient hiccup, retried (not one record lost above)
            assert state["last_error"]["at"] < state["last_success_at"], (name, state)
        assert state["records_in_dlq"] == 0 and state["consumer_lag"] is not None, (name, state)

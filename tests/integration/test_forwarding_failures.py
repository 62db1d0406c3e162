"""Destinations failing: an outage opens and closes the circuit without losing a record; bad
credentials park records in the dead-letter queue until fixed and replayed; a worker killed
mid-forwarding loses nothing.

The outage and the bad credentials run at once, on one worker, next to a healthy webhook
that must keep delivering meanwhile; the killed worker runs beside them on topics of its own.
"""

from __future__ import annotations

import asyncio
import time
import uuid

from tests.integration.forwarding_support import (
    datadog_body,
    forwarding_api,
    forwarding_settings,
    renamed,
    splunk_body,
    webhook_body,
    worker,
)
from tests.integration.support import (
    OUTPUT,
    WorkerProcess,
    encoded,
    generate_records,
    produce,
    wait_until,
)
from tests.peers.fixtures import datadog_peer, splunk_peer, webhook_peer  # noqa: F401
from tests.peers.splunk import DEFAULT_TOKEN
from tests.peers.webhook import WebhookPeer

OUTAGE_S = 60.0
WRONG_TOKEN = "00000000-0000-4000-8000-00000000dead"


def report(name: str, text: str) -> None:
    OUTPUT.mkdir(exist_ok=True)
    with open(OUTPUT / "forwarding-report.txt", "a") as out:
        out.write(f"{time.strftime('%F %T')} {name}: {text}\n")
    print(f"{name}: {text}")


async def _outage(api, peer, iid: str, expected: set[str]) -> None:
    """503 for 60 s: the circuit opens, then closes once the destination is back; all arrive."""
    seen: list[str] = []
    healed_at = time.monotonic() + OUTAGE_S

    async def healthy_again() -> bool:
        state = (await api.get(iid))["state"]
        seen.append(state["health"])
        return (time.monotonic() > healed_at and state["health"] == "ok"
                and peer.received_ids() >= expected)

    await wait_until(healthy_again, OUTAGE_S + 90, "Datadog back: circuit closed, all delivered",
                     interval=0.5)
    assert "circuit_open" in seen, seen
    first_open = seen.index("circuit_open")
    assert "ok" in seen[first_open:], seen
    assert peer.received_ids() == expected
    failed = sum(1 for r in peer.requests_to("/api/v2/logs") if r.status == 503)
    report("outage", f"{len(expected)} records, {failed} requests answered 503 during {OUTAGE_S:.0f}s, "
                     f"health seen {sorted(set(seen))}, duplicates {peer.duplicates}")
    assert peer.duplicates <= 1000, "duplicates only within the batch being retried"


async def _bad_credentials(api, peer, iid: str, expected: set[str]) -> None:
    """Wrong HEC token: failing with Splunk's reason, every record in the DLQ; fix, replay, all arrive."""
    state = await api.wait_state(iid, lambda st: st["records_in_dlq"] == len(expected), 120,
                                 "every record dead-lettered")
    assert state["health"] == "failing"
    assert state["last_error"]["reason"] == "Splunk answered 403 (code 4): Invalid token"
    assert peer.received_ids() == set()

    page = await api.client.get(f"/api/logs/integrations/{iid}/dlq?limit=100", headers=api.headers("member"))
    assert page.status_code == 200, page.text
    body = page.json()
    assert body["pending"] == len(expected) and len(body["items"]) == 100
    first = body["items"][0]
    assert first["reason"] == "Splunk answered 403 (code 4): Invalid token"
    assert first["record_id"] in expected and first["preview"]["event_type"]
    assert first["failed_at"] and first["source"]["topic"]
    more = await api.client.get(f"/api/logs/integrations/{iid}/dlq?limit=100&after={body['next_after']}",
                                headers=api.headers())
    assert more.json()["items"][0]["offset"] == body["next_after"] + 1

    tested = await api.client.post(f"/api/logs/integrations/{iid}/test", headers=api.headers())
    assert tested.json()["ok"] is False and "Invalid token" in tested.json()["message"]
    fixed = await api.patch(iid, {"credentials": {"hec_token": DEFAULT_TOKEN}})
    assert fixed["credentials"] == {"hec_token": "****5555"}
    await api.wait_state(iid, lambda st: st["applied_revision"] == fixed["revision"], 10,
                         "the workers to use the new token")
    tested = await api.client.post(f"/api/logs/integrations/{iid}/test", headers=api.headers())
    assert tested.json()["ok"] is True, tested.json()

    member = await api.client.post(f"/api/logs/integrations/{iid}/dlq/replay", headers=api.headers("member"))
    assert member.status_code == 403
    replay = await api.client.post(f"/api/logs/integrations/{iid}/dlq/replay", headers=api.headers())
    assert replay.status_code == 202, replay.text
    assert replay.json() == {"replayed": len(expected), "remaining": 0}
    again = await api.client.post(f"/api/logs/integrations/{iid}/dlq/replay", headers=api.headers())
    assert again.json() == {"replayed": 0, "remaining": 0}

    await wait_until(lambda: _arrived(peer, expected), 120, "the replayed records at Splunk")
    state = await api.wait_state(iid, lambda st: st["replay_pending"] == 0 and st["health"] == "ok"
                                 and st["records_replayed"] >= len(expected), 30, "the replay reported")
    assert state["records_in_dlq"] == 0
    assert peer.received_ids() == expected
    report("bad credentials", f"{len(expected)} records dead-lettered, replayed after the fix; "
                              f"duplicates {peer.duplicates}")
    assert peer.duplicates == 0


async def _arrived(peer, expected: set[str]) -> bool:
    return peer.received_ids() >= expected


async def test_outage_bad_credentials_and_a_killed_worker(
        settings, datadog_peer, splunk_peer, webhook_peer):  # noqa: F811
    with WebhookPeer() as kill_peer:
        async with asyncio.TaskGroup() as scenarios:  # side by side; one failing cancels the other
            scenarios.create_task(_failing_destinations(settings, datadog_peer, splunk_peer, webhook_peer))
            scenarios.create_task(_killed_worker(renamed(settings), kill_peer))


async def _failing_destinations(settings, datadog, splunk, webhook) -> None:
    """Datadog down for 60 s and Splunk with a wrong token, while a webhook keeps delivering."""
    s = forwarding_settings(settings)
    orgs = {"a": str(uuid.uuid4()), "b": str(uuid.uuid4())}
    async with forwarding_api(s, orgs) as api:
        dd = await api.create(datadog_body(datadog))
        sp = await api.create(splunk_body(splunk, token=WRONG_TOKEN))
        wh = await api.create(webhook_body(webhook))
        records = generate_records(6_000, [orgs["a"], orgs["b"]], seed=202)
        expected = {r["id"] for r in records if r["org_id"] == orgs["a"]}
        with worker(s, "fwd-failures"):
            await api.wait_state(dd["id"], lambda st: st["health"] == "ok", 180, "the forwarders to run")
            datadog.fail_with(503, seconds=OUTAGE_S)
            started = time.monotonic()
            await produce(s, encoded(records))
            # The healthy webhook delivers everything while Datadog is still down.
            await wait_until(lambda: _arrived(webhook, expected), 45, "the webhook's records")
            assert time.monotonic() - started < OUTAGE_S and datadog.received_ids() == set()
            assert webhook.duplicates == 0
            async with asyncio.TaskGroup() as both:
                both.create_task(_outage(api, datadog, dd["id"], expected))
                both.create_task(_bad_credentials(api, splunk, sp["id"], expected))
        assert (await api.get(wh["id"]))["state"]["last_error"] is None


async def _killed_worker(settings, peer) -> None:
    """SIGKILL mid-forwarding, restart: every record arrives (duplicates: the chunk in flight)."""
    s = forwarding_settings(settings)
    orgs = {"a": str(uuid.uuid4()), "b": str(uuid.uuid4())}
    async with forwarding_api(s, orgs) as api:
        await api.create(webhook_body(peer))
        records = generate_records(20_000, [orgs["a"], orgs["b"]], seed=303)
        expected = {r["id"] for r in records if r["org_id"] == orgs["a"]}
        peer.latency(0.5)  # deliveries take a while: the kill lands mid-way
        process = WorkerProcess(s, "fwd-kill")
        process.start()
        try:
            producing = asyncio.create_task(produce(s, encoded(records), pace=0.02))
            await wait_until(lambda: _some(peer, 1_000), 180, "forwarding to be under way")
            before = len(peer.received_ids())
            process.kill()
            assert before < len(expected), "the kill must land mid-forwarding"
            await asyncio.sleep(1)
            process.start()
            await producing
            await wait_until(lambda: _arrived(peer, expected), 240, "every record after the restart")
        finally:
            process.terminate()
    assert peer.received_ids() == expected
    report("worker killed", f"{len(expected)} records, {before} delivered before the kill, "
                            f"none lost, duplicates {peer.duplicates}")


async def _some(peer, n: int) -> bool:
    return len(peer.received_ids()) >= n

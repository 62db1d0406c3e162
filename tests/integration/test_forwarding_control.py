"""The workers follow the API: a new integration forwards from "now" within 5 s of its
creation, a PATCH applies within 5 s, disabling stops and re-enabling resumes where it
stopped, deleting stops it; and no secret shows in a response or a log line meanwhile."""

from __future__ import annotations

import asyncio
import logging
import time
import uuid

from bonito_logs.store import make_client
from bonito_logs.store.integration_status import IntegrationStatusStore
from tests.integration.forwarding_support import (
    datadog_body,
    forwarding_api,
    forwarding_settings,
    webhook_body,
    worker,
)
from tests.integration.support import encoded, generate_records, produce, wait_until
from tests.peers.datadog import DEFAULT_API_KEY
from tests.peers.fixtures import datadog_peer, webhook_peer  # noqa: F401
from tests.peers.webhook import DEFAULT_SECRET

PICKUP_S = 5.0
FAST = 0.1  # how often the test asks the API while it waits for a change to show


async def test_workers_follow_create_patch_disable_and_delete_and_never_log_a_secret(
        settings, datadog_peer, webhook_peer, caplog):  # noqa: F811
    caplog.set_level(logging.DEBUG)
    s = forwarding_settings(settings)
    org = str(uuid.uuid4())
    timings: dict[str, float] = {}
    responses: list[str] = []

    def ids(records: list[dict], **match: str) -> set[str]:
        return {r["id"] for r in records if all(r[k] == v for k, v in match.items())}

    async def received(want: set[str]) -> bool:
        return webhook_peer.received_ids() >= want

    async with forwarding_api(s, {"a": org, "b": str(uuid.uuid4())}) as api:
        with worker(s, "fwd-control") as process:
            log_start = process.log_path.stat().st_size if process.log_path.exists() else 0
            warm = await api.create(datadog_body(datadog_peer))  # proves the worker is up
            await api.wait_state(warm["id"], lambda st: st["applied_revision"] == 1, 180, "the worker to start")

            before = generate_records(300, [org], seed=1)
            await produce(s, encoded(before))  # before the integration: never forwarded
            started = time.monotonic()
            created = await api.create(webhook_body(webhook_peer))
            responses.append(str(created))
            iid = created["id"]
            await api.wait_state(iid, lambda st: st["applied_revision"] == 1, PICKUP_S, "the new integration",
                                 interval=FAST)
            timings["create"] = time.monotonic() - started
            after = generate_records(300, [org], seed=2)
            await produce(s, encoded(after))
            await wait_until(lambda: received(ids(after)), 30, "records produced after the creation")
            assert not webhook_peer.received_ids() & ids(before)

            started = time.monotonic()
            patched = await api.patch(iid, {"filters": {"severities": ["error"]}, "name": "errors only"})
            responses.append(str(patched))
            await api.wait_state(iid, lambda st: st["applied_revision"] == patched["revision"], PICKUP_S,
                                 "the new filters", interval=FAST)
            timings["patch"] = time.monotonic() - started
            filtered = generate_records(600, [org], seed=3)
            await produce(s, encoded(filtered))
            await wait_until(lambda: received(ids(filtered, severity="error")), 30, "the error records")
            assert not webhook_peer.received_ids() & (ids(filtered) - ids(filtered, severity="error"))

            started = time.monotonic()
            disabled = await api.patch(iid, {"enabled": False})
            await api.wait_state(iid, lambda st: st["health"] == "disabled" and not any(
                w["running"] for w in st["workers"]), PICKUP_S, "the forwarder to stop",
                interval=FAST)
            timings["disable"] = time.monotonic() - started
            meanwhile = generate_records(300, [org], seed=4)
            await produce(s, encoded(meanwhile))
            await asyncio.sleep(3)
            assert not webhook_peer.received_ids() & ids(meanwhile)
            lagging = await api.wait_state(iid, lambda st: (st["consumer_lag"] or 0) >= len(meanwhile), 10,
                                           "the lag of the paused integration")
            assert lagging["health"] == "disabled"

            started = time.monotonic()
            enabled = await api.patch(iid, {"enabled": True})
            await api.wait_state(iid, lambda st: st["applied_revision"] == enabled["revision"]
                                 and st["health"] == "ok", PICKUP_S, "the forwarder to resume",
                                 interval=FAST)
            timings["enable"] = time.monotonic() - started
            # Re-enabled, it resumes where it stopped: what arrived meanwhile is forwarded.
            await wait_until(lambda: received(ids(meanwhile, severity="error")), 30, "records from the pause")
            assert disabled["revision"] < enabled["revision"]

            started = time.monotonic()
            gone = await api.client.delete(f"/api/logs/integrations/{iid}", headers=api.headers())
            assert gone.status_code == 204
            statuses = IntegrationStatusStore(make_client(s), s)
            try:
                async def stopped() -> bool:  # the worker removes its report once it stopped
                    docs = await statuses.for_integrations([iid])
                    return docs[iid] == []
                await wait_until(stopped, PICKUP_S * 2, "the deleted integration's forwarder to go",
                                 interval=0.1)
            finally:
                await statuses._client.close()
            timings["delete"] = time.monotonic() - started
            later = generate_records(300, [org], seed=5)
            await produce(s, encoded(later))
            responses.append((await api.client.get("/api/logs/integrations", headers=api.headers())).text)
            await asyncio.sleep(3)
        worker_log = process.log_path.read_bytes()[log_start:].decode(errors="replace")

    print("pick-up times (s):", {k: round(v, 2) for k, v in timings.items()})
    assert all(seconds <= PICKUP_S for name, seconds in timings.items() if name != "delete"), timings
    assert timings["delete"] <= PICKUP_S * 2, timings  # stopped, and its report removed
    assert not webhook_peer.received_ids() & ids(later)
    assert "forwarder started" in worker_log and "forwarder stopped" in worker_log
    for secret in (DEFAULT_SECRET, DEFAULT_API_KEY):
        assert secret not in caplog.text
        assert secret not in worker_log
        assert all(secret not in text for text in responses)


"""A destination that hangs slows neither indexing nor the org's other integrations.

The same 50,000 records are indexed by two fresh workers side by side, on two topics:
one with no integration, one while org A has a Datadog integration whose intake never
answers and a webhook integration that works. Running them at the same time exposes both
to the same load from whatever else runs on the machine. The indexing rates are compared
(reported; asserted loosely) and the webhook must get all of its records meanwhile.
"""

from __future__ import annotations

import asyncio
import time
import uuid

from opensearchpy.exceptions import TransportError

from bonito_logs.store.integration_filters import RecordFilter
from bonito_logs.streams.app import prepare
from tests.integration.forwarding_support import (
    datadog_body,
    forwarding_api,
    forwarding_settings,
    webhook_body,
    worker,
)
from tests.integration.support import (
    OUTPUT,
    count_docs,
    delete_test_indices,
    encoded,
    generate_records,
    produce,
    wait_until,
)
from tests.peers.fixtures import datadog_peer, webhook_peer  # noqa: F401

RECORDS = 50_000
ERRORS = {"severities": ["error", "critical"]}


async def _count(settings) -> int:
    try:
        return await count_docs(settings)
    except TransportError as exc:  # a daily index just created, its shard still starting
        if exc.status_code != 503:
            raise
        return 0


async def indexing_rate(settings) -> float:
    """Docs/s from the first searchable document to the last (the worker is starting now)."""
    deadline = time.monotonic() + 300
    while (first := await _count(settings)) == 0:
        assert time.monotonic() < deadline, "the worker did not start indexing"
        await asyncio.sleep(0.05)
    started = time.perf_counter()
    while await _count(settings) < RECORDS:
        assert time.monotonic() < deadline + 300, "indexing did not finish"
        await asyncio.sleep(0.1)
    return (RECORDS - first) / (time.perf_counter() - started)


async def test_a_hanging_destination_slows_neither_indexing_nor_other_integrations(
        settings, datadog_peer, webhook_peer):  # noqa: F811
    s = forwarding_settings(settings)
    plain = s.replace(logs_topic=s.logs_topic + ".plain", dlq_topic=s.dlq_topic + ".plain",
                      index_prefix=s.index_prefix.replace("-logs-", "-plainlogs-"),
                      meta_prefix=s.meta_prefix + "plain-",
                      indexer_group=s.indexer_group + ".plain")
    orgs = [str(uuid.uuid4()) for _ in range(5)]
    records = generate_records(RECORDS, orgs, seed=404)
    keep = RecordFilter.from_body(ERRORS)
    expected = {r["id"] for r in records if r["org_id"] == orgs[0] and keep.matches(r)}
    await prepare(plain)
    try:
        async with forwarding_api(s, {"a": orgs[0], "b": orgs[1]}) as api:
            datadog_peer.hang(600)  # accepts connections, never answers
            stuck = await api.create(datadog_body(datadog_peer))
            healthy = await api.create(webhook_body(webhook_peer, filters=ERRORS))
            await asyncio.gather(produce(plain, encoded(records)), produce(s, encoded(records)))

            # Both workers at once: whatever else loads the machine loads both alike.
            with worker(plain, "fwd-isolation-plain"), worker(s, "fwd-isolation-hanging"):
                baseline, with_hanging = await asyncio.gather(indexing_rate(plain), indexing_rate(s))
                await wait_until(lambda: _arrived(webhook_peer, expected), 120, "the webhook's records")
                state = await api.wait_state(
                    stuck["id"], lambda st: st["health"] in ("circuit_open", "failing"), 30,
                    "the hanging destination to show")
                other = await api.wait_state(healthy["id"], lambda st: st["health"] == "ok", 30,
                                             "the webhook integration's state")
    finally:
        await delete_test_indices(plain)
    ratio = with_hanging / baseline
    line = (f"indexing {RECORDS} records: {baseline:.0f}/s without integrations, {with_hanging:.0f}/s "
            f"with a hanging Datadog and a webhook (ratio {ratio:.2f}); the webhook got its "
            f"{len(expected)} records meanwhile; "
            f"Datadog: {state['health']}, {state['last_error']['reason'] if state['last_error'] else ''}")
    OUTPUT.mkdir(exist_ok=True)
    with open(OUTPUT / "forwarding-report.txt", "a") as out:
        out.write(f"{time.strftime('%F %T')} isolation: {line}\n")
    print(line)
    assert webhook_peer.received_ids() == expected and webhook_peer.duplicates == 0
    assert datadog_peer.received_ids() == set()
    assert "timed out" in state["last_error"]["reason"]
    assert other["health"] == "ok" and other["last_error"] is None
    assert ratio >= 0.5, line


async def _arrived(peer, expected: set[str]) -> bool:
    return peer.received_ids() >= expected

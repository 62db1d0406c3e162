"""Forwarding throughput per connector, and what three active integrations cost indexing.

In one run, with the local stack up:
  (a) per connector (Datadog, Splunk HEC, CloudWatch through moto, webhook), against its
      local peer: records are produced first, then a forwarding-only process (the
      ``ForwardingSupervisor`` alone) forwards them; records/s from the first delivery to
      the last, as the forwarder reports them.
  (b) indexing rate of a fresh ``bonito-logs worker`` over the same records, once with no
      integration and once with three active ones (Datadog, Splunk and webhook, each for one
      of four orgs, so each forwards a quarter of the records while reading all of them);
      docs/s from the first searchable document to the last. Printed with the ratio.

Usage: ``python bench/forwarding.py [--records 50000] [--forward-records 20000]``.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import os
import subprocess
import sys
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench._common import bench_settings  # noqa: E402
from bonito_logs.config import Settings  # noqa: E402
from bonito_logs.crypto import encrypt_credentials, mask_credentials  # noqa: E402
from bonito_logs.store import make_client  # noqa: E402
from bonito_logs.store.integration_filters import parse_filters  # noqa: E402
from bonito_logs.store.integration_status import IntegrationStatusStore  # noqa: E402
from bonito_logs.store.integrations import Integration, IntegrationStore, iso, now  # noqa: E402
from bonito_logs.streams.app import prepare  # noqa: E402
from tests.integration.forwarding_support import (  # noqa: E402
    cloudwatch_body,
    datadog_body,
    delete_integration_topics,
    splunk_body,
    webhook_body,
)
from tests.integration.support import count_docs, encoded, generate_records, produce  # noqa: E402
from tests.peers.cloudwatch import DUMMY_KEY_ID, DUMMY_SECRET, CloudWatchPeer, moto_url  # noqa: E402
from tests.peers.datadog import DatadogPeer  # noqa: E402
from tests.peers.splunk import SplunkPeer  # noqa: E402
from tests.peers.webhook import WebhookPeer  # noqa: E402


def _settings(name: str) -> Settings:
    return bench_settings(name, allow_private_destinations=True, forward_status_s=0.5,
                          connector_timeout_s=30.0, topic_partitions=6)


async def _add(settings: Settings, body: dict, org: str, *, from_start: bool) -> str:
    """Store an integration as the API would; ``from_start``: forward what is already there."""
    client = make_client(settings)
    try:
        store = IntegrationStore(client, settings)
        integration = Integration(
            integration_id=str(uuid.uuid4()), org_id=org, name=body["name"],
            integration_type=body["integration_type"], config=body["config"],
            credentials=encrypt_credentials(body["credentials"], settings),
            credentials_masked=mask_credentials(body["credentials"]),
            filters=parse_filters(None, []), created_at=iso(now()), updated_at=iso(now()),
            start_offsets={str(p): 0 for p in range(settings.topic_partitions)} if from_start else None)
        if not from_start:  # where the API would start it: the end, now
            from bonito_logs.api.integration_kafka import ForwardingKafka
            kafka = ForwardingKafka(settings)
            integration = Integration(**{**integration.to_source(), "start_offsets": await kafka.start_offsets()})
            await kafka.aclose()
        await store.create(integration)
        return integration.integration_id
    finally:
        await client.close()


async def _forwarded(settings: Settings, iid: str) -> int:
    client = make_client(settings)
    try:
        docs = await IntegrationStatusStore(client, settings).for_integrations([iid])
    except Exception:  # noqa: BLE001 - the status index may not exist yet
        return 0
    finally:
        await client.close()
    return sum(int(d.get("records_forwarded") or 0) for d in docs.get(iid, []))


def _supervise(settings: Settings) -> None:
    from bonito_logs.streams.forwarding import ForwardingSupervisor

    asyncio.run(ForwardingSupervisor(settings).run())


async def forward_rate(name: str, body_of, n: int) -> float:
    settings = _settings(f"fwd-{name}")
    await prepare(settings)
    org = str(uuid.uuid4())
    await produce(settings, encoded(generate_records(n, [org], seed=7)))
    iid = await _add(settings, body_of(), org, from_start=True)
    process = multiprocessing.get_context("spawn").Process(target=_supervise, args=(settings,), daemon=True)
    process.start()
    try:
        deadline = time.monotonic() + 600
        while (first := await _forwarded(settings, iid)) == 0:
            assert time.monotonic() < deadline, f"{name}: nothing forwarded"
            await asyncio.sleep(0.1)
        started = time.perf_counter()
        while (done := await _forwarded(settings, iid)) < n:
            assert time.monotonic() < deadline, f"{name}: stuck at {done}/{n}"
            await asyncio.sleep(0.1)
        return (n - first) / (time.perf_counter() - started)
    finally:
        process.terminate()
        process.join(30)
        await cleanup(settings, [iid])


async def indexing_rate(settings: Settings, n: int, records: list[dict], then=None) -> float:
    """Docs/s of a worker started on ``records`` already produced; ``then()`` runs before it stops."""
    await produce(settings, encoded(records))
    env = dict(os.environ, **settings.to_env())
    proc = subprocess.Popen([sys.executable, "-m", "bonito_logs.cli", "worker", "-l", "warning"],
                            env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        while (first := await count_docs(settings)) == 0:
            await asyncio.sleep(0.05)
        started = time.perf_counter()
        while await count_docs(settings) < n:
            await asyncio.sleep(0.1)
        rate = (n - first) / (time.perf_counter() - started)
        if then is not None:
            await then()
        return rate
    finally:
        proc.terminate()
        proc.wait(60)


async def cleanup(settings: Settings, integration_ids: list[str]) -> None:
    client = make_client(settings)
    try:
        for pattern in (settings.index_pattern, settings.meta_prefix + "*"):
            await client.indices.delete(index=pattern, ignore_unavailable=True, allow_no_indices=True)
    finally:
        await client.close()
    await delete_integration_topics(settings, integration_ids)


async def run(args: argparse.Namespace) -> None:
    os.environ.update(AWS_ACCESS_KEY_ID=DUMMY_KEY_ID, AWS_SECRET_ACCESS_KEY=DUMMY_SECRET,
                      AWS_DEFAULT_REGION="us-east-1")
    with DatadogPeer() as dd, SplunkPeer() as hec, WebhookPeer() as hook:
        cw = CloudWatchPeer(moto_url())
        cw.allow_any_auth()
        cw.reset()
        peers = {"datadog": lambda: datadog_body(dd), "splunk": lambda: splunk_body(hec),
                 "cloudwatch": lambda: cloudwatch_body(cw), "webhook": lambda: webhook_body(hook)}
        rates = {}
        for name, body_of in peers.items():
            rates[name] = await forward_rate(name, body_of, args.forward_records)
            print(f"(a) {name:<10} {rates[name]:8.0f} records/s forwarded "
                  f"({args.forward_records} records, one forwarder)", flush=True)

        orgs = [str(uuid.uuid4()) for _ in range(4)]
        records = generate_records(args.records, orgs, seed=11)
        plain, busy = _settings("idx-plain"), _settings("idx-fwd")
        await prepare(plain)
        await prepare(busy)
        ids = [await _add(busy, body, org, from_start=False) for body, org in
               ((datadog_body(dd), orgs[0]), (splunk_body(hec), orgs[1]), (webhook_body(hook), orgs[2]))]
        try:
            without = await indexing_rate(plain, args.records, records)
            print(f"(b) indexing, no integration      : {without:8.0f} docs/s", flush=True)
            three = {"datadog": dd, "splunk": hec, "webhook": hook}
            before = {name: len(peer.ids) for name, peer in three.items()}
            quarter = sum(1 for r in records if r["org_id"] == orgs[0])
            indexed_at = [0.0]

            async def forwarding_done() -> None:
                indexed_at[0] = time.perf_counter()
                deadline = time.monotonic() + 300
                while (min(len(p.ids) - before[k] for k, p in three.items()) < quarter
                       and time.monotonic() < deadline):
                    await asyncio.sleep(0.2)

            with_three = await indexing_rate(busy, args.records, records, then=forwarding_done)
            lagged = time.perf_counter() - indexed_at[0]
            got = {name: len(peer.ids) - before[name] for name, peer in three.items()}
            print(f"(c) indexing, 3 active integrations: {with_three:8.0f} docs/s", flush=True)
            print(f"    forwarded {got} of ~{quarter} each; the last {lagged:.1f}s after indexing ended")
        finally:
            await cleanup(plain, [])
            await cleanup(busy, ids)
    print(f"ratio c/b = {with_three / without:.2f} (indexing with three integrations / without)")
    slowest = min(rates, key=rates.get)
    print("forwarding rate / indexing rate without integrations: "
          + ", ".join(f"{k} {v / without:.2f}" for k, v in rates.items()) + f" (slowest: {slowest})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--records", type=int, default=50_000, help="records indexed in (b) and (c)")
    parser.add_argument("--forward-records", type=int, default=20_000, help="records forwarded per connector in (a)")
    asyncio.run(run(parser.parse_args()))


if __name__ == "__main__":
    main()

"""Query latency on the 1,000,000-record data set: five representative queries through the API.

(filter only, full text, trace, a deep cursor page, sort by cost), each run
``--repeat`` times through the real Starlette app in-process (routing, auth,
validation, OpenSearch, serialisation). Prints p50/p95 per query.

Usage: ``python bench/query.py [--records 1000000] [--repeat 50]`` (builds the data set once).
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402

from bench._common import percentile  # noqa: E402
from bench._dataset import ORGS, dataset_settings, ensure_dataset  # noqa: E402
from bonito_logs.api.app import create_app  # noqa: E402
from bonito_logs.store import make_client  # noqa: E402
from bonito_logs.store.keys import KeyStore  # noqa: E402
from tests.integration.support import count_docs  # noqa: E402


async def deep_cursor(client: httpx.AsyncClient, depth: int) -> str:
    cursor = None
    got = 0
    while got < depth:
        page = (await client.post("/api/logs/query", json={"limit": 1000, "cursor": cursor})).json()
        got += len(page["items"])
        cursor = page["next_cursor"]
    return cursor


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--records", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=50)
    parser.add_argument("--depth", type=int, default=50_000, help="records before the deep cursor page")
    args = parser.parse_args()
    settings = dataset_settings()
    if await count_docs(settings) < args.records:  # raw logs are all this benchmark reads
        settings = await ensure_dataset(args.records)
    os_client = make_client(settings)
    keys = KeyStore(os_client, settings)
    await keys.ensure_index()
    token = (await keys.create(ORGS[0], "viewer", name="bench")).token
    app = create_app(settings)
    client = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://bench",
                               headers={"Authorization": f"Bearer {token}"}, timeout=60)
    total = await os_client.count(index=settings.index_pattern)
    org_total = (await client.post("/api/logs/query", json={"limit": 1})).json()["total"]["value"]
    trace = (await client.post("/api/logs/query", json={"limit": 1, "filters": {"log_types": ["agent"]}})).json()
    trace_id = next(i["trace_id"] for i in trace["items"] if i["trace_id"])
    cursor = await deep_cursor(client, args.depth)
    queries = {
        "filter only (gateway, error|critical)": ("POST", "/api/logs/query", {
            "filters": {"log_types": ["gateway"], "severities": ["error", "critical"]}, "limit": 100}),
        "full text ('timeout OR quota')": ("POST", "/api/logs/query", {
            "filters": {"search": "timeout OR quota"}, "limit": 100}),
        "trace": ("GET", f"/api/logs/trace/{trace_id}", None),
        f"deep cursor page (after {args.depth:,})": ("POST", "/api/logs/query", {"limit": 100, "cursor": cursor}),
        "sort by cost desc": ("POST", "/api/logs/query", {"sort_by": "cost", "limit": 100}),
    }
    print(f"data set: {total['count']:,} documents; queries run as one org holding {org_total:,}")
    for name, (method, path, body) in queries.items():
        times = []
        for _ in range(args.repeat):
            start = time.perf_counter()
            resp = await client.request(method, path, json=body)
            times.append((time.perf_counter() - start) * 1000)
            assert resp.status_code == 200, resp.text
        print(f"{name:40s} p50={percentile(times, 50):6.1f} ms  p95={percentile(times, 95):6.1f} ms")
    print("target: p95 <= 100 ms")
    await client.aclose()
    await app.state.services.aclose()
    await os_client.close()


if __name__ == "__main__":
    asyncio.run(main())

"""Helpers of the export tests: private export settings, fast bulk loading, an in-process
exporter, polling a job, and the records a job must produce."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Iterable
from typing import Any

import httpx
import orjson
from opensearchpy import AsyncOpenSearch

from bonito_logs.config import Settings
from bonito_logs.schemas import FIELDS, record_to_json
from bonito_logs.store import ensure_templates, index_for, to_document
from bonito_logs.streams.exporter import ExporterAgent
from tests.integration.support import running

CHUNK = 5000


def export_settings(settings: Settings, **over: Any) -> Settings:
    """The test's settings with a private exports topic and consumer group."""
    token = settings.meta_prefix.strip("-")
    values = {"exports_topic": f"{token}.exports", "exports_group": f"{token}.exporter",
              "exports_partitions": 2, "exports_lease_s": 6.0, "exports_progress_s": 0.5,
              "worker_id": f"{token}-inproc"}
    values.update(over)
    return settings.replace(**values)


async def bulk_load(settings: Settings, records: Iterable[dict[str, Any]]) -> int:
    """Index records straight into their daily indices (routing = org), then refresh."""
    client = AsyncOpenSearch(hosts=[settings.opensearch_url], timeout=120)
    n = 0
    try:
        await ensure_templates(client, settings)
        lines: list[bytes] = []
        sends = []
        sem = asyncio.Semaphore(2)

        async def send(body: bytes) -> None:
            async with sem:
                resp = await client.bulk(body=body, filter_path="errors,items.*.error")
                assert not resp.get("errors"), str(resp)[:2000]

        for record in records:
            lines.append(orjson.dumps({"index": {"_index": index_for(record["timestamp"], settings),
                                                 "_id": record["id"], "routing": record["org_id"]}}))
            lines.append(orjson.dumps(to_document(record)))
            n += 1
            if len(lines) >= 2 * CHUNK:
                sends.append(asyncio.create_task(send(b"\n".join(lines) + b"\n")))
                lines = []
        if lines:
            sends.append(asyncio.create_task(send(b"\n".join(lines) + b"\n")))
        await asyncio.gather(*sends)
        await client.indices.refresh(index=settings.index_pattern)
    finally:
        await client.close()
    return n


def running_exporter(settings: Settings) -> contextlib.AbstractAsyncContextManager[ExporterAgent]:
    return running(ExporterAgent(settings))


async def wait_for_job(client: httpx.AsyncClient, headers: dict[str, str], job_id: str,
                       statuses: Iterable[str], timeout: float = 90.0,
                       seen: list[dict] | None = None, interval: float = 0.2) -> dict:
    wanted = set(statuses)
    deadline = time.monotonic() + timeout
    while True:
        response = await client.get(f"/api/logs/export/{job_id}", headers=headers)
        assert response.status_code == 200, response.text
        job = response.json()
        if seen is not None:
            seen.append(job)
        if job["status"] in wanted:
            return job
        if time.monotonic() > deadline:
            raise AssertionError(f"export {job_id} still {job['status']} after {timeout}s: {job}")
        await asyncio.sleep(interval)


def expected_records(records: Iterable[dict[str, Any]], *, order: str = "desc",
                     columns: tuple[str, ...] = FIELDS) -> list[dict[str, Any]]:
    """What an export of ``records`` holds (already filtered), in the export's order."""
    ordered = sorted(records, key=lambda r: (r["timestamp"], r["id"]), reverse=order == "desc")
    out = []
    for record in ordered:
        as_json = record_to_json(record)
        out.append({c: as_json[c] for c in columns})
    return out

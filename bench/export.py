"""Export throughput: the exporter worker against a plain PIT + search_after loop.

The shared 1,000,000-record data set (``bench/_dataset.py``: 10 orgs x 100,000
records) is exported to CSV, one job per org, so 1,000,000 rows in all:

  (a) baseline: one process, for each org a point in time, ``search_after`` pages
      of 5,000 (opensearch-py's defaults: whole ``_source``, ``json`` parsing), each
      hit turned into the API's record and written with ``csv.writer``
      (the same cells, the same quoting and neutralisation: the files are compared
      byte for byte with ours);
  (b) ours: a ``bonito-logs worker`` process with the data set's settings (its log
      topics pointed at an empty private topic so only the exporter works); the ten
      jobs are created through the API (in-process) and timed from the first request
      until the last job is completed; peak RSS is the worker's VmHWM.

(b) runs twice: with ``exports_concurrency=1`` (one job at a time, like the baseline)
and with the default concurrency. Usage: ``python bench/export.py`` with the stack up.
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import multiprocessing
import os
import shutil
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402
import orjson  # noqa: E402

from bench._dataset import ORGS, dataset_settings, ensure_dataset  # noqa: E402
from bonito_logs.api.app import create_app  # noqa: E402
from bonito_logs.config import Settings  # noqa: E402
from bonito_logs.schemas import FIELDS  # noqa: E402
from bonito_logs.store import LogQuery, build_query, build_sort, from_document, make_client  # noqa: E402
from bonito_logs.store.keys import KeyStore  # noqa: E402
from tests.integration.support import WorkerProcess, count_docs  # noqa: E402
from tests.integration.test_api_support import bearer  # noqa: E402

PAGE = 5000
DATASET_RECORDS = 1_000_000
FORMULA = ("=", "+", "-", "@", "\t", "\r")


# -- (a) the baseline ------------------------------------------------------------------------
def _cells(record: dict) -> list[str]:
    out = []
    for name in FIELDS:
        value = record[name]
        if value is None:
            out.append("")
        elif name in ("duration_ms", "cost"):
            out.append(repr(value))
        else:
            text = value if isinstance(value, str) else orjson.dumps(value).decode()
            out.append("'" + text if text[:1] in FORMULA else text)
    return out


async def _baseline(settings: Settings, folder: Path) -> int:
    client = make_client(settings, timeout=120)
    rows = 0
    query = LogQuery()  # no filters, newest first: what the export of {} does
    try:
        for org in ORGS:
            pit = await client.create_pit(index=settings.index_pattern,
                                          params={"keep_alive": "5m", "routing": org})
            body = {"pit": {"id": pit["pit_id"], "keep_alive": "5m"}, "size": PAGE,
                    "query": build_query(org, query), "sort": build_sort(query),
                    "track_total_hits": False}
            with open(folder / f"{org}.csv", "w", newline="", encoding="utf-8") as handle:
                writer = csv.writer(handle)
                writer.writerow(FIELDS)
                while True:
                    hits = (await client.search(body=body))["hits"]["hits"]
                    for hit in hits:
                        writer.writerow(_cells(from_document(hit["_source"])))
                    rows += len(hits)
                    if len(hits) < PAGE:
                        break
                    body["search_after"] = hits[-1]["sort"]
            await client.delete_pit(body={"pit_id": [pit["pit_id"]]})
    finally:
        await client.close()
    return rows


def _baseline_process(settings: Settings, folder: str, queue) -> None:
    started = time.perf_counter()
    rows = asyncio.run(_baseline(settings, Path(folder)))
    queue.put((rows, time.perf_counter() - started, _vm_hwm_mb(os.getpid())))


# -- (b) ours ---------------------------------------------------------------------------------
def _vm_hwm_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


async def _ours(settings: Settings, concurrency: int) -> tuple[int, float, float, list[dict]]:
    run = settings.replace(exports_concurrency=concurrency, exports_per_org=concurrency)
    worker = WorkerProcess(run, f"bench-exporter-{concurrency}-{uuid.uuid4().hex[:4]}")
    app = create_app(run)
    worker.start()
    try:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://api",
                                     timeout=60) as api:
            # warm-up: the worker is up and has joined its group before the clock starts
            warm = await _submit(api, {"filters": {"search": "no-such-word-anywhere"}})
            await _wait(api, [warm], 180)
            started = time.perf_counter()
            jobs = [await _submit(api, {"export_format": "csv"}, org) for org in ORGS]
            done = await _wait(api, jobs, 1800)
            elapsed = time.perf_counter() - started
        rss = _vm_hwm_mb(worker.proc.pid)
    finally:
        worker.terminate()
        await app.state.services.aclose()
    bad = [job for job in done if job["status"] != "completed"]
    assert not bad, bad
    return sum(job["rows_written"] for job in done), elapsed, rss, done


_KEYS: dict[str, str] = {}  # org -> a member key of it


async def _submit(api: httpx.AsyncClient, body: dict, org: str = ORGS[0]) -> tuple[str, str]:
    response = await api.post("/api/logs/export", headers=bearer(_KEYS[org]), json=body)
    assert response.status_code == 202, response.text
    return response.json()["id"], _KEYS[org]


async def _wait(api: httpx.AsyncClient, jobs: list[tuple[str, str]], timeout: float) -> list[dict]:
    deadline = time.monotonic() + timeout
    done: dict[str, dict] = {}
    while len(done) < len(jobs):
        for job_id, key in jobs:
            if job_id in done:
                continue
            job = (await api.get(f"/api/logs/export/{job_id}", headers=bearer(key))).json()
            if job["status"] in ("completed", "failed", "cancelled"):
                done[job_id] = job
        assert time.monotonic() < deadline, f"exports not done after {timeout}s"
        await asyncio.sleep(0.2)
    return [done[job_id] for job_id, _ in jobs]


async def _make_keys(settings: Settings) -> None:
    client = make_client(settings)
    try:
        store = KeyStore(client, settings)
        for org in ORGS:
            _KEYS[org] = (await store.create(org, "member", name="bench-export")).token
    finally:
        await client.close()


async def _cleanup(settings: Settings) -> None:
    client = make_client(settings)
    try:
        await client.indices.delete(index=settings.meta_prefix + "*", ignore_unavailable=True,
                                    allow_no_indices=True)
    finally:
        await client.close()


def _same_files(ours: Path, baseline: Path, jobs: list[dict]) -> bool:
    """Each org's export file is byte for byte the baseline's."""
    for org, job in zip(ORGS, jobs, strict=True):
        mine = ours / org / f"{job['id']}.csv"
        if mine.read_bytes() != (baseline / f"{org}.csv").read_bytes():
            return False
    return True


async def _dataset() -> Settings:
    """The shared data set. Exports need only its indexed records: when all are there, the
    other stream workers' progress on it (the aggregator's) is not waited for."""
    settings = dataset_settings()
    if await count_docs(settings) >= DATASET_RECORDS:
        return settings
    return await ensure_dataset(DATASET_RECORDS)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--concurrency", type=int, default=Settings().exports_concurrency,
                        help="exports_concurrency of the second run of (b)")
    args = parser.parse_args()
    dataset = asyncio.run(_dataset())
    token = uuid.uuid4().hex[:6]
    work = Path(tempfile.mkdtemp(prefix="bonito-bench-export-"))
    settings = dataset.replace(
        # the worker's log consumers get an empty topic: only the exporter has work
        logs_topic=f"bench.export.{token}.logs", dlq_topic=f"bench.export.{token}.dlq",
        indexer_group=f"bench.export.{token}.indexer", meta_prefix=f"bench-export-{token}-",
        exports_topic=f"bench.export.{token}.exports", exports_group=f"bench.export.{token}.exporter",
        home=str(work / "home"), worker_id="")
    try:
        asyncio.run(_make_keys(settings))
        baseline_dir = work / "baseline"
        baseline_dir.mkdir()
        queue = multiprocessing.get_context("spawn").Queue()
        proc = multiprocessing.get_context("spawn").Process(
            target=_baseline_process, args=(dataset, str(baseline_dir), queue))
        proc.start()
        base_rows, base_s, base_rss = queue.get()
        proc.join()
        base_rate = base_rows / base_s
        print(f"baseline (PIT + search_after + csv, one process): {base_rows} rows in {base_s:.1f}s "
              f"= {base_rate:,.0f} rows/s, peak RSS {base_rss:.0f} MB")
        for concurrency in (1, args.concurrency):
            rows, seconds, rss, jobs = asyncio.run(_ours(settings, concurrency))
            rate = rows / seconds
            same = _same_files(settings.exports_path, baseline_dir, jobs)
            print(f"exporter worker, {concurrency} job(s) at a time: {rows} rows in {seconds:.1f}s "
                  f"= {rate:,.0f} rows/s, worker peak RSS {rss:.0f} MB, "
                  f"files identical to the baseline's: {same}")
            print(f"  ratio ours/baseline = {rate / base_rate:.2f} (target >= 0.9); "
                  f"peak RSS {'<=' if rss <= 300 else '>'} 300 MB")
            shutil.rmtree(settings.exports_path, ignore_errors=True)
    finally:
        asyncio.run(_cleanup(settings))
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()

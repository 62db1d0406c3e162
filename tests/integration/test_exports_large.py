"""120,000 matching records (more than any common cap) exported as CSV, JSON and NDJSON,
parsed back to exactly the matching records in order; progress seen rising; cancel
mid-export; a worker killed mid-export and the job taken over. One data set for all."""

from __future__ import annotations

import asyncio
import contextlib
import csv
import io
import json
import os
import shutil
import time
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from bonito_logs.api.app import create_app
from bonito_logs.config import Settings
from bonito_logs.schemas import FIELDS
from bonito_logs.store import make_client
from bonito_logs.store.keys import KeyStore
from tests.conftest import RUN_ID, isolated_settings
from tests.integration.export_support import (
    bulk_load,
    expected_records,
    export_settings,
    running_exporter,
    wait_for_job,
)
from tests.integration.support import WorkerProcess, generate_records
from tests.integration.test_api_support import bearer, delete_everything, wait_for_opensearch

MATCHING = 120_000
ORG = str(uuid.uuid4())
OTHER_ORG = str(uuid.uuid4())
# Recent days: a worker process's retention chore deletes indices older than retention_days.
START = (datetime.now(UTC) - timedelta(days=3)).replace(minute=0, second=0, microsecond=0)
FILTERS = {"log_types": ["gateway", "agent", "auth", "admin", "kb", "deployment"],
           "start_date": START.isoformat(), "end_date": (START + timedelta(hours=40)).isoformat()}
FORMULA = ("=", "+", "-", "@", "\t", "\r")

pytestmark = pytest.mark.timeout(600)


def _data() -> tuple[list[dict], list[dict]]:
    """120,000 matching records, 2,000 of the org that the filter excludes, 300 of another org."""
    records = generate_records(MATCHING + 2000, [ORG], seed=5, start=START, span=timedelta(hours=40))
    for i, record in enumerate(records):
        if i >= MATCHING:
            record["log_type"] = "billing"
        elif record["log_type"] == "billing":
            record["log_type"] = "gateway"
    others = generate_records(300, [OTHER_ORG], seed=6, start=START, span=timedelta(hours=40))
    return records[:MATCHING], records[MATCHING:] + others


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    token = f"t{RUN_ID}{uuid.uuid4().hex[:6]}"
    base = isolated_settings(token, tmp_path_factory.mktemp("exports-home"), topic_partitions=2)
    settings = export_settings(base, exports_page_size=5000)
    matching, rest = _data()

    async def load() -> str:
        await wait_for_opensearch(settings)
        await bulk_load(settings, matching + rest)
        client = make_client(settings)
        try:
            return (await KeyStore(client, settings).create(ORG, "member")).token
        finally:
            await client.close()

    started = time.monotonic()
    key = asyncio.run(load())
    print(f"indexed {len(matching) + len(rest)} records in {time.monotonic() - started:.1f}s")
    yield settings, key, expected_records(matching)
    asyncio.run(delete_everything(settings))
    shutil.rmtree(settings.exports_path, ignore_errors=True)


@contextlib.asynccontextmanager
async def api(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    """The app in-process, without deleting anything at the end (the module shares the data)."""
    app = create_app(settings)
    try:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://api.test",
                                     timeout=120) as client:
            yield client
    finally:
        await app.state.services.aclose()


async def _start(client, key, body) -> str:
    response = await client.post("/api/logs/export", headers=bearer(key), json=body)
    assert response.status_code == 202, response.text
    return response.json()["id"]


async def _download(client, key, job_id) -> bytes:
    response = await client.get(f"/api/logs/export/{job_id}/download", headers=bearer(key))
    assert response.status_code == 200, response.text[:500]
    return response.content


def _csv_records(data: bytes) -> list[dict]:
    """A CSV export read back with the standard library into records."""
    reader = csv.reader(io.StringIO(data.decode("utf-8"), newline=""))
    header = next(reader)
    out = []
    for row in reader:
        record = {}
        for column, cell in zip(header, row, strict=True):
            if cell == "":
                record[column] = None
            elif column in ("duration_ms", "cost"):
                record[column] = float(cell)
            elif column == "metadata":
                record[column] = json.loads(cell)
            elif cell.startswith("'") and cell[1:2] in FORMULA:
                record[column] = cell[1:]
            else:
                record[column] = cell
        out.append(record)
    return out


def _no_partial_files(settings: Settings) -> None:
    assert not list(settings.exports_path.rglob("*.part")), "a temporary file was left behind"


def _percents(seen: list[dict]) -> list[float]:
    return [job["percent"] for job in seen]


async def test_120k_records_to_csv_with_progress(dataset):
    settings, key, want = dataset
    seen: list[dict] = []
    started = time.monotonic()
    async with api(settings) as client, running_exporter(settings):
        job_id = await _start(client, key, {"filters": FILTERS, "export_format": "csv",
                                            "include_metadata": True})
        job = await wait_for_job(client, bearer(key), job_id, {"completed", "failed"}, 180, seen,
                                 interval=0.1)
        assert job["status"] == "completed", job
        data = await _download(client, key, job_id)
    print(f"csv export of {MATCHING} rows: {time.monotonic() - started:.1f}s, {len(data)} bytes")
    assert job["rows_written"] == job["rows_expected"] == MATCHING and job["bytes"] == len(data)
    percents = _percents(seen)
    assert percents == sorted(percents), percents  # never goes back
    assert percents[0] == 0 and percents[-1] == 100
    assert any(0 < p < 100 for p in percents), percents  # seen on its way
    assert data.count(b"\r\n") >= MATCHING + 1
    assert _csv_records(data) == want
    _no_partial_files(settings)


async def test_120k_records_to_json_without_metadata(dataset):
    settings, key, want = dataset
    async with api(settings) as client, running_exporter(settings):
        job_id = await _start(client, key, {"filters": FILTERS, "export_format": "json",
                                            "include_metadata": False})
        job = await wait_for_job(client, bearer(key), job_id, {"completed", "failed"}, 180)
        assert job["status"] == "completed", job
        data = await _download(client, key, job_id)
    columns = [c for c in FIELDS if c != "metadata"]
    assert json.loads(data) == [{c: record[c] for c in columns} for record in want]


async def test_120k_records_to_ndjson_with_metadata(dataset):
    settings, key, want = dataset
    async with api(settings) as client, running_exporter(settings):
        job_id = await _start(client, key, {"filters": FILTERS, "export_format": "ndjson"})
        job = await wait_for_job(client, bearer(key), job_id, {"completed", "failed"}, 180)
        assert job["status"] == "completed", job
        data = await _download(client, key, job_id)
    assert [json.loads(line) for line in data.splitlines()] == want


async def test_cancel_mid_export(dataset):
    settings, key, _ = dataset
    slow = settings.replace(exports_page_size=500)
    async with api(slow) as client, running_exporter(slow):
        job_id = await _start(client, key, {"filters": FILTERS, "export_format": "csv"})
        await _until(client, key, job_id, lambda j: j["status"] == "running" and j["rows_written"] > 0)
        response = await client.delete(f"/api/logs/export/{job_id}", headers=bearer(key))
        assert response.status_code == 202 and response.json()["cancel_requested"] is True
        asked = time.monotonic()
        job = await wait_for_job(client, bearer(key), job_id, {"cancelled", "completed", "failed"}, 30)
        assert time.monotonic() - asked < 5
        download = await client.get(f"/api/logs/export/{job_id}/download", headers=bearer(key))
    assert job["status"] == "cancelled", job
    assert 0 < job["rows_written"] < MATCHING and job["download_url"] is None
    assert download.status_code == 409
    assert not list(settings.exports_path.rglob(f"{job_id}*"))
    _no_partial_files(settings)


async def test_worker_killed_mid_export_is_taken_over(dataset):
    settings, key, want = dataset
    slow = settings.replace(exports_page_size=2000, exports_lease_s=5.0, worker_id="")
    first = WorkerProcess(slow, f"exporter-a-{os.getpid()}")
    second = WorkerProcess(slow, f"exporter-b-{os.getpid()}")
    try:
        async with api(slow) as client:
            first.start()
            job_id = await _start(client, key, {"filters": FILTERS, "export_format": "csv"})
            job = await _until(client, key, job_id,
                               lambda j: j["status"] == "running" and j["rows_written"] > 0, 120)
            first.kill()
            killed_at = time.monotonic()
            after = (await client.get(f"/api/logs/export/{job_id}", headers=bearer(key))).json()
            assert after["status"] == "running" and after["download_url"] is None
            assert (await client.get(f"/api/logs/export/{job_id}/download",
                                     headers=bearer(key))).status_code == 409
            second.start()
            job = await wait_for_job(client, bearer(key), job_id, {"completed", "failed"}, 180)
            print(f"taken over and completed {time.monotonic() - killed_at:.1f}s after the kill")
            assert job["status"] == "completed", job
            assert job["attempts"] == 2 and job["rows_written"] == MATCHING
            data = await _download(client, key, job_id)
    finally:
        first.kill()
        second.terminate()
    assert _csv_records(data) == want
    _no_partial_files(settings)


async def _until(client, key, job_id, predicate, timeout=60.0) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        job = (await client.get(f"/api/logs/export/{job_id}", headers=bearer(key))).json()
        if predicate(job):
            return job
        assert job["status"] in ("queued", "running"), job
        assert time.monotonic() < deadline, f"timed out: {job}"
        await asyncio.sleep(0.05)


async def test_a_stopping_worker_hands_its_job_back(dataset):
    settings, key, want = dataset
    slow = settings.replace(exports_page_size=500)
    async with api(slow) as client:
        async with running_exporter(slow):
            job_id = await _start(client, key, {"filters": FILTERS, "export_format": "ndjson"})
            await _until(client, key, job_id, lambda j: j["status"] == "running" and j["rows_written"] > 0)
        handed_back = (await client.get(f"/api/logs/export/{job_id}", headers=bearer(key))).json()
        assert handed_back["status"] == "queued" and handed_back["attempts"] == 0, handed_back
        _no_partial_files(settings)
        async with running_exporter(settings):  # its request was not committed: read again
            job = await wait_for_job(client, bearer(key), job_id, {"completed", "failed"}, 180)
        assert job["status"] == "completed" and job["attempts"] == 1, job
        data = await _download(client, key, job_id)
    assert [json.loads(line) for line in data.splitlines()] == want

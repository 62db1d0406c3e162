"""Export jobs end to end on a small data set: API, roles, org isolation, formats,
CSV safety, email, S3 (moto), expiry. The exporter runs in-process."""

from __future__ import annotations

import asyncio
import csv
import email
import email.policy
import gzip
import io
import json
import socket
import uuid
from datetime import UTC, datetime, timedelta

import boto3
import httpx
import pytest
from aiosmtpd.controller import Controller
from moto.server import ThreadedMotoServer

from bonito_logs.api.app import create_app
from bonito_logs.schemas import build_record
from bonito_logs.store.export_files import ExportFiles
from bonito_logs.store.exports import ExportStore
from bonito_logs.streams.exporter.housekeeping import expire_files
from tests.integration.export_support import (
    bulk_load,
    expected_records,
    export_settings,
    running_exporter,
    wait_for_job,
)
from tests.integration.support import generate_records
from tests.integration.test_api_support import api_session, bearer, new_key

ORG_A = str(uuid.uuid4())
ORG_B = str(uuid.uuid4())
START = datetime(2024, 1, 10, tzinfo=UTC)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _records() -> list[dict]:
    records = generate_records(1500, [ORG_A, ORG_B], seed=11, start=START, span=timedelta(days=3))
    tricky = ["=SUM(A1:A9)", "+1 555 0100", "-2 degrees", "@cmd|'/c calc'!A0", "\ttabbed",
              "\rreturn", "plain, with comma", 'say "hi"', "two\nlines", "naïve café 🚀 — 日本語",
              "", "'already quoted"]
    for i, message in enumerate(tricky):
        records.append(build_record(
            org_id=ORG_A, log_type="gateway", event_type="request", severity="info",
            timestamp=START + timedelta(hours=1, seconds=i), message=message or None,
            user_id="-user" if i % 2 else "=user", resource_id=f"res,{i}",
            metadata={"note": message, "nested": {"k": [1, 2]}} if message else None,
            duration_ms=1.5 + i, cost=0.000012 if i == 0 else None))
    return records


@pytest.fixture
async def api(settings):
    s = export_settings(settings, exports_page_size=200)
    records = _records()
    async with api_session(s) as (app, client):
        await bulk_load(s, records)
        tokens = await asyncio.gather(
            new_key(app, ORG_A, "viewer"), new_key(app, ORG_A, "member", email="ana@example.com"),
            new_key(app, ORG_A, "admin"), new_key(app, ORG_B, "admin"))
        keys = dict(zip(("viewer", "member", "admin", "other"), tokens, strict=True))
        yield app, client, keys, records, s


def _of_org(records, org=ORG_A, **where):
    return [r for r in records if r["org_id"] == org
            and all(r[k] in v for k, v in where.items())]


async def _export(client, token, body, timeout=60.0) -> dict:
    response = await client.post("/api/logs/export", headers=bearer(token), json=body)
    assert response.status_code == 202, response.text
    job = response.json()
    assert job["status"] == "queued" and response.headers["location"].endswith(job["id"])
    return await wait_for_job(client, bearer(token), job["id"],
                              {"completed", "failed", "cancelled"}, timeout)


async def _download(client, token, job) -> httpx.Response:
    response = await client.get(f"/api/logs/export/{job['id']}/download", headers=bearer(token))
    assert response.status_code == 200, response.text
    return response


async def test_viewers_are_refused_members_and_admins_served(api):
    _, client, keys, _, _ = api
    job_path = f"/api/logs/export/{uuid.uuid4()}"
    calls = [("POST", "/api/logs/export"), ("GET", "/api/logs/export"), ("GET", job_path),
             ("DELETE", job_path), ("GET", job_path + "/download")]
    for method, path in calls:
        response = await client.request(method, path, headers=bearer(keys["viewer"]), json={})
        assert response.status_code == 403, (method, path, response.text)
    assert (await client.get("/api/logs/export", headers=bearer(keys["member"]))).status_code == 200
    assert (await client.get("/api/logs/export", headers=bearer(keys["admin"]))).status_code == 200
    assert (await client.get(job_path, headers=bearer(keys["admin"]))).status_code == 404


async def test_request_validation(api):
    _, client, keys, _, _ = api
    headers = bearer(keys["member"])
    response = await client.post("/api/logs/export", headers=headers, json={
        "filters": {"log_types": ["nope"], "start_date": "yesterday", "colour": "red"},
        "export_format": "xlsx", "include_metadata": "yes", "fields": ["message", "bogus"],
        "limit": 10, "extra": 1})
    assert response.status_code == 422
    fields = {p["field"] for p in response.json()["error"]["problems"]}
    assert fields >= {"limit", "extra", "filters.log_types[0]", "filters.start_date",
                      "filters.colour", "export_format", "include_metadata", "fields[1]"}
    # the same filter problems as the query API, on the same paths
    query = await client.post("/api/logs/query", headers=headers, json={
        "filters": {"log_types": ["nope"], "start_date": "yesterday"}})
    exported = await client.post("/api/logs/export", headers=headers, json={
        "filters": {"log_types": ["nope"], "start_date": "yesterday"}})
    assert query.json()["error"]["problems"] == exported.json()["error"]["problems"]
    assert (await client.post("/api/logs/export", headers=headers, content=b"{nope")).status_code == 400


async def test_csv_is_safe_exact_and_round_trips(api):
    _, client, keys, records, s = api
    token = keys["member"]
    async with running_exporter(s):
        job = await _export(client, token, {
            "filters": {"log_types": ["gateway"], "start_date": "2024-01-10T00:00:00Z",
                        "end_date": "2024-01-12"},
            "export_format": "csv", "include_metadata": True, "sort_order": "asc"})
    assert job["status"] == "completed", job
    want = expected_records(_of_org(records, log_type={"gateway"}), order="asc")
    assert job["rows_written"] == job["rows_expected"] == len(want) and job["percent"] == 100
    response = await _download(client, token, job)
    assert response.headers["content-type"].startswith("text/csv")
    assert response.headers["content-disposition"].startswith("attachment")
    assert job["file_name"] in response.headers["content-disposition"]
    assert int(response.headers["content-length"]) == job["bytes"]
    rows = list(csv.reader(io.StringIO(response.content.decode("utf-8"), newline="")))
    header, body = rows[0], rows[1:]
    assert header == list(want[0])
    assert len(body) == len(want)
    for row, record in zip(body, want, strict=True):
        for column, cell in zip(header, row, strict=True):
            value = record[column]
            if value is None:
                assert cell == "", (column, cell)
            elif column in ("duration_ms", "cost"):
                assert float(cell) == value  # numbers stay numbers
            elif column == "metadata":
                assert json.loads(cell) == value
            elif isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
                assert cell == "'" + value, (column, cell)  # formula neutralised
            else:
                assert cell == value, (column, cell)
    messages = {row[header.index("message")] for row in body}
    assert {"'=SUM(A1:A9)", "'+1 555 0100", "'-2 degrees", "'@cmd|'/c calc'!A0", "'\ttabbed",
            "'\rreturn", "plain, with comma", 'say "hi"', "two\nlines", "naïve café 🚀 — 日本語",
            "'already quoted"} <= messages


async def test_json_and_ndjson_with_fields_and_compression(api):
    _, client, keys, records, s = api
    token = keys["admin"]
    mine = _of_org(records, severity={"error", "critical"})
    async with running_exporter(s):
        as_json = await _export(client, token, {
            "filters": {"severities": ["error", "critical"]}, "export_format": "json",
            "include_metadata": False})
        as_ndjson = await _export(client, token, {
            "filters": {"severities": ["error", "critical"]}, "export_format": "ndjson",
            "fields": ["message", "id", "metadata", "cost"], "compress": True})
    want = expected_records(mine, columns=tuple(c for c in expected_records(mine[:1])[0]
                                                if c != "metadata"))
    response = await _download(client, token, as_json)
    assert response.headers["content-type"].startswith("application/json")
    assert json.loads(response.content) == want
    response = await _download(client, token, as_ndjson)
    assert response.headers["content-type"] == "application/gzip"
    assert as_ndjson["file_name"].endswith(".ndjson.gz")
    lines = gzip.decompress(response.content).decode().splitlines()
    assert [json.loads(line) for line in lines] == expected_records(
        mine, columns=("message", "id", "metadata", "cost"))


async def test_another_org_sees_nothing(api):
    _, client, keys, _, s = api
    async with running_exporter(s):
        job = await _export(client, keys["member"], {"export_format": "ndjson"})
    other = bearer(keys["other"])
    base = f"/api/logs/export/{job['id']}"
    missing = f"/api/logs/export/{uuid.uuid4()}"
    for path in (base, base + "/download"):
        theirs = await client.get(path, headers=other)
        assert theirs.status_code == 404
        assert theirs.json()["error"]["code"] == "not_found"
        assert (await client.get(path.replace(base, missing), headers=other)).status_code == 404
    assert (await client.delete(base, headers=other)).status_code == 404
    assert (await client.get("/api/logs/export", headers=other)).json()["items"] == []
    mine = await client.get("/api/logs/export", headers=bearer(keys["admin"]))
    assert [item["id"] for item in mine.json()["items"]] == [job["id"]]
    assert (await client.get(base, headers=bearer(keys["admin"]))).json()["status"] == "completed"


async def test_list_newest_first_and_delete_removes_the_file(api):
    _, client, keys, _, s = api
    headers = bearer(keys["member"])
    async with running_exporter(s):
        first = await _export(client, keys["member"], {"export_format": "csv"})
        second = await _export(client, keys["member"], {"export_format": "json"})
    listed = (await client.get("/api/logs/export", headers=headers)).json()["items"]
    assert [item["id"] for item in listed] == [second["id"], first["id"]]
    files = list(s.exports_path.rglob(f"{first['id']}.*"))
    assert len(files) == 1
    assert (await client.delete(f"/api/logs/export/{first['id']}", headers=headers)).status_code == 204
    assert not files[0].exists()
    assert (await client.get(f"/api/logs/export/{first['id']}", headers=headers)).status_code == 404


async def test_cancel_before_start_and_expiry(api):
    _, client, keys, _, s = api
    headers = bearer(keys["member"])
    queued = (await client.post("/api/logs/export", headers=headers, json={})).json()
    cancelled = await client.delete(f"/api/logs/export/{queued['id']}", headers=headers)
    assert cancelled.status_code == 200 and cancelled.json()["status"] == "cancelled"
    short = s.replace(exports_ttl_s=0.5)
    async with running_exporter(short):
        job = await _export(client, keys["member"], {"export_format": "csv"})
        # the worker settles the cancelled job's request without running it
        again = (await client.get(f"/api/logs/export/{queued['id']}", headers=headers)).json()
        assert again["status"] == "cancelled" and again["rows_written"] == 0
    await asyncio.sleep(1.0)
    store = ExportStore(_app_client(api), s)
    assert await expire_files(store, ExportFiles.for_settings(s)) == 1
    expired = (await client.get(f"/api/logs/export/{job['id']}", headers=headers)).json()
    assert expired["status"] == "expired" and expired["download_url"] is None
    assert not list(s.exports_path.rglob(f"{job['id']}.*"))
    assert (await client.get(f"/api/logs/export/{job['id']}/download", headers=headers)).status_code == 409


async def test_two_workers_share_the_jobs_and_never_run_one_twice(api):
    _, client, keys, records, s = api
    one = s.replace(worker_id=s.worker_id + "-1", exports_concurrency=2, exports_per_org=1)
    two = s.replace(worker_id=s.worker_id + "-2", exports_concurrency=2, exports_per_org=1)
    async with running_exporter(one), running_exporter(two):
        started = []
        for i in range(6):
            token = keys["member"] if i % 2 else keys["other"]
            response = await client.post("/api/logs/export", headers=bearer(token),
                                         json={"export_format": "ndjson"})
            started.append((response.json()["id"], token))
        jobs = [await wait_for_job(client, bearer(token), job_id, {"completed", "failed"}, 120)
                for job_id, token in started]
    assert [job["status"] for job in jobs] == ["completed"] * 6
    assert [job["attempts"] for job in jobs] == [1] * 6  # claimed once each
    for job, (_, token) in zip(jobs, started, strict=True):
        org = ORG_A if token == keys["member"] else ORG_B
        assert job["rows_written"] == len(_of_org(records, org))
    assert len(list(s.exports_path.rglob("*.ndjson"))) == 6


def _app_client(api):
    return api[0].state.services.opensearch


class _Inbox:
    def __init__(self) -> None:
        self.messages: list[tuple[str, list[str], str]] = []

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 - aiosmtpd's hook name
        self.messages.append((envelope.mail_from, list(envelope.rcpt_tos),
                              envelope.content.decode("utf-8", "replace")))
        return "250 OK"


async def test_email_with_the_link_and_the_reason_when_none_is_sent(api):
    app, client, keys, _, s = api
    inbox = _Inbox()
    port = _free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        mailing = s.replace(smtp_host="127.0.0.1", smtp_port=port, smtp_from="exports@bonito.test",
                            public_url="https://logs.example.test")
        async with running_exporter(mailing):
            job = await _export(client, keys["member"], {"export_format": "csv",
                                                         "email_when_complete": True})
            silent = await _export(client, keys["admin"], {"export_format": "csv",
                                                           "email_when_complete": True})
            for _ in range(50):
                if inbox.messages:
                    break
                await asyncio.sleep(0.1)
    finally:
        controller.stop()
    assert len(inbox.messages) == 1, inbox.messages
    sender, recipients, raw = inbox.messages[0]
    assert sender == "exports@bonito.test" and recipients == ["ana@example.com"]
    mail = email.message_from_string(raw, policy=email.policy.default)
    assert mail["To"] == "ana@example.com" and "completed" in mail["Subject"]
    content = mail.get_content()
    assert f"https://logs.example.test/api/logs/export/{job['id']}/download" in content
    assert "completed" in content
    final = (await client.get(f"/api/logs/export/{job['id']}", headers=bearer(keys["member"]))).json()
    assert final["email"] == {"requested": True, "status": "sent", "detail": None}
    assert silent["email"]["status"] == "skipped"
    assert "no email address" in silent["email"]["detail"]


@pytest.fixture
def moto_s3(monkeypatch):
    for name, value in (("AWS_ACCESS_KEY_ID", "testing"), ("AWS_SECRET_ACCESS_KEY", "testing"),
                        ("AWS_SESSION_TOKEN", "testing"), ("AWS_DEFAULT_REGION", "us-east-1")):
        monkeypatch.setenv(name, value)
    port = _free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port)
    server.start()
    endpoint = f"http://127.0.0.1:{port}"
    boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1").create_bucket(Bucket="exports")
    yield endpoint
    server.stop()


async def test_s3_storage_with_moto(settings, moto_s3):
    s = export_settings(settings, exports_s3_bucket="exports", exports_s3_prefix="bonito/",
                        exports_s3_endpoint_url=moto_s3)
    records = _records()
    s3 = boto3.client("s3", endpoint_url=moto_s3, region_name="us-east-1")
    async with api_session(s) as (app, client):
        await bulk_load(s, records)
        token = await new_key(app, ORG_A, "member")
        async with running_exporter(s):
            job = await _export(client, token, {"export_format": "ndjson"})
        assert job["status"] == "completed", job
        want = expected_records(_of_org(records))
        key = f"bonito/{ORG_A}/{job['id']}.ndjson"
        assert s3.head_object(Bucket="exports", Key=key)["ContentLength"] == job["bytes"]
        assert not list(s.exports_path.rglob("*.part"))  # the temporary file went after upload
        redirect = await client.get(f"/api/logs/export/{job['id']}/download", headers=bearer(token))
        assert redirect.status_code == 307
        async with httpx.AsyncClient() as outside:
            fetched = await outside.get(redirect.headers["location"])
        assert fetched.status_code == 200
        assert [json.loads(line) for line in fetched.content.splitlines()] == want
        streamed_app = create_app(s.replace(exports_s3_redirect=False))
        transport = httpx.ASGITransport(app=streamed_app)
        try:
            async with httpx.AsyncClient(transport=transport, base_url="http://api.test") as other:
                streamed = await other.get(f"/api/logs/export/{job['id']}/download",
                                           headers=bearer(token))
                assert streamed.status_code == 200
                assert streamed.headers["content-type"] == "application/x-ndjson"
                assert [json.loads(line) for line in streamed.content.splitlines()] == want
        finally:
            await streamed_app.state.services.aclose()
        deleted = await client.delete(f"/api/logs/export/{job['id']}", headers=bearer(token))
        assert deleted.status_code == 204
    assert s3.list_objects_v2(Bucket="exports").get("KeyCount", 0) == 0


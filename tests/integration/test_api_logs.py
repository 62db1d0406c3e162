"""The logs routes against a real OpenSearch: query, trace, one record, tenant isolation."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta

import pytest

from bonito_logs.schemas import build_record
from tests.integration.test_api_support import api_session, bearer, index_records, new_key

ORG_A = str(uuid.uuid4())
ORG_B = str(uuid.uuid4())
NOW = datetime.now(UTC).replace(microsecond=0)


def _records() -> list[dict]:
    def rec(org, n, **extra):
        return build_record(org_id=org, log_type=extra.pop("log_type", "gateway"),
                            event_type="request", severity=extra.pop("severity", "info"),
                            timestamp=NOW - timedelta(minutes=n), user_id="user-1",
                            message=extra.pop("message", f"request {n}"), **extra)

    return [
        rec(ORG_A, 1, trace_id="trace-a", duration_ms=120.0, cost=0.02, message="upstream timeout"),
        rec(ORG_A, 2, trace_id="trace-a", log_type="agent", severity="error", duration_ms=30.0),
        rec(ORG_A, 3, severity="critical", message="quota exceeded"),
        rec(ORG_A, 4, log_type="auth", action="read"),
        rec(ORG_B, 1, trace_id="trace-b", message="other tenant timeout"),
        rec(ORG_B, 2, trace_id="trace-a", message="same trace id, other tenant"),
    ]


@pytest.fixture
async def api(settings):
    records = _records()
    async with api_session(settings) as (app, client):
        tokens = await asyncio.gather(
            index_records(settings, records),
            *(new_key(app, ORG_A, role) for role in ("viewer", "member", "admin")),
            new_key(app, ORG_B, "admin"),
        )
        keys = dict(zip(("viewer", "member", "admin", "other"), tokens[1:], strict=True))
        yield client, keys, records


async def test_query_happy_path(api):
    client, keys, records = api
    response = await client.post("/api/logs/query", headers=bearer(keys["viewer"]),
                                 json={"filters": {"search": "timeout"}, "limit": 10})
    assert response.status_code == 200, response.text
    body = response.json()
    assert [item["id"] for item in body["items"]] == [records[0]["id"]]  # not org B's timeout
    assert body["total"] == {"value": 1, "exact": True}
    assert set(body) >= {"items", "total", "limit", "offset", "next_cursor", "took_ms"}
    item = body["items"][0]
    assert item["org_id"] == ORG_A and item["timestamp"].endswith("Z")


async def test_query_filters_sorts_and_pages_within_the_org(api):
    client, keys, records = api
    headers = bearer(keys["member"])
    everything = (await client.post("/api/logs/query", headers=headers, json={})).json()
    assert everything["total"]["value"] == 4
    assert all(item["org_id"] == ORG_A for item in everything["items"])
    severe = await client.post("/api/logs/query", headers=headers, json={
        "filters": {"severities": ["error", "critical"]}, "sort_by": "timestamp", "sort_order": "asc"})
    assert [i["id"] for i in severe.json()["items"]] == [records[2]["id"], records[1]["id"]]
    first = (await client.post("/api/logs/query", headers=headers, json={"limit": 3})).json()
    assert len(first["items"]) == 3 and first["next_cursor"]
    rest = (await client.post("/api/logs/query", headers=headers,
                              json={"limit": 3, "cursor": first["next_cursor"]})).json()
    assert [i["id"] for i in first["items"] + rest["items"]] == [r["id"] for r in records[:4]]


async def test_empty_body_is_an_unfiltered_query(api):
    client, keys, _ = api
    response = await client.post("/api/logs/query", headers=bearer(keys["viewer"]))
    assert response.status_code == 200
    assert response.json()["total"]["value"] == 4


async def test_unknown_keys_are_422_naming_them(api):
    client, keys, _ = api
    response = await client.post("/api/logs/query", headers=bearer(keys["viewer"]),
                                 json={"filters": {"sevrity": ["error"]}, "org_id": ORG_B, "limit": 0})
    assert response.status_code == 422
    error = response.json()["error"]
    assert error["code"] == "validation_error"
    fields = {p["field"] for p in error["problems"]}
    assert {"filters.sevrity", "org_id", "limit"} <= fields


async def test_invalid_json_is_400_and_non_object_is_422(api):
    client, keys, _ = api
    headers = {**bearer(keys["viewer"]), "content-type": "application/json"}
    bad = await client.post("/api/logs/query", headers=headers, content=b'{"limit": ')
    assert bad.status_code == 400
    assert bad.json()["error"]["code"] == "bad_request"
    array = await client.post("/api/logs/query", headers=headers, content=b"[]")
    assert array.status_code == 422
    assert array.json()["error"]["problems"][0]["field"] == "body"


async def test_oversized_body_is_413(api, settings):
    client, keys, _ = api
    blob = b'{"filters": {"search": "' + b"a" * settings.api_max_body_bytes + b'"}}'
    response = await client.post("/api/logs/query", headers=bearer(keys["viewer"]), content=blob)
    assert response.status_code == 413


async def test_one_record_and_another_orgs_record_look_missing(api):
    client, keys, records = api
    own = await client.get(f"/api/logs/{records[0]['id']}", headers=bearer(keys["viewer"]))
    assert own.status_code == 200
    assert own.json()["id"] == records[0]["id"] and own.json()["message"] == "upstream timeout"

    foreign_id, missing_id = records[4]["id"], str(uuid.uuid4())
    foreign = await client.get(f"/api/logs/{foreign_id}", headers=bearer(keys["viewer"]))
    missing = await client.get(f"/api/logs/{missing_id}", headers=bearer(keys["viewer"]))
    assert foreign.status_code == missing.status_code == 404
    assert foreign.headers.get("content-type") == missing.headers.get("content-type")
    # Same body once the id itself is taken out: nothing tells the two cases apart.
    assert foreign.text.replace(foreign_id, "ID") == missing.text.replace(missing_id, "ID")


async def test_trace_is_scoped_to_the_org(api):
    client, keys, records = api
    response = await client.get("/api/logs/trace/trace-a", headers=bearer(keys["viewer"]))
    assert response.status_code == 200
    body = response.json()
    assert [i["id"] for i in body["items"]] == [records[1]["id"], records[0]["id"]]  # oldest first
    summary = body["summary"]
    assert summary["record_count"] == 2
    assert summary["total_duration_ms"] == 150.0
    assert summary["log_types"] == ["agent", "gateway"]

    foreign = await client.get("/api/logs/trace/trace-b", headers=bearer(keys["viewer"]))
    missing = await client.get("/api/logs/trace/trace-zzz", headers=bearer(keys["viewer"]))
    assert foreign.status_code == missing.status_code == 404
    assert foreign.text.replace("trace-b", "T") == missing.text.replace("trace-zzz", "T")

    other = await client.get("/api/logs/trace/trace-a", headers=bearer(keys["other"]))
    assert [i["id"] for i in other.json()["items"]] == [records[5]["id"]]


@pytest.mark.parametrize("headers", [
    {},
    {"Authorization": "Basic dXNlcjpwYXNz"},
    {"Authorization": "Bearer not-a-key"},
    {"Authorization": "Bearer bnt_AAAAAAAAAAAA_" + "x" * 43},
])
async def test_missing_or_bad_key_is_401(api, headers):
    client, _, records = api
    for method, path in (("POST", "/api/logs/query"), ("GET", f"/api/logs/{records[0]['id']}"),
                         ("GET", "/api/logs/trace/trace-a"), ("GET", "/api/keys")):
        response = await client.request(method, path, headers=headers, json={} if method == "POST" else None)
        assert response.status_code == 401, (method, path)
        assert response.headers["www-authenticate"].startswith("Bearer")
        assert response.json()["error"]["code"] == "unauthorized"


async def test_right_key_id_with_a_wrong_secret_is_401(api):
    client, keys, _ = api
    token = keys["admin"]
    forged = token[:-4] + ("AAAA" if not token.endswith("AAAA") else "BBBB")
    response = await client.get("/api/keys", headers=bearer(forged))
    assert response.status_code == 401

"""Client → Kafka → worker → OpenSearch → API, checked against a plain Python filter.

10,000 generated records for four orgs are emitted through the client helper and
indexed by the worker runtime. For many filter/sort combinations the API must
answer exactly what a straightforward Python filter over the generated records
gives: same ids, same order, same total; paging with offsets and with the cursor
returns each record exactly once.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import httpx
import pytest
import pytest_asyncio

from bonito_logs.api.app import create_app
from bonito_logs.client import LogService
from bonito_logs.schemas import SEVERITY_RANK, format_timestamp
from bonito_logs.store import make_client
from bonito_logs.store.documents import metadata_text
from bonito_logs.store.keys import KeyStore
from bonito_logs.streams.app import WorkerRuntime, prepare
from tests.integration.support import (
    count_docs,
    delete_test_indices,
    generate_records,
    new_orgs,
    wait_until,
)

pytestmark = pytest.mark.asyncio(loop_scope="module")

N = 10_000


@pytest.fixture(scope="module")
def module_settings(tmp_path_factory):
    from tests.conftest import RUN_ID, isolated_settings

    return isolated_settings(f"e2e{RUN_ID}", tmp_path_factory.mktemp("e2e"),
                             topic_partitions=6, indexer_batch_seconds=0.2)


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def world(module_settings):
    """Emit, index, and hand out an API client per org."""
    settings = module_settings
    orgs = new_orgs(4)
    start = datetime.now(UTC) - timedelta(hours=30)
    records = generate_records(N, orgs, seed=42, start=start, span=timedelta(hours=24))
    await prepare(settings)
    runtime = WorkerRuntime(settings)
    await runtime.start()
    service = LogService(settings)
    for r in records:
        # emit() assigns the id; remember it so the reference data matches.
        r["id"] = await service.emit(**{k: v for k, v in r.items() if k != "id"})
    await service.close()
    await wait_until(lambda: _count_is(settings, N), 120, f"{N} documents")

    os_client = make_client(settings)
    keys = KeyStore(os_client, settings)
    await keys.ensure_index()
    app = create_app(settings)
    clients = {}
    for org in orgs:
        token = (await keys.create(org, "viewer", name="e2e")).token
        clients[org] = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t",
                                         headers={"Authorization": f"Bearer {token}"})
    yield {"records": records, "orgs": orgs, "clients": clients, "settings": settings}
    await runtime.stop()
    for c in clients.values():
        await c.aclose()
    await app.state.services.aclose()
    await os_client.close()
    await delete_test_indices(settings)


async def _count_is(settings, n: int) -> bool:
    return await count_docs(settings) == n


# --- the Python reference ------------------------------------------------------------

_WORDS = re.compile(r"\w+")


def _tokens(record: dict) -> set[str]:
    text = (record.get("message") or "") + " " + metadata_text(record.get("metadata") or {})
    return set(_WORDS.findall(text.lower()))


def _matches(record: dict, f: dict) -> bool:
    if "log_types" in f and record["log_type"] not in f["log_types"]:
        return False
    if "event_types" in f and record["event_type"] not in f["event_types"]:
        return False
    if "severities" in f and record["severity"] not in f["severities"]:
        return False
    ts = record["timestamp"]
    if "start_date" in f and ts < _parse(f["start_date"]):
        return False
    if "end_date" in f and ts > _parse(f["end_date"]):
        return False
    for name in ("trace_id", "user_id", "resource_id", "resource_type", "action"):
        if name in f and record[name] != f[name]:
            return False
    if "min_duration_ms" in f and (record["duration_ms"] is None or record["duration_ms"] < f["min_duration_ms"]):
        return False
    if "min_cost" in f and (record["cost"] is None or record["cost"] < f["min_cost"]):
        return False
    if "search" in f and not f["_search"](_tokens(record)):
        return False
    return True


def _parse(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


_SORT_VALUE = {
    "timestamp": lambda r: r["timestamp"], "created_at": lambda r: r["timestamp"],
    "duration_ms": lambda r: r["duration_ms"], "cost": lambda r: r["cost"],
    "severity": lambda r: SEVERITY_RANK[r["severity"]],
}


def _expected(records: list[dict], org: str, body: dict) -> list[str]:
    f = dict(body.get("filters", {}))
    if "search" in f:
        f["_search"] = SEARCHES[f["search"]]
    hits = [r for r in records if r["org_id"] == org and _matches(r, f)]
    sort_by, order = body.get("sort_by", "timestamp"), body.get("sort_order", "desc")
    key = _SORT_VALUE[sort_by]
    desc = order == "desc"

    def ordering(r):
        return (r["timestamp"], r["id"])

    hits.sort(key=ordering, reverse=desc)  # tie-breaker first (stable sorts)
    if sort_by not in ("timestamp", "created_at"):
        present = [r for r in hits if key(r) is not None]
        missing = [r for r in hits if key(r) is None]
        present.sort(key=key, reverse=desc)
        hits = present + missing  # nulls last in both directions
    return [r["id"] for r in hits]


SEARCHES = {
    "timeout": lambda t: "timeout" in t,
    "timeout OR quota": lambda t: "timeout" in t or "quota" in t,
    "timeout -quota": lambda t: "timeout" in t and "quota" not in t,
    "retry AND NOT denied": lambda t: "retry" in t and "denied" not in t,
    "(vector OR embedding) latency": lambda t: ("vector" in t or "embedding" in t) and "latency" in t,
    "claude": lambda t: "claude" in t,
    "emb*": lambda t: any(w.startswith("emb") for w in t),
    "ok": lambda t: "ok" in t,
}


def _combos(world: dict) -> list[dict]:
    recs = world["records"]
    mid = sorted(r["timestamp"] for r in recs)[len(recs) // 2]
    some = next(r for r in recs if r["trace_id"])
    iso = format_timestamp
    return [
        {},
        {"sort_by": "created_at", "sort_order": "asc"},
        {"filters": {"log_types": ["gateway"]}},
        {"filters": {"log_types": ["gateway", "auth"], "severities": ["error", "critical"]}},
        {"filters": {"event_types": ["request", "login"]}, "sort_by": "duration_ms"},
        {"filters": {"severities": ["warn"]}, "sort_by": "cost", "sort_order": "asc"},
        {"filters": {"start_date": iso(mid)}},
        {"filters": {"end_date": iso(mid)}, "sort_order": "asc"},
        {"filters": {"start_date": iso(mid - timedelta(hours=2)), "end_date": iso(mid)}},
        {"filters": {"search": "timeout"}},
        {"filters": {"search": "timeout OR quota"}, "sort_by": "severity"},
        {"filters": {"search": "timeout -quota"}},
        {"filters": {"search": "retry AND NOT denied"}, "sort_by": "cost"},
        {"filters": {"search": "(vector OR embedding) latency"}},
        {"filters": {"search": "claude"}, "sort_by": "duration_ms", "sort_order": "asc"},
        {"filters": {"search": "emb*"}},
        {"filters": {"trace_id": some["trace_id"]}, "sort_order": "asc"},
        {"filters": {"user_id": "user-3"}},
        {"filters": {"user_id": "user-3", "log_types": ["kb", "agent"]}, "sort_by": "severity", "sort_order": "asc"},
        {"filters": {"resource_id": "res-7"}},
        {"filters": {"resource_type": "model"}, "sort_by": "cost"},
        {"filters": {"action": "search"}},
        {"filters": {"action": "delete", "severities": ["info"]}, "sort_by": "duration_ms"},
        {"filters": {"min_duration_ms": 2500}},
        {"filters": {"min_duration_ms": 4000}, "sort_by": "duration_ms", "sort_order": "asc"},
        {"filters": {"min_cost": 0.25}, "sort_by": "cost"},
        {"filters": {"min_cost": 0.1, "min_duration_ms": 1000, "log_types": ["gateway", "agent", "billing"]}},
        {"filters": {"severities": ["debug", "critical"]}, "sort_by": "severity"},
        {"sort_by": "cost", "sort_order": "desc"},
        {"sort_by": "duration_ms", "sort_order": "asc"},
        {"sort_by": "severity", "sort_order": "desc"},
        {"filters": {"log_types": ["deployment"], "search": "ok"}, "sort_order": "asc"},
        {"filters": {"event_types": ["upload"], "start_date": iso(mid)}, "sort_by": "cost", "sort_order": "asc"},
    ]


async def _all_pages_by_offset(client, body: dict, limit: int) -> tuple[list[str], dict]:
    ids, offset, first = [], 0, None
    while True:
        resp = await client.post("/api/logs/query", json={**body, "limit": limit, "offset": offset})
        assert resp.status_code == 200, resp.text
        page = resp.json()
        first = first or page
        ids += [item["id"] for item in page["items"]]
        if len(page["items"]) < limit:
            return ids, first
        offset += limit


async def _all_pages_by_cursor(client, body: dict, limit: int) -> list[str]:
    ids, cursor = [], None
    while True:
        resp = await client.post("/api/logs/query", json={**body, "limit": limit, "cursor": cursor})
        assert resp.status_code == 200, resp.text
        page = resp.json()
        ids += [item["id"] for item in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            return ids


async def test_at_least_30_filter_and_sort_combinations_match_python(world):
    combos = _combos(world)
    assert len(combos) >= 30
    checked_nonempty = 0
    for i, body in enumerate(combos):
        org = world["orgs"][i % len(world["orgs"])]
        expected = _expected(world["records"], org, body)
        resp = await world["clients"][org].post("/api/logs/query", json={**body, "limit": 1000})
        assert resp.status_code == 200, (body, resp.text)
        page = resp.json()
        assert page["total"] == {"value": len(expected), "exact": True}, body
        assert [item["id"] for item in page["items"]] == expected[:1000], body
        checked_nonempty += bool(expected)
    assert checked_nonempty >= 25, "most combinations must select something to prove anything"


async def test_items_are_the_records_that_were_emitted(world):
    org = world["orgs"][0]
    by_id = {r["id"]: r for r in world["records"]}
    resp = await world["clients"][org].post("/api/logs/query", json={"limit": 200})
    for item in resp.json()["items"]:
        rec = by_id[item["id"]]
        assert item["timestamp"] == format_timestamp(rec["timestamp"])
        for name in ("org_id", "log_type", "event_type", "severity", "trace_id", "user_id", "resource_id",
                     "resource_type", "action", "metadata", "duration_ms", "cost", "message"):
            assert item[name] == rec[name], name


@pytest.mark.parametrize("body", [{}, {"sort_by": "cost", "sort_order": "asc"},
                                  {"filters": {"severities": ["info", "warn"]}, "sort_by": "duration_ms"}])
async def test_paging_by_offset_and_by_cursor_returns_each_record_once(world, body):
    org = world["orgs"][1]
    expected = _expected(world["records"], org, body)
    client = world["clients"][org]
    by_offset, _ = await _all_pages_by_offset(client, body, limit=97)
    by_cursor = await _all_pages_by_cursor(client, body, limit=89)
    assert by_offset == expected
    assert by_cursor == expected
    assert len(set(by_cursor)) == len(by_cursor)


async def test_a_record_and_a_trace_of_another_org_answer_404_like_missing_ones(world):
    a, b = world["orgs"][0], world["orgs"][1]
    theirs = next(r for r in world["records"] if r["org_id"] == b and r["trace_id"])
    mine_client = world["clients"][a]
    other = await mine_client.get(f"/api/logs/{theirs['id']}")
    missing = await mine_client.get("/api/logs/00000000-0000-4000-8000-000000000000")
    assert other.status_code == missing.status_code == 404
    assert other.json()["error"]["code"] == missing.json()["error"]["code"]
    own = await world["clients"][b].get(f"/api/logs/{theirs['id']}")
    assert own.status_code == 200 and own.json()["id"] == theirs["id"]
    # Trace ids are shared between orgs in this data set (trace-N): org A sees only its own.
    trace = await mine_client.get(f"/api/logs/trace/{theirs['trace_id']}")
    mine = [r["id"] for r in world["records"] if r["org_id"] == a and r["trace_id"] == theirs["trace_id"]]
    if mine:
        assert sorted(i["id"] for i in trace.json()["items"]) == sorted(mine)
    else:
        assert trace.status_code == 404


async def test_a_cursor_cannot_be_reused_by_another_org(world):
    a, b = world["orgs"][0], world["orgs"][1]
    page = (await world["clients"][a].post("/api/logs/query", json={"limit": 5})).json()
    assert page["next_cursor"]
    resp = await world["clients"][b].post("/api/logs/query", json={"limit": 5, "cursor": page["next_cursor"]})
    assert resp.status_code == 422
    assert resp.json()["error"]["problems"][0]["field"] == "cursor"


async def test_a_trace_of_20_records_across_4_log_types_is_complete_ordered_and_summarised(world):
    settings, org = world["settings"], world["orgs"][2]
    trace_id = "5d1c7b9e-0f3a-4c2b-8e6d-7a9b0c1d2e3f"
    t0 = datetime.now(UTC) - timedelta(minutes=5)
    plan = [("gateway", "request", "info"), ("agent", "tool_use", "info"), ("kb", "search", "warn"),
            ("auth", "token_refresh", "error")] * 5
    service = LogService(settings)
    emitted = []
    for i, (log_type, event, severity) in enumerate(reversed(plan)):  # emitted out of order
        ts = t0 + timedelta(milliseconds=137 * (len(plan) - 1 - i))
        rid = await service.emit(org_id=org, log_type=log_type, event_type=event, severity=severity,
                                 timestamp=ts, trace_id=trace_id, duration_ms=10.5 + i, cost=0.001 * i,
                                 message=f"step {len(plan) - 1 - i}")
        emitted.append((ts, rid, severity, 10.5 + i, 0.001 * i))
    await service.close()
    client = world["clients"][org]

    async def complete() -> bool:
        resp = await client.get(f"/api/logs/trace/{trace_id}")
        return resp.status_code == 200 and len(resp.json()["items"]) == 20

    await wait_until(complete, 60, "the whole trace")
    body = (await client.get(f"/api/logs/trace/{trace_id}")).json()
    emitted.sort()
    assert [item["id"] for item in body["items"]] == [rid for _, rid, *_ in emitted]
    assert [item["message"] for item in body["items"]] == [f"step {i}" for i in range(20)]
    summary = body["summary"]
    assert summary["record_count"] == 20
    assert summary["first_timestamp"] == format_timestamp(emitted[0][0])
    assert summary["last_timestamp"] == format_timestamp(emitted[-1][0])
    assert summary["span_ms"] == pytest.approx(137 * 19)
    assert summary["total_duration_ms"] == pytest.approx(sum(e[3] for e in emitted))
    assert summary["total_cost"] == pytest.approx(sum(e[4] for e in emitted))
    assert summary["counts_by_severity"] == {"info": 10, "warn": 5, "error": 5}
    assert summary["log_types"] == ["agent", "auth", "gateway", "kb"]
    # The same trace id is nobody's in the other orgs.
    other = await world["clients"][world["orgs"][3]].get(f"/api/logs/trace/{trace_id}")
    assert other.status_code == 404

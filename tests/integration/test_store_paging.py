"""Paging past OpenSearch's 10,000-hit window: every record exactly once by cursor,
offset pages handing over to the cursor, a trace longer than one page, and the widest
allowed prefix search on a field with many expansions."""

from __future__ import annotations

import random
import time
import uuid
from datetime import UTC, datetime, timedelta

import pytest
import pytest_asyncio

from bonito_logs.config import Settings
from bonito_logs.schemas import build_record
from bonito_logs.store import LogSearch, ensure_templates, make_client, parse_query_request
from bonito_logs.store.search import TRACE_PAGE
from tests.integration.test_store_layout import bulk_records, drop

pytestmark = pytest.mark.asyncio(loop_scope="module")

N = 12_000
TRACE_N = 2_500
ORG = str(uuid.uuid4())
OTHER = str(uuid.uuid4())
T0 = datetime(2024, 7, 1, 23, 0, tzinfo=UTC)


def records() -> list[dict]:
    rng = random.Random(5)
    out = []
    for i in range(N):
        out.append(build_record(
            org_id=ORG, log_type="gateway", event_type="request", severity="info",
            # 600 distinct instants for 12,000 records: ties everywhere
            timestamp=T0 + timedelta(seconds=rng.randrange(600) * 7),
            trace_id="long-trace" if i < TRACE_N else None,
            duration_ms=float(rng.randrange(5)) if rng.random() < 0.6 else None,
            metadata={"code": f"zq{i:05d}"}, message=f"bulk item zq{i:05d}"))
    out += [build_record(org_id=OTHER, log_type="gateway", event_type="request", severity="info",
                         timestamp=T0, trace_id="long-trace", message="bulk item other")
            for _ in range(300)]
    return out


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def big(run_id):
    settings = Settings.from_env().replace(
        index_prefix=f"test-t{run_id}{uuid.uuid4().hex[:6]}-logs-", index_shards=2,
        secret_key="store-paging-test-secret")
    client = make_client(settings)
    await ensure_templates(client, settings)
    data = records()
    try:
        await bulk_records(client, settings, data, chunk=4000)
        yield LogSearch(client, settings), data
    finally:
        await drop(client, settings)
        await client.close()


async def cursor_pass(search: LogSearch, body: dict) -> list[str]:
    ids, cursor = [], None
    while True:
        page = await search.search(ORG, parse_query_request({**body, "cursor": cursor}))
        assert page["total"] == {"value": N, "exact": True}
        ids += [i["id"] for i in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            return ids


@pytest.mark.parametrize("body", [
    {"limit": 1000},
    {"limit": 1000, "sort_by": "duration_ms", "sort_order": "asc"},
    {"limit": 997, "sort_by": "duration_ms", "sort_order": "desc"},
])
async def test_cursor_returns_every_record_once_past_the_window(big, body):
    search, data = big
    started = time.monotonic()
    ids = await cursor_pass(search, body)
    assert len(ids) == N and set(ids) == {r["id"] for r in data if r["org_id"] == ORG}
    assert time.monotonic() - started < 30


async def test_offset_pages_hand_over_to_the_cursor(big):
    search, _ = big
    body = {"sort_by": "duration_ms", "sort_order": "asc"}
    full = await cursor_pass(search, {**body, "limit": 1000})
    last = await search.search(ORG, parse_query_request({**body, "offset": 9000, "limit": 1000}))
    assert [i["id"] for i in last["items"]] == full[9000:10000]
    assert last["next_cursor"]
    rest: list[str] = []
    cursor = last["next_cursor"]
    while cursor:
        page = await search.search(ORG, parse_query_request({**body, "limit": 1000, "cursor": cursor}))
        rest += [i["id"] for i in page["items"]]
        cursor = page["next_cursor"]
    assert rest == full[10000:]


async def test_trace_longer_than_a_page_is_complete_and_ordered(big):
    search, data = big
    assert TRACE_N > TRACE_PAGE
    trace = await search.trace(ORG, "long-trace")
    expected = sorted((r for r in data if r["org_id"] == ORG and r["trace_id"] == "long-trace"),
                      key=lambda r: (r["timestamp"], r["id"]))
    assert [i["id"] for i in trace["items"]] == [r["id"] for r in expected]
    assert trace["summary"]["record_count"] == TRACE_N
    assert trace["summary"]["total_duration_ms"] == sum(
        r["duration_ms"] for r in expected if r["duration_ms"] is not None)


async def test_widest_prefix_search_stays_under_the_clause_limit(big):
    search, _ = big
    prefixes = " OR ".join(f"zq{d}*" for d in range(5))
    words = " OR ".join(f"w{i}" for i in range(40))
    page = await search.search(ORG, parse_query_request(
        {"filters": {"search": f"{prefixes} OR {words}"}, "limit": 1000}))
    # each prefix expands to at most max_expansions (50) terms in each of the two fields
    assert 0 < page["total"]["value"] <= 5 * 50

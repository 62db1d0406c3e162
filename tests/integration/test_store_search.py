"""LogSearch against a real OpenSearch on one shared data set of two orgs (3 shards,
three daily indices): filters and sorts against a reference implementation, offset and
cursor paging with ties and nulls, the search syntax, traces, and org isolation."""

from __future__ import annotations

import random
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest
import pytest_asyncio

from bonito_logs.config import Settings
from bonito_logs.errors import NotFound, ValidationError
from bonito_logs.schemas import SEVERITY_RANK, build_record, format_timestamp, record_to_json
from bonito_logs.store import (
    LogQuery,
    LogSearch,
    encode_cursor,
    ensure_templates,
    make_client,
    parse_query_request,
)
from bonito_logs.store.documents import timestamp_us
from bonito_logs.store.query import MAX_SEARCH_TERMS
from bonito_logs.store.search_syntax import count_terms
from tests.integration.test_store_layout import bulk_records, drop

pytestmark = pytest.mark.asyncio(loop_scope="module")

ORG_A = str(uuid.UUID(int=random.Random(1).getrandbits(128), version=4))
ORG_B = str(uuid.UUID(int=random.Random(2).getrandbits(128), version=4))
T0 = datetime(2024, 5, 1, 22, 0, tzinfo=UTC)

# label -> (message, metadata); each org gets one record of each
SPECIAL = {
    "timeout": ("upstream timeout after retry", None),
    "phrase": ("rate limit exceeded for key", None),
    "words": ("limit of the rate was reached", None),
    "meta": ("connection reset by peer", {"model": "gpt-4o-mini", "region": "eu-west-1"}),
    "prefix": ("timeouts are rising", None),
    "quota": ("denied access", {"reason": "quota exhausted", "n": 7}),
    "ok": ("ok", None),
}
TRACE = "trace-shared"
TRACE_A = [  # severity, log_type, duration, cost, offset (ms from the first)
    ("info", "gateway", 10.0, 0.01, 0),
    ("error", "agent", None, None, 1.5),
    ("error", "gateway", 5.5, 0.02, 1.5),
    ("warn", "kb", 0.0, None, 40),
    ("debug", "agent", None, None, 1250.25),
]


def make_org_records(org: str, seed: int) -> tuple[list[dict], dict[str, dict]]:
    rng = random.Random(seed)
    tie_stamps = [T0 + timedelta(hours=rng.randrange(50), microseconds=rng.randrange(10**6))
                  for _ in range(8)]
    records = []
    for i in range(300):
        if rng.random() < 0.3:
            ts = rng.choice(tie_stamps)
        else:
            ts = T0 + timedelta(microseconds=rng.randrange(50 * 3600 * 10**6))
        records.append(build_record(
            org_id=org, log_type=rng.choice(("gateway", "agent", "auth", "kb", "billing")),
            event_type=rng.choice(("request", "login", "tool_use", "upload")),
            severity=rng.choice(("debug", "info", "info", "warn", "error", "critical")),
            timestamp=ts,
            trace_id=f"trace-{rng.randrange(10)}" if rng.random() < 0.7 else None,
            user_id=f"user-{rng.randrange(5)}",
            resource_id=f"res-{rng.randrange(8)}" if rng.random() < 0.5 else None,
            resource_type=rng.choice(("model", "agent", None)),
            action=rng.choice(("create", "read", "execute", None)),
            metadata={"kind": "generic", "n": i} if rng.random() < 0.5 else None,
            duration_ms=rng.choice((0.0, 5.0, 12.5, 100.0, 250.0)) if rng.random() < 0.7 else None,
            cost=rng.choice((0.0, 0.01, 0.02, 0.5)) if rng.random() < 0.6 else None,
            message=f"neutral entry number {i}",
        ))
    special = {}
    for label, (message, metadata) in SPECIAL.items():
        special[label] = build_record(
            org_id=org, log_type="gateway", event_type="request", severity="info",
            timestamp=T0 + timedelta(hours=rng.randrange(50)), message=message, metadata=metadata)
    first = T0 + timedelta(hours=30, microseconds=123)
    n = len(TRACE_A) if org == ORG_A else 3
    for sev, log_type, duration, cost, offset in TRACE_A[:n]:
        special[f"trace-{len(special)}"] = build_record(
            org_id=org, log_type=log_type, event_type="step", severity=sev,
            timestamp=first + timedelta(milliseconds=offset), trace_id=TRACE,
            duration_ms=duration, cost=cost, message=f"trace step {sev}")
    return records + list(special.values()), special


@dataclass
class Store:
    search: LogSearch
    settings: Settings
    records: dict[str, list[dict]]
    special: dict[str, dict[str, dict]]


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def store(run_id):
    settings = Settings.from_env().replace(
        index_prefix=f"test-t{run_id}{uuid.uuid4().hex[:6]}-logs-", index_shards=3,
        secret_key="store-search-test-secret")
    client = make_client(settings)
    await ensure_templates(client, settings)
    a, special_a = make_org_records(ORG_A, 11)
    b, special_b = make_org_records(ORG_B, 11)  # same seed: same terms, traces, timestamps
    try:
        await bulk_records(client, settings, a + b)
        yield Store(LogSearch(client, settings), settings, {ORG_A: a, ORG_B: b},
                    {ORG_A: special_a, ORG_B: special_b})
    finally:
        await drop(client, settings)
        await client.close()


# --- the reference -------------------------------------------------------------------

def reference(records: list[dict], q: LogQuery) -> list[str]:
    def keep(r: dict) -> bool:
        us = timestamp_us(r["timestamp"])
        return ((not q.log_types or r["log_type"] in q.log_types)
                and (not q.event_types or r["event_type"] in q.event_types)
                and (not q.severities or r["severity"] in q.severities)
                and (q.start_date is None or us >= timestamp_us(q.start_date))
                and (q.end_date is None or us <= timestamp_us(q.end_date))
                and all(getattr(q, f) is None or r[f] == getattr(q, f)
                        for f in ("trace_id", "user_id", "resource_id", "resource_type", "action"))
                and (q.min_duration_ms is None
                     or (r["duration_ms"] is not None and r["duration_ms"] >= q.min_duration_ms))
                and (q.min_cost is None or (r["cost"] is not None and r["cost"] >= q.min_cost)))

    desc = q.sort_order == "desc"

    def key(r: dict):
        tie = (timestamp_us(r["timestamp"]), r["id"])
        if q.sort_by == "timestamp":
            return tie
        value = SEVERITY_RANK[r["severity"]] if q.sort_by == "severity" else r[q.sort_by]
        missing_last = (value is not None) if desc else (value is None)
        return (missing_last, value if value is not None else 0, *tie)

    return [r["id"] for r in sorted(filter(keep, records), key=key, reverse=desc)]


async def all_by_cursor(store: Store, org: str, body: dict) -> list[str]:
    ids: list[str] = []
    cursor = None
    for _ in range(1000):
        page = await store.search.search(org, parse_query_request({**body, "cursor": cursor}))
        ids += [item["id"] for item in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            return ids
    raise AssertionError("cursor paging did not end")


FILTER_BODIES = [
    {},
    {"filters": {"log_types": ["gateway", "auth"]}},
    {"filters": {"severities": ["error", "critical"], "event_types": ["request", "login"]}},
    {"filters": {"trace_id": "trace-3"}},
    {"filters": {"user_id": "user-2", "action": "read"}},
    {"filters": {"resource_id": "res-1", "resource_type": "model"}},
    {"filters": {"min_duration_ms": 12.5}},
    {"filters": {"min_duration_ms": 0}},
    {"filters": {"min_cost": 0.01, "log_types": ["billing"]}},
    {"filters": {"log_types": ["admin"]}},
]


@pytest.mark.parametrize("body", FILTER_BODIES)
async def test_filters_match_the_reference(store, body):
    q = parse_query_request({**body, "limit": 1000})
    page = await store.search.search(ORG_A, q)
    expected = reference(store.records[ORG_A], q)
    assert [i["id"] for i in page["items"]] == expected
    assert page["total"] == {"value": len(expected), "exact": True}
    assert page["next_cursor"] is None and page["limit"] == 1000 and page["offset"] == 0
    assert isinstance(page["took_ms"], int)


async def test_date_bounds_are_inclusive_to_the_microsecond(store):
    stamps = sorted({timestamp_us(r["timestamp"]) for r in store.records[ORG_A]})
    lo, hi = stamps[20], stamps[200]

    def iso(us: int) -> str:
        return format_timestamp(datetime(1970, 1, 1, tzinfo=UTC) + timedelta(microseconds=us))

    for start, end in ((lo, hi), (lo + 1, hi - 1), (lo, lo), (hi, None), (None, lo)):
        body = {"filters": {k: iso(v) for k, v in (("start_date", start), ("end_date", end))
                            if v is not None}, "limit": 1000}
        q = parse_query_request(body)
        page = await store.search.search(ORG_A, q)
        expected = reference(store.records[ORG_A], q)
        assert [i["id"] for i in page["items"]] == expected and expected


@pytest.mark.parametrize("sort_by", ["timestamp", "created_at", "duration_ms", "cost", "severity"])
@pytest.mark.parametrize("order", ["asc", "desc"])
async def test_sort_pages_by_cursor_and_offset_without_repeats(store, sort_by, order):
    body = {"sort_by": sort_by, "sort_order": order, "limit": 23}
    expected = reference(store.records[ORG_A], parse_query_request(body))
    assert len(expected) == len(store.records[ORG_A])
    assert await all_by_cursor(store, ORG_A, body) == expected
    by_offset: list[str] = []
    for offset in range(0, len(expected) + 23, 23):
        page = await store.search.search(ORG_A, parse_query_request({**body, "offset": offset}))
        by_offset += [i["id"] for i in page["items"]]
        assert (page["next_cursor"] is not None) == (offset + 23 < len(expected))
    assert by_offset == expected


async def test_offset_page_cursor_continues_after_that_page(store):
    body = {"sort_by": "cost", "sort_order": "asc", "filters": {"log_types": ["gateway", "agent"]}}
    expected = reference(store.records[ORG_A], parse_query_request(body))
    page = await store.search.search(ORG_A, parse_query_request({**body, "offset": 40, "limit": 10}))
    assert [i["id"] for i in page["items"]] == expected[40:50]
    rest = await store.search.search(ORG_A, parse_query_request(
        {**body, "limit": 1000, "cursor": page["next_cursor"]}))
    assert [i["id"] for i in rest["items"]] == expected[50:]
    assert rest["next_cursor"] is None


async def test_cursor_misuse_is_an_invalid_cursor(store):
    body = {"filters": {"severities": ["info"]}, "limit": 5}
    cursor = (await store.search.search(ORG_A, parse_query_request(body)))["next_cursor"]
    assert cursor
    misuses = [
        (ORG_B, body),  # another org
        (ORG_A, {**body, "filters": {"severities": ["error"]}}),  # other filters
        (ORG_A, {**body, "sort_order": "asc"}),  # other sort
        (ORG_A, {**body, "sort_by": "cost"}),
    ]
    for org, other in misuses:
        with pytest.raises(ValidationError) as info:
            await store.search.search(org, parse_query_request({**other, "cursor": cursor}))
        assert info.value.problems == [{"field": "cursor", "rule": "invalid cursor"}]
    tampered = cursor[:-2] + ("A" if cursor[-2] != "A" else "B") + cursor[-1]
    forged = encode_cursor([0, "x"], org_id=ORG_A, binding=parse_query_request(body).fingerprint(),
                           secret="not-the-secret")
    for bad in (tampered, forged, "garbage"):
        with pytest.raises(ValidationError) as info:
            await store.search.search(ORG_A, parse_query_request({**body, "cursor": bad}))
        assert info.value.field == "cursor"
    # a different limit is fine: the cursor is bound to filters and sort, not page size
    ok = await store.search.search(ORG_A, parse_query_request({**body, "limit": 7, "cursor": cursor}))
    assert len(ok["items"]) == 7


SEARCHES = [
    ("timeout", {"timeout"}),
    ("TIMEOUT", {"timeout"}),
    ("time*", {"timeout", "prefix"}),
    ('"rate limit"', {"phrase"}),
    ("rate limit", {"phrase", "words"}),
    ("rate AND limit", {"phrase", "words"}),
    ("timeout OR denied", {"timeout", "quota"}),
    ("limit -exceeded", {"words"}),
    ("limit NOT exceeded", {"words"}),
    ("(timeout OR rising) -upstream", {"prefix"}),
    ("quota", {"quota"}),  # a metadata value
    ("eu-west-1", {"meta"}),
    ("gpt*", {"meta"}),
    ('"gpt 4o mini"', {"meta"}),
    ("ok", {"ok"}),
    ('"rate limit', {"phrase", "words"}),  # malformed: plain terms
    ("(timeout", {"timeout"}),
    ("timeout AND", {"timeout"}),
    ("nothing-matches-this", set()),
]


@pytest.mark.parametrize("text, labels", SEARCHES)
async def test_search_syntax(store, text, labels):
    page = await store.search.search(ORG_A, parse_query_request(
        {"filters": {"search": text}, "limit": 1000}))
    special = {r["id"]: label for label, r in store.special[ORG_A].items()}
    assert {special.get(i["id"], i["message"]) for i in page["items"]} == labels
    assert all(i["org_id"] == ORG_A for i in page["items"])


async def test_search_without_words_constrains_nothing(store):
    for text in ("*", "-", '""', "AND"):
        page = await store.search.search(ORG_A, parse_query_request({"filters": {"search": text}}))
        assert page["total"]["value"] == len(store.records[ORG_A])


async def test_largest_allowed_search_runs(store):
    words = " ".join(f"w{i}" for i in range(85))  # + 5 prefixes, 2 ORs, 8 more
    text = f"ne* nu* en* tr* up* {words} OR (a-b-c-d-e OR \"x y z\")"
    assert count_terms(text) == MAX_SEARCH_TERMS
    page = await store.search.search(ORG_A, parse_query_request({"filters": {"search": text}}))
    assert page["total"]["exact"]


async def test_trace_items_and_summary(store):
    trace = await store.search.trace(ORG_A, TRACE)
    steps = [r for r in store.records[ORG_A] if r["trace_id"] == TRACE]
    steps.sort(key=lambda r: (r["timestamp"], r["id"]))
    assert trace["trace_id"] == TRACE
    assert trace["items"] == [record_to_json(r) for r in steps]
    assert trace["summary"] == {
        "first_timestamp": format_timestamp(steps[0]["timestamp"]),
        "last_timestamp": format_timestamp(steps[-1]["timestamp"]),
        "span_ms": 1250.25,
        "total_duration_ms": 15.5,
        "total_cost": pytest.approx(0.03),
        "counts_by_severity": {"debug": 1, "info": 1, "warn": 1, "error": 2},
        "log_types": ["agent", "gateway", "kb"],
        "record_count": 5,
    }
    b = await store.search.trace(ORG_B, TRACE)
    assert b["summary"]["record_count"] == 3 and all(i["org_id"] == ORG_B for i in b["items"])


async def test_trace_not_found(store):
    with pytest.raises(NotFound):
        await store.search.trace(ORG_A, "no-such-trace")
    with pytest.raises(NotFound):
        await store.search.trace(str(uuid.uuid4()), TRACE)  # an org without it
    with pytest.raises(NotFound):
        await store.search.trace(ORG_A, "")


async def test_org_isolation(store):
    a_ids = {r["id"] for r in store.records[ORG_A]}
    for body in FILTER_BODIES + [{"filters": {"search": "timeout OR denied OR neutral"}},
                                 {"filters": {"trace_id": TRACE}}]:
        q = parse_query_request({**body, "limit": 1000})
        page = await store.search.search(ORG_A, q)
        assert {i["id"] for i in page["items"]} <= a_ids
        if q.search is None:
            assert page["total"]["value"] == len(reference(store.records[ORG_A], q))
    b_record = store.records[ORG_B][0]
    with pytest.raises(NotFound):
        await store.search.get(ORG_A, b_record["id"])
    assert await store.search.get(ORG_B, b_record["id"]) == record_to_json(b_record)
    stranger = await store.search.search(str(uuid.uuid4()), parse_query_request({}))
    assert stranger["items"] == [] and stranger["total"]["value"] == 0


async def test_last_window_page_still_offers_a_cursor(store, monkeypatch):
    from bonito_logs.store import query as query_module
    from bonito_logs.store import search as search_module

    # Shrink the window so the edge case (offset + limit == window) is cheap to reach.
    monkeypatch.setattr(search_module, "MAX_WINDOW", 100)
    monkeypatch.setattr(query_module, "MAX_WINDOW", 100)
    body = {"sort_by": "duration_ms", "sort_order": "desc"}
    expected = reference(store.records[ORG_A], parse_query_request(body))
    page = await store.search.search(ORG_A, parse_query_request({**body, "offset": 90, "limit": 10}))
    assert [i["id"] for i in page["items"]] == expected[90:100]
    assert page["next_cursor"]
    nxt = await store.search.search(ORG_A, parse_query_request(
        {**body, "limit": 50, "cursor": page["next_cursor"]}))
    assert [i["id"] for i in nxt["items"]] == expected[100:150]


async def test_no_indices_at_all(store):
    empty = LogSearch(store.search.client, store.settings.replace(index_prefix="test-none-such-"))
    page = await empty.search(ORG_A, parse_query_request({"sort_by": "cost"}))
    assert page["items"] == [] and page["total"] == {"value": 0, "exact": True}
    with pytest.raises(NotFound):
        await empty.get(ORG_A, "x")

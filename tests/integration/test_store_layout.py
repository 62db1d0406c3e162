"""The index template, documents through a real OpenSearch, retention. Also the bulk
helper the other store integration tests use (records written like the indexer does)."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta

import orjson
import pytest
from opensearchpy import AsyncOpenSearch
from opensearchpy.exceptions import RequestError

from bonito_logs.config import Settings
from bonito_logs.errors import NotFound
from bonito_logs.schemas import build_record, record_to_json
from bonito_logs.store import (
    LogSearch,
    delete_expired_indices,
    ensure_templates,
    index_for,
    make_client,
    template_name,
    to_document,
)

ORG = "0b8e6d1c-3f0a-4d5e-9a7b-2c1d0e9f8a7b"


async def bulk_records(client: AsyncOpenSearch, settings: Settings, records: Iterable[dict],
                       *, chunk: int = 5000) -> None:
    """Index like the indexer: daily index, ``_id`` = id, routing = org; refresh at the end."""
    records = list(records)
    for start in range(0, len(records), chunk):
        lines = []
        for rec in records[start:start + chunk]:
            lines.append(orjson.dumps({"index": {"_index": index_for(rec["timestamp"], settings),
                                                 "_id": rec["id"], "routing": rec["org_id"]}}))
            lines.append(orjson.dumps(to_document(rec)))
        resp = await client.bulk(body=b"\n".join(lines) + b"\n", request_timeout=120)
        errors = [i for i in resp["items"] if i["index"].get("error")]
        assert not errors, errors[:3]
    await client.indices.refresh(index=settings.index_pattern, allow_no_indices=True)


async def drop(client: AsyncOpenSearch, settings: Settings) -> None:
    await client.indices.delete(index=settings.index_pattern, ignore_unavailable=True,
                                allow_no_indices=True, expand_wildcards="all")
    await client.indices.delete_index_template(name=template_name(settings), ignore=404)


@pytest.fixture
async def client(settings):
    c = make_client(settings)
    await ensure_templates(c, settings)
    yield c
    await drop(c, settings)
    await c.close()


def record(**over):
    fields = dict(org_id=ORG, log_type="gateway", event_type="request", severity="info",
                  timestamp=datetime(2024, 5, 1, 12, tzinfo=UTC), message="hello")
    fields.update(over)
    return build_record(**fields)


async def test_template_is_idempotent_and_shapes_new_indices(client, settings):
    settings = settings.replace(index_shards=2)
    await ensure_templates(client, settings)
    await ensure_templates(client, settings)
    rec = record()
    await bulk_records(client, settings, [rec])
    name = index_for(rec["timestamp"], settings)
    mapping = (await client.indices.get_mapping(index=name))[name]["mappings"]
    assert mapping["dynamic"] == "strict"
    assert mapping["properties"]["metadata"]["type"] == "flat_object"
    assert mapping["properties"]["timestamp_us"]["type"] == "long"
    index_settings = (await client.indices.get_settings(index=name))[name]["settings"]["index"]
    assert index_settings["number_of_shards"] == "2"
    assert index_settings["number_of_replicas"] == str(settings.index_replicas)
    with pytest.raises(RequestError) as info:  # strict: no field is ever added by a document
        await client.index(index=name, body={**to_document(rec), "surprise": 1}, id="x")
    assert "strict_dynamic_mapping_exception" in str(info.value)


def awkward_records() -> list[dict]:
    deep: dict = {}
    cur = deep
    for _ in range(120):
        cur["k"] = {}
        cur = cur["k"]
    cur["v"] = "bottom"
    nested_lists: list = ["leaf"]
    for _ in range(250):  # orjson, which encodes metadata, stops at 255 levels
        nested_lists = [nested_lists]
    return [
        record(metadata={"tool": "search", "nested": {"deep": [1, 2.5, None, True, {"x": "日本語"}]},
                         "emoji": "🐟", "big": 2**53 + 1, "neg": -1e-300, "huge": 1.7976931348623157e308,
                         "u64": 2**64 - 1, "empty": {}, "none": None, "a.b": "dotted", "": "blank"},
               duration_ms=1.7976931348623157e308, cost=5e-324, user_id="user-ü-1"),
        record(metadata={"long": "x" * 60_000}, message="m" * 32_000),
        record(metadata={"k" * 5000: "v", "é" * 20_000: "é" * 20_000}),
        record(metadata=deep),
        record(metadata={"lists": nested_lists}),
        record(metadata={}, duration_ms=0, cost=0, message=""),
        record(timestamp=datetime(1, 1, 1, tzinfo=UTC)),
        record(timestamp=datetime(9999, 12, 31, 23, 59, 59, 999999, tzinfo=UTC)),
        record(timestamp=datetime(1969, 12, 31, 23, 59, 59, 999999, tzinfo=UTC)),
        record(trace_id="t" * 256, user_id="u" * 256, resource_id="r" * 256,
               event_type="e" * 64, resource_type="r" * 64, action="search", severity="critical"),
    ]


async def test_every_valid_record_indexes_and_comes_back_exactly(client, settings):
    records = awkward_records()
    await bulk_records(client, settings, records)
    search = LogSearch(client, settings)
    for rec in records:
        assert await search.get(ORG, rec["id"]) == record_to_json(rec)
    # the case of a UUID does not matter to the caller
    assert (await search.get(ORG.upper(), records[0]["id"].upper()))["id"] == records[0]["id"]


async def test_metadata_structure_and_message_keyword(client, settings):
    records = [record(metadata={"model": "gpt-4o", "usage": {"tokens": 42}}, message="exact message"),
               record(metadata={"model": "claude"}, message="m" * 9000 + " tail")]
    await bulk_records(client, settings, records)

    async def ids(query):
        resp = await client.search(index=settings.index_pattern, body={"query": query},
                                   routing=ORG)
        return {h["_id"] for h in resp["hits"]["hits"]}

    assert await ids({"term": {"metadata.model": "gpt-4o"}}) == {records[0]["id"]}
    assert await ids({"term": {"metadata.usage.tokens": "42"}}) == {records[0]["id"]}
    assert await ids({"term": {"message.keyword": "exact message"}}) == {records[0]["id"]}
    assert await ids({"match": {"message": "tail"}}) == {records[1]["id"]}  # over ignore_above
    assert await ids({"match": {"metadata_text": "claude"}}) == {records[1]["id"]}


async def test_get_is_scoped_to_the_org(client, settings):
    other = str(uuid.uuid4())
    mine, theirs = record(), record(org_id=other)
    await bulk_records(client, settings, [mine, theirs])
    search = LogSearch(client, settings)
    assert (await search.get(ORG, mine["id"]))["id"] == mine["id"]
    for org, rid in ((ORG, theirs["id"]), (other, mine["id"]), (ORG, str(uuid.uuid4())),
                     (ORG, ""), (ORG, "x" * 1000)):
        with pytest.raises(NotFound):
            await search.get(org, rid)


async def test_retention_deletes_only_old_daily_indices_of_this_prefix(client, settings):
    settings = settings.replace(retention_days=30)
    now = datetime(2024, 6, 30, 8, tzinfo=UTC)
    days = [now - timedelta(days=d) for d in (0, 10, 30, 31, 45, 400)]
    await bulk_records(client, settings, [record(timestamp=d) for d in days])
    odd = f"{settings.index_prefix}archive-2020.01.01"
    neighbour = Settings().replace(index_prefix=f"{settings.index_prefix[:-1]}x-")
    await client.indices.create(index=odd)
    await client.indices.create(index=f"{neighbour.index_prefix}2020.01.01")
    try:
        deleted = await delete_expired_indices(client, settings, now=now)
        assert deleted == sorted(index_for(d, settings) for d in days[3:])
        left = {r["index"] for r in await client.cat.indices(index=settings.index_pattern, format="json")}
        assert left == {index_for(d, settings) for d in days[:3]} | {odd}
        assert await client.indices.exists(index=f"{neighbour.index_prefix}2020.01.01")
        assert await delete_expired_indices(client, settings, now=now) == []
    finally:
        await client.indices.delete(index=f"{neighbour.index_prefix}2020.01.01", ignore_unavailable=True)


async def test_retention_with_no_indices(client, settings):
    assert await delete_expired_indices(client, settings) == []

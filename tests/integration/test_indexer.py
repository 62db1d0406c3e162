"""The indexer against the real Kafka and OpenSearch: poison, redelivery, mapping conflicts."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta

import pytest

from bonito_logs.schemas import build_record, current_schema, encode
from bonito_logs.store import ensure_templates, index_for
from bonito_logs.streams.app import WorkerRuntime, prepare
from bonito_logs.streams.dlq import read_headers
from tests.integration.support import (
    count_docs,
    delete_test_indices,
    dlq_messages,
    encoded,
    generate_records,
    new_orgs,
    os_client,
    produce,
    wait_until,
)


@pytest.fixture
async def runtime(settings):
    await prepare(settings)
    rt = WorkerRuntime(settings.replace(indexer_batch_seconds=0.2))
    await rt.start()
    yield rt
    await rt.stop()
    await delete_test_indices(settings)


async def test_records_become_searchable_with_their_fields(settings, runtime):
    records = generate_records(500, new_orgs(3))
    await produce(settings, encoded(records))
    await wait_until(lambda: _count_is(settings, 500), 60, "500 documents")
    client = os_client(settings)
    try:
        rec = records[42]
        doc = await client.get(index=index_for(rec["timestamp"], settings), id=rec["id"],
                               routing=rec["org_id"])
        src = doc["_source"]
        assert src["org_id"] == rec["org_id"] and src["message"] == rec["message"]
        assert src["metadata"] == rec["metadata"]
        assert doc["_routing"] == rec["org_id"]
    finally:
        await client.close()
    assert runtime.status.counters["records_indexed"] >= 500


async def test_poison_goes_to_the_dlq_and_neighbours_are_indexed(settings, runtime):
    orgs = new_orgs(1)
    good = generate_records(20, orgs)
    unknown = bytearray(encode(good[0]))
    unknown[2:10] = b"\x01\x02\x03\x04\x05\x06\x07\x08"
    items = encoded(good[:10]) + [(b"junk", b"\x00garbage\xff" * 3), (b"k", bytes(unknown))] \
        + encoded(good[10:])
    await produce(settings, items)
    await wait_until(lambda: _count_is(settings, 20), 60, "20 good documents")
    letters = await dlq_messages(settings)
    assert len(letters) == 2
    by_key = {m.key: m for m in letters}
    garbage, fingerprint = by_key[b"junk"], by_key[b"k"]
    assert garbage.value == b"\x00garbage\xff" * 3
    assert fingerprint.value == bytes(unknown)
    h1, h2 = read_headers(garbage.headers), read_headers(fingerprint.headers)
    assert h1["bonito.reason"].startswith("decode_error: not Avro single-object encoding")
    assert h2["bonito.reason"].startswith("unknown_schema: unknown schema fingerprint 0102030405060708")
    assert h1["bonito.source.topic"] == settings.logs_topic
    partition, offset = int(h1["bonito.source.partition"]), int(h1["bonito.source.offset"])
    assert partition >= 0 and offset >= 0
    assert runtime.status.counters["dlq_records"] == 2


async def test_redelivery_overwrites_instead_of_duplicating(settings, runtime):
    records = generate_records(100, new_orgs(2))
    await produce(settings, encoded(records))
    await produce(settings, encoded(records[:60]))  # a producer retry, or a replay
    await wait_until(lambda: _indexed_at_least(runtime, 160), 60, "both deliveries indexed")
    assert await count_docs(settings) == 100


async def test_document_opensearch_rejects_goes_to_dlq_with_its_reason(settings):
    """A daily index created with a conflicting mapping: that document is dead-lettered."""
    await prepare(settings)
    client = os_client(settings)
    day = datetime.now(UTC) - timedelta(days=2)
    index = index_for(day, settings)
    await ensure_templates(client, settings)
    await client.indices.create(index=index, body={"mappings": {"properties": {"cost": {"type": "boolean"}}}})
    org = str(uuid.uuid4())
    bad = build_record(org_id=org, log_type="billing", event_type="usage_calculation",
                       severity="info", timestamp=day, cost=0.25)
    fine = build_record(org_id=org, log_type="billing", event_type="usage_calculation",
                        severity="info", timestamp=day)
    rt = WorkerRuntime(settings.replace(indexer_batch_seconds=0.2))
    await rt.start()
    try:
        await produce(settings, encoded([bad, fine]))
        await wait_until(lambda: _count_is(settings, 1), 60, "the good document")
        letters = await dlq_messages(settings)
        assert [m.value for m in letters] == [encode(bad)]
        reason = read_headers(letters[0].headers)["bonito.reason"]
        assert reason.startswith("rejected by OpenSearch (400): mapper_parsing_exception")
        assert "cost" in reason
    finally:
        await rt.stop()
        await client.close()
        await delete_test_indices(settings)


async def test_records_of_a_newer_writer_schema_we_do_not_know_are_dead_lettered_not_crashing(settings, runtime):
    rec = generate_records(1, new_orgs(1))[0]
    data = encode(rec)
    assert data[2:10] == current_schema().fingerprint
    await produce(settings, [(b"x", data[:2] + b"\xff" * 8 + data[10:]), (b"y", data)])
    await wait_until(lambda: _count_is(settings, 1), 60, "the readable record")
    await asyncio.sleep(0.5)
    assert runtime.indexer._consumer is not None  # still running
    assert len(await dlq_messages(settings)) == 1


async def _count_is(settings, n: int) -> bool:
    return await count_docs(settings) == n


async def _indexed_at_least(runtime, n: int) -> bool:
    return runtime.status.counters["records_indexed"] >= n

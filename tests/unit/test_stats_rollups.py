"""Rollup keys and ids, the offset rule that makes replays exact, conditional writes, retention."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import orjson
import pytest

from bonito_logs.config import Settings
from bonito_logs.schemas import build_record
from bonito_logs.store.rollup_docs import (
    FULL,
    DocKey,
    RollupDoc,
    ceil_ms,
    cost_units,
    floor_ms,
    iso_ms,
    stats_index,
    targets,
    to_ms,
)
from bonito_logs.store.rollups import Loaded, WriteResult, expired_indices, month_expired
from bonito_logs.store.stats_read import cover
from bonito_logs.streams.rollup_buffer import RollupBuffer

ORG = "0b8e6d1c-3f0a-4d5e-9a7b-2c1d0e9f8a7b"
T0 = datetime(2026, 3, 31, 23, 58, 30, tzinfo=UTC)
SETTINGS = Settings(meta_prefix="bonito-")


class FakeStore:
    """OpenSearch as the buffer sees it: sources with a seq_no, conditional writes, JSON round trip."""

    def __init__(self) -> None:
        self.docs: dict[DocKey, tuple[dict, int]] = {}
        self.seq = 0
        self.fail: set[DocKey] = set()  # answered "retry" (a 429) once

    async def load(self, keys):
        out = {}
        for key in keys:
            key = DocKey._make(key)
            if key in self.docs:
                source, seq = self.docs[key]
                out[key] = Loaded(RollupDoc.from_source(key, source), seq, 1)
            else:
                out[key] = Loaded(RollupDoc(key))
        return out

    async def write(self, entries):
        results = []
        for entry in entries:
            key = entry.doc.key
            current = self.docs.get(key)
            if key in self.fail:
                self.fail.discard(key)
                results.append(WriteResult("retry"))
            elif (current is None) != (entry.seq_no is None) or (current and current[1] != entry.seq_no):
                results.append(WriteResult("conflict"))
            else:
                self.seq += 1
                # through JSON and back, as OpenSearch would store it
                source = orjson.loads(orjson.dumps(entry.doc.to_source()))
                source = orjson.loads(orjson.dumps(RollupDoc.from_source(key, source).to_source()))
                self.docs[key] = (source, self.seq)
                results.append(WriteResult("stored", self.seq, 1))
        return results

    def count(self, granularity: str, group: str = "total::") -> int:
        return sum(src["groups"].get(group, {}).get("n", 0) for key, (src, _) in self.docs.items()
                   if key.granularity == granularity and key.kind == FULL)


def _records(n: int, start: datetime = T0) -> list[tuple[int, int, dict]]:
    out = []
    for i in range(n):
        record = build_record(org_id=ORG, log_type="gateway" if i % 3 else "agent",
                              event_type="request", severity="error" if i % 5 == 0 else "info",
                              timestamp=start + timedelta(seconds=7 * i), duration_ms=float(i),
                              cost=0.1, metadata={"model": "m1", "provider": "p1", "input_tokens": 2})
        out.append((0, 100 + i, record))
    return out


def test_doc_ids_and_indices_are_deterministic():
    key = DocKey(ORG, "hour", floor_ms(to_ms(T0), "hour"))
    assert key.doc_id == f"{ORG}.h.{to_ms(T0) // 3_600_000 * 3_600_000}.full"
    assert key.doc_id == DocKey(ORG, "hour", key.bucket, FULL).doc_id
    day = DocKey(ORG, "day", floor_ms(to_ms(T0), "day"))
    assert [v.doc_id for v in day.views()][1] == f"{ORG}.d.{day.bucket}.view.log_type"
    assert key == (ORG, "hour", key.bucket, FULL) and hash(key) == hash(tuple(key))
    assert len({DocKey(ORG, g, 0).doc_id for g in ("minute", "hour", "day")}) == 3
    assert key.index(SETTINGS) == "bonito-stats-hour-2026.03"
    assert stats_index(SETTINGS, "day", to_ms(T0 + timedelta(minutes=2))) == "bonito-stats-day-2026.04"


def test_targets_name_every_group_of_a_record():
    record = build_record(org_id=ORG, log_type="gateway", event_type="request", severity="warn",
                          metadata={"model": "gpt-4o", "provider": "openai"})
    assert targets(record) == ("total::", "log_type::gateway", "event_type::request",
                               "severity::warn", "cell:gateway:request|warn", "model::gpt-4o",
                               "provider::openai", 'model_cell::["gpt-4o","openai","warn"]')
    other = build_record(org_id=ORG, log_type="kb", event_type="search", severity="info")
    assert len(targets(other)) == 5


def test_alignment_and_cover():
    ms = to_ms(T0)
    assert floor_ms(ms, "minute") == to_ms(T0.replace(second=0))
    assert ceil_ms(floor_ms(ms, "day"), "day") == floor_ms(ms, "day")
    day = 86_400_000
    start, end = floor_ms(ms, "hour") - 3 * 3_600_000, floor_ms(ms, "day") + 2 * day + 3_600_000
    midnight = ceil_ms(start, "day")
    tiles = cover(start, end, "hour")
    assert tiles == {"day": [(midnight, floor_ms(ms, "day") + 2 * day)],
                     "hour": [(start, midnight), (floor_ms(ms, "day") + 2 * day, end)]}
    assert cover(0, 3 * 60_000, "minute") == {"minute": [(0, 3 * 60_000)]}


def test_costs_add_up_exactly_in_any_order():
    costs = [0.1, 0.2, 0.3, 1e-12, 123.456789]
    assert sum(map(cost_units, costs)) == sum(map(cost_units, reversed(costs)))
    assert sum(map(cost_units, costs)) / 10 ** 12 == pytest.approx(124.056789000001, abs=1e-12)


async def test_a_replayed_batch_is_not_counted_twice():
    store = FakeStore()
    buffer = RollupBuffer(store, SETTINGS)
    items = _records(40)
    assert await buffer.apply(items) == 40
    assert (await buffer.flush()).written > 0
    assert store.count("day") == 40
    # The same records again (a redelivery): nothing changes, nothing to write.
    again = RollupBuffer(store, SETTINGS)
    assert await again.apply(items) == 0
    assert again.counters["records_already_counted"] == 40
    assert again.dirty_count == 0


async def test_a_crash_between_writes_replays_exactly():
    """Some documents written, others not (a crash mid-flush): the replay completes the
    lagging ones and skips the written ones, document by document."""
    store = FakeStore()
    noon = T0.replace(hour=12, minute=0, second=0)
    items = _records(60, noon)
    first = RollupBuffer(store, SETTINGS)
    await first.apply(items[:30])
    await first.flush()
    await first.apply(items[30:])
    day = DocKey(ORG, "day", floor_ms(to_ms(noon), "day"))
    store.fail = {day, *day.views()}  # the day documents are not written this time...
    outcome = await first.flush()
    assert outcome.retry == 7
    # ...and the worker dies. A new one replays from the last commit (the start).
    second = RollupBuffer(store, SETTINGS)
    await second.apply(items)
    await second.flush()
    for granularity in ("minute", "hour", "day"):
        assert store.count(granularity) == 60, granularity
        assert store.count(granularity, "log_type::gateway") == 40
    view = store.docs[day.views()[1]][0]  # log_type
    assert view["offsets"] == store.docs[day][0]["offsets"] == {"0": 159}
    assert view["groups"]["gateway"]["n"] == 40 and view["groups"]["agent"]["n"] == 20
    assert "d" in view["groups"]["gateway"] and view["groups"]["gateway"]["p"][0] is not None
    hour = floor_ms(to_ms(noon), "hour")
    points = orjson.loads(view["series"]["gateway"])  # the day's hours, as the API shows them
    assert len(points) == 24 and points[12]["timestamp"] == iso_ms(hour)
    shown = points[12]
    assert (shown["count"], shown["errors"], shown["error_rate"]) == (40, 8, 0.2)
    assert set(shown) == {"timestamp", "count", "errors", "error_rate", "cost", "duration_ms"}
    assert points[11]["count"] == points[13]["count"] == 0
    assert view["hour_offsets"][str(hour)] == {"0": 159}


async def test_a_document_changed_by_another_writer_is_a_conflict():
    store = FakeStore()
    mine, theirs = RollupBuffer(store, SETTINGS), RollupBuffer(store, SETTINGS)
    items = _records(10)
    await mine.apply(items[:5])
    await mine.flush()
    await theirs.apply(items)  # another consumer took the partition over and wrote
    await theirs.flush()
    await mine.apply(items[5:])
    assert (await mine.flush()).conflict
    mine.reset()
    assert mine.dirty_count == 0


async def test_a_view_behind_its_hour_is_projected_again():
    store = FakeStore()
    buffer = RollupBuffer(store, SETTINGS)
    await buffer.apply(_records(5))
    await buffer.flush()
    view_key = DocKey(ORG, "day", floor_ms(to_ms(T0), "day")).views()[0]
    hour = str(floor_ms(to_ms(T0), "hour"))
    source, seq = store.docs[view_key]
    store.docs[view_key] = ({**source, "series": {}, "hour_offsets": {hour: {"0": 101}}}, seq)
    fresh = RollupBuffer(store, SETTINGS)
    await fresh.apply(_records(5))  # all already counted...
    assert fresh.counters["records_already_counted"] == 5
    assert fresh.dirty_count >= 1  # ...but the stale view is projected again
    await fresh.flush()
    points = orjson.loads(store.docs[view_key][0]["series"][""])
    assert sum(p["count"] for p in points) == 5


async def test_records_of_expired_months_are_skipped_and_their_indices_deleted():
    store = FakeStore()
    buffer = RollupBuffer(store, SETTINGS)
    now = T0 + timedelta(days=SETTINGS.stats_retention_days + 40)
    assert await buffer.apply(_records(3), now=now) == 0
    assert buffer.counters["records_past_retention"] == 3
    assert month_expired(to_ms(T0), SETTINGS, now)
    assert not month_expired(to_ms(now), SETTINGS, now)
    names = ["bonito-stats-hour-2026.03", "bonito-stats-day-2027.05", "bonito-stats-x", "other-stats-hour-2020.01"]
    assert expired_indices(names, SETTINGS, now) == ["bonito-stats-hour-2026.03"]


def test_the_default_aggregator_group_follows_the_indexer_group():
    assert Settings().aggregator_group_id == "bonito.aggregator"
    assert Settings(indexer_group=f"test.{uuid.uuid4().hex}.indexer").aggregator_group_id.endswith(".aggregator")
    assert Settings(aggregator_group="mine").aggregator_group_id == "mine"

"""``RollupBuffer``: the aggregator's rollup documents in memory, between reads and writes.

Records are applied to documents held here (read once, then kept): a document
changed since its last write is *dirty*; ``flush`` writes every dirty document
conditionally on the version it was read or last written at. Written documents
stay cached (LRU) with that version, so the hot ones (the current minute, hour
and day) are not re-read for every batch. A stale cache entry is harmless: its
conditional write fails with a conflict, and the caller rewinds.
"""

from __future__ import annotations

import logging
from collections import Counter, OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from bonito_logs.config import Settings
from bonito_logs.store.rollup_docs import (
    GRANULARITIES,
    PACKED,
    STEP_MS,
    Contribution,
    DocKey,
    RollupDoc,
    Stats,
    contribution,
    packed_group,
    targets,
    to_ms,
)
from bonito_logs.store.rollups import Loaded, RollupStore, month_expired

log = logging.getLogger(__name__)

Item = tuple[int, int, dict[str, Any]]  # (partition, offset, decoded record)
DAY_MS = STEP_MS["day"]
MINUTE_MS = STEP_MS["minute"]


@dataclass(frozen=True)
class FlushOutcome:
    written: int = 0
    retry: int = 0  # refused for now (429/5xx): still dirty, same version
    conflict: bool = False  # someone else wrote one of them: rewind and replay
    rejected: int = 0  # refused for good (a bug): dropped, logged


class RollupBuffer:
    def __init__(self, store: RollupStore, settings: Settings,
                 counters: Counter[str] | None = None) -> None:
        self.store = store
        self.settings = settings
        self.counters: Counter[str] = counters if counters is not None else Counter()
        self._clean: OrderedDict[DocKey, Loaded] = OrderedDict()
        self._dirty: dict[DocKey, Loaded] = {}

    @property
    def dirty_count(self) -> int:
        return len(self._dirty)

    def reset(self) -> None:
        """Forget every document, written or not (after a conflict or a rebalance)."""
        self._clean.clear()
        self._dirty.clear()

    async def apply(self, items: Sequence[Item], now: datetime | None = None) -> int:
        """Count the records in their rollups; returns how many records were new to
        at least one document. ``items`` must be in offset order per partition."""
        now = now or datetime.now(UTC)
        plan: list[tuple[int, int, Contribution, list[tuple[tuple, tuple[str, ...]]]]] = []
        wanted: set[tuple] = set()
        expired_days: dict[int, bool] = {}
        steps = [(g, STEP_MS[g]) for g in GRANULARITIES if g != "minute"]
        for partition, offset, record in items:
            ts = to_ms(record["timestamp"])
            day = ts - ts % DAY_MS
            expired = expired_days.get(day)
            if expired is None:
                expired = expired_days[day] = month_expired(day, self.settings, now)
            if expired:
                self.counters["records_past_retention"] += 1
                continue
            org = record["org_id"]
            dims = targets(record)
            # Plain tuples: equal to (and hashed like) the DocKey they stand for, cheaper to build.
            keyed = [((org, g, ts - ts % step, dim, part), (group,))
                     for g, step in steps for dim, part, group in dims]
            keyed.append(((org, "minute", ts - ts % MINUTE_MS, PACKED, ""),
                          tuple([packed_group(dim, part, group) for dim, part, group in dims])))
            wanted.update([k for k, _ in keyed])
            plan.append((partition, offset, contribution(record), keyed))
        await self._load_missing(wanted)
        applied = 0
        dirty, clean = self._dirty, self._clean
        for partition, offset, contrib, keyed in plan:
            new = False
            for key, groups in keyed:
                entry = dirty.get(key)
                if entry is None:
                    entry = clean[key]
                    if offset <= entry.doc.offsets.get(partition, -1):
                        continue
                    del clean[key]
                    dirty[key] = entry
                doc = entry.doc
                if offset <= doc.offsets.get(partition, -1):
                    continue
                for group in groups:
                    stats = doc.groups.get(group)
                    if stats is None:
                        stats = doc.groups[group] = Stats()
                    stats.add(contrib)
                doc.offsets[partition] = offset
                new = True
            if new:
                applied += 1
            else:
                self.counters["records_already_counted"] += 1
        self._trim()
        return applied

    async def _load_missing(self, wanted: set[tuple]) -> None:
        missing = [DocKey._make(k) for k in wanted if k not in self._dirty and k not in self._clean]
        if not missing:
            for key in wanted:
                if key in self._clean:
                    self._clean.move_to_end(key)
            return
        loaded = await self.store.load(missing)
        self.counters["documents_read"] += len(missing)
        for key in wanted:
            if key in self._clean:
                self._clean.move_to_end(key)
        for key, entry in loaded.items():
            self._clean[key] = entry

    def _trim(self) -> None:
        limit = max(self.settings.aggregator_cache_docs, 0)
        while len(self._clean) > limit:
            self._clean.popitem(last=False)

    async def flush(self) -> FlushOutcome:
        """Write every dirty document once. Raises ``BulkUnavailable`` when OpenSearch
        cannot be asked (the documents stay dirty, at the version they had)."""
        if not self._dirty:
            return FlushOutcome()
        entries = list(self._dirty.values())
        results = await self.store.write(entries)
        written = retry = rejected = 0
        conflict = False
        for entry, result in zip(entries, results, strict=True):
            key = entry.doc.key
            if result.outcome == "stored":
                entry.seq_no, entry.primary_term = result.seq_no, result.primary_term
                del self._dirty[key]
                self._clean[key] = entry
                written += 1
            elif result.outcome == "retry":
                retry += 1
            elif result.outcome == "conflict":
                conflict = True
            else:
                rejected += 1
                del self._dirty[key]
                log.error("rollup %s refused by OpenSearch, its records are not counted: %s",
                          key.doc_id, result.reason)
        self.counters["documents_written"] += written
        self.counters["documents_rejected"] += rejected
        if conflict:
            self.counters["conflicts"] += 1
        self._trim()
        return FlushOutcome(written=written, retry=retry, conflict=conflict, rejected=rejected)

    def peek(self, key: DocKey) -> RollupDoc | None:
        """The document as held here (tests)."""
        entry = self._dirty.get(key) or self._clean.get(key)
        return entry.doc if entry else None

"""``RollupBuffer``: the aggregator's rollup documents in memory, between reads and writes.

Records are applied to the ``full`` document of their minute, hour and day held
here (read once, then kept, with the ``fig`` document of hours and days); a
document changed since its last write is *dirty*; ``flush`` writes every dirty
document (and its re-projected ``fig``) conditionally on the version it was read
or last written at. Written documents
stay cached (LRU) with that version, so the hot ones (the current minute, hour
and day) are not re-read for every batch. A stale cache entry is harmless: its
conditional write fails with a conflict, and the caller rewinds.
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter, OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from bonito_logs.config import Settings
from bonito_logs.store.rollup_docs import (
    FULL,
    STEP_MS,
    Contribution,
    DocKey,
    RollupDoc,
    contribution,
    targets,
    to_ms,
)
from bonito_logs.store.rollups import Loaded, RollupStore, month_expired

log = logging.getLogger(__name__)

Item = tuple[int, int, dict[str, Any]]  # (partition, offset, decoded record)
DAY_MS = STEP_MS["day"]
HOUR_MS = STEP_MS["hour"]
MINUTE_MS = STEP_MS["minute"]


@dataclass(frozen=True)
class FlushOutcome:
    written: int = 0
    retry: int = 0  # refused for now (429/5xx): still dirty, same version
    conflict: bool = False  # someone else wrote one of them: rewind and replay
    rejected: int = 0  # refused for good (a bug): dropped, logged


class _Slot:
    """The documents of one org and bucket: ``full`` and, for hours and days, its ``fig``."""

    __slots__ = ("full", "fig")

    def __init__(self, full: Loaded, fig: Loaded | None) -> None:
        self.full = full
        self.fig = fig

    def entries(self) -> list[Loaded]:
        if self.fig is None:
            return [self.full]
        self.fig.doc.project(self.full.doc)
        return [self.full, self.fig]


class RollupBuffer:
    def __init__(self, store: RollupStore, settings: Settings,
                 counters: Counter[str] | None = None) -> None:
        self.store = store
        self.settings = settings
        self.counters: Counter[str] = counters if counters is not None else Counter()
        self._clean: OrderedDict[tuple, _Slot] = OrderedDict()
        self._dirty: dict[tuple, _Slot] = {}

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
        plan: list[tuple[int, int, Contribution, tuple[str, ...], list[tuple]]] = []
        wanted: set[tuple] = set()
        expired_days: dict[int, bool] = {}
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
            # Plain tuples: equal to (and hashed like) the DocKey they stand for, cheaper to build.
            keys = [(org, "minute", ts - ts % MINUTE_MS, FULL), (org, "hour", ts - ts % HOUR_MS, FULL),
                    (org, "day", day, FULL)]
            wanted.update(keys)
            plan.append((partition, offset, contribution(record), targets(record), keys))
        await self._load_missing(wanted)
        applied = 0
        dirty, clean = self._dirty, self._clean
        for partition, offset, contrib, groups, keys in plan:
            new = False
            for key in keys:
                slot = dirty.get(key)
                if slot is None:
                    slot = clean[key]
                    if offset <= slot.full.doc.offsets.get(partition, -1):
                        continue
                    del clean[key]
                    dirty[key] = slot
                new |= slot.full.doc.apply(partition, offset, groups, contrib)
            if new:
                applied += 1
            else:
                self.counters["records_already_counted"] += 1
        self._trim()
        return applied

    async def _load_missing(self, wanted: set[tuple]) -> None:
        clean = self._clean
        missing = [DocKey._make(k) for k in wanted if k not in self._dirty and k not in clean]
        for key in wanted:
            if key in clean:
                clean.move_to_end(key)
        if not missing:
            return
        figs = [k.fig() for k in missing if k.granularity != "minute"]
        loaded = await self.store.load(missing + figs)
        self.counters["documents_read"] += len(missing) + len(figs)
        for key in missing:
            full = loaded[key]
            fig = loaded[key.fig()] if key.granularity != "minute" else None
            slot = _Slot(full, fig)
            if fig is not None and fig.doc.offsets != full.doc.offsets:
                self._dirty[key] = slot  # a crash between the two writes: re-project
            else:
                clean[key] = slot

    def _trim(self) -> None:
        limit = max(self.settings.aggregator_cache_docs, 0)
        while len(self._clean) > limit:
            self._clean.popitem(last=False)

    async def flush(self) -> FlushOutcome:
        """Write every dirty document once. Raises ``BulkUnavailable`` when OpenSearch
        cannot be asked (the documents stay dirty, at the version they had)."""
        if not self._dirty:
            return FlushOutcome()
        slots = list(self._dirty.items())
        entries: list[Loaded] = []
        for i, (_, slot) in enumerate(slots):
            if i % 1000 == 999:
                await asyncio.sleep(0)
            entries.extend(slot.entries())
        results = iter(await self.store.write(entries))
        written = retry = rejected = 0
        conflict = False
        for key, slot in slots:
            done, refused = True, False
            for entry in (slot.full, slot.fig):
                if entry is None:
                    continue
                result = next(results)
                if result.outcome == "stored":
                    entry.seq_no, entry.primary_term = result.seq_no, result.primary_term
                    written += 1
                    continue
                done = False
                if result.outcome == "retry":
                    retry += 1
                elif result.outcome == "conflict":
                    conflict = True
                else:
                    rejected += 1
                    refused = True
                    log.error("rollup %s refused by OpenSearch, its records are not counted: %s",
                              entry.doc.key.doc_id, result.reason)
            if done:
                del self._dirty[key]
                self._clean[key] = slot
            elif refused:
                del self._dirty[key]  # a bug, not a state: dropped, never retried forever
        self.counters["documents_written"] += written
        self.counters["documents_rejected"] += rejected
        if conflict:
            self.counters["conflicts"] += 1
        self._trim()
        return FlushOutcome(written=written, retry=retry, conflict=conflict, rejected=rejected)

    def peek(self, key: DocKey) -> RollupDoc | None:
        """The full document as held here (tests)."""
        slot = self._dirty.get(key) or self._clean.get(key)
        return slot.full.doc if slot else None

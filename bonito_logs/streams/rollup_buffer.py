"""``RollupBuffer``: the aggregator's rollup documents in memory, between reads and writes.

Records are applied to the ``full`` document of their minute, hour and day held
here (read once, then kept; a day with its view documents); a document changed
since its last write is *dirty*; ``flush`` projects dirty hours and days into the
day's views and writes every dirty document and those views, each conditionally
on the version it was read or last written at. Written documents
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
    """The ``full`` document of one org and bucket and, for a day, its view documents."""

    __slots__ = ("full", "views")

    def __init__(self, full: Loaded, views: list[Loaded] | None) -> None:
        self.full = full
        self.views = views

    def entries(self) -> list[Loaded]:
        if not self.views:
            return [self.full]
        for view in self.views:
            view.doc.project_day(self.full.doc)
        return [self.full, *self.views]

    def current(self) -> bool:
        """Whether every view holds the day as it is (false after a crash between writes)."""
        return all(v.doc.offsets == self.full.doc.offsets for v in self.views or ())


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
        if missing:
            await self._load(missing)

    async def _load(self, keys: list[DocKey]) -> None:
        """Read the ``full`` documents (and the views of days); mark dirty what a crash left
        half-projected. An hour is checked against its day, which is loaded with it."""
        views = [v for k in keys if k.granularity == "day" for v in k.views()]
        loaded = await self.store.load(keys + views)
        self.counters["documents_read"] += len(keys) + len(views)
        for key in sorted(keys, key=lambda k: k.granularity != "day"):  # days first
            full = loaded[key]
            slot = _Slot(full, [loaded[v] for v in key.views()] if key.granularity == "day" else None)
            stale = not slot.current()
            if key.granularity == "hour":
                day = self._slot((key.org, "day", key.bucket - key.bucket % DAY_MS, FULL))
                stale = day is not None and not all(v.doc.hour_current(full.doc) for v in day.views)
            (self._dirty if stale else self._clean)[key] = slot

    def _slot(self, key: tuple) -> _Slot | None:
        return self._dirty.get(key) or self._clean.get(key)

    def _trim(self) -> None:
        limit = max(self.settings.aggregator_cache_docs, 0)
        while len(self._clean) > limit:
            self._clean.popitem(last=False)

    async def flush(self) -> FlushOutcome:
        """Write every dirty document once. Raises ``BulkUnavailable`` when OpenSearch
        cannot be asked (the documents stay dirty, at the version they had)."""
        if not self._dirty:
            return FlushOutcome()
        # Hours go into their day's views: the day is written with them.
        hours = [(k, slot) for k, slot in self._dirty.items() if k[1] == "hour"]
        for i, (key, slot) in enumerate(hours):
            if i % 1000 == 999:
                await asyncio.sleep(0)
            day_key = (key[0], "day", key[2] - key[2] % DAY_MS, FULL)
            day = self._slot(day_key)
            if day is None:  # written and evicted meanwhile: read it again
                await self._load([DocKey._make(day_key)])
                day = self._slot(day_key)
            if day_key not in self._dirty:
                self._dirty[day_key] = self._clean.pop(day_key)
            for view in day.views or ():
                view.doc.project_hour(slot.full.doc)
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
            for entry in (slot.full, *(slot.views or ())):
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

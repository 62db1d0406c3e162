"""Reading one org's matching records from a point in time, in order, a page at a time.

A point in time (PIT) over the log indices is a consistent snapshot: records
indexed or deleted meanwhile do not change the export. ``search_after`` pages
through it in the query API's total order, the next page always requested while
the caller writes the current one.

When the order is by time (the default), the snapshot is read one UTC day window
at a time (the daily indices' days): every page then comes from the one shard
holding that day instead of merging each shard's top hits on every page, which
is several times cheaper and keeps the order (windows follow the time order, and
the windows cover every instant, so every record is in exactly one of them).
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import orjson
from opensearchpy import AsyncOpenSearch
from opensearchpy.serializer import JSONSerializer

from bonito_logs.config import Settings
from bonito_logs.store import LogQuery, build_query, build_sort
from bonito_logs.store.documents import timestamp_us

Window = tuple[int | None, int | None]  # [from, to) in microseconds; None: unbounded


class _OrjsonSerializer(JSONSerializer):
    """Pages are large: orjson parses them several times faster than ``json``."""

    def loads(self, s: Any) -> Any:
        return orjson.loads(s)


def make_export_client(settings: Settings) -> AsyncOpenSearch:
    return AsyncOpenSearch(hosts=[settings.opensearch_url], timeout=120, retry_on_timeout=False,
                           max_retries=2, http_compress=False, serializer=_OrjsonSerializer())


def day_windows(index_names: list[str], prefix: str, q: LogQuery) -> list[Window]:
    """Time windows, one per daily index day, in the export's order, within the query's dates.

    The first window starts at -inf and the last ends at +inf, so no instant is left out.
    """
    days: set[int] = set()
    for name in index_names:
        try:
            day = datetime.strptime(name[len(prefix):], "%Y.%m.%d").replace(tzinfo=UTC)
        except ValueError:
            continue
        days.add(timestamp_us(day))
    starts = sorted(days)
    windows: list[Window] = []
    for i in range(len(starts)):
        low = starts[i] if i > 0 else None
        high = starts[i + 1] if i + 1 < len(starts) else None
        if q.start_date is not None and high is not None and high <= timestamp_us(q.start_date):
            continue
        if q.end_date is not None and low is not None and low > timestamp_us(q.end_date):
            continue
        windows.append((low, high))
    if not windows:
        windows = [(None, None)]
    return windows[::-1] if q.sort_order == "desc" else windows


class Snapshot:
    """One org's records matching ``q`` in a point in time. ``open`` counts them exactly."""

    def __init__(self, client: AsyncOpenSearch, settings: Settings, org: str, q: LogQuery,
                 page_size: int) -> None:
        self.client = client
        self.settings = settings
        self.org = org
        self.q = q
        self.page_size = page_size
        self.pit_id: str | None = None
        self.windows: list[Window] = [(None, None)]

    async def open(self, index_names: list[str]) -> int:
        s = self.settings
        pit = await self.client.create_pit(
            index=s.index_pattern, params={"keep_alive": s.exports_pit_keep_alive, "routing": self.org})
        self.pit_id = pit["pit_id"]
        if self.q.sort_by == "timestamp":
            self.windows = day_windows(index_names, s.index_prefix, self.q)
        resp = await self._search({"query": build_query(self.org, self.q), "size": 0,
                                   "track_total_hits": True})
        total = resp["hits"]["total"]
        if total.get("relation", "eq") != "eq":
            raise RuntimeError("OpenSearch did not count the matching records exactly")
        return int(total["value"])

    async def close(self) -> None:
        if self.pit_id is not None:
            with contextlib.suppress(Exception):
                await self.client.delete_pit(body={"pit_id": [self.pit_id]})
            self.pit_id = None

    async def pages(self) -> AsyncIterator[list[dict[str, Any]]]:
        """Every page of hits, in order; the next one is already requested when one is yielded."""
        window = 0
        body = self._window_body(window)
        pending: asyncio.Task | None = asyncio.create_task(self._search(body))
        try:
            while pending is not None:
                resp = await pending
                pending = None
                hits = resp["hits"]["hits"]
                if len(hits) == self.page_size:
                    body = {**body, "search_after": hits[-1]["sort"]}
                elif window + 1 < len(self.windows):
                    window += 1
                    body = self._window_body(window)
                else:
                    body = None
                if body is not None:
                    pending = asyncio.create_task(self._search(body))
                if hits:
                    yield hits
        finally:
            if pending is not None:
                pending.cancel()
                with contextlib.suppress(BaseException):
                    await pending

    def _window_body(self, index: int) -> dict[str, Any]:
        query = copy.deepcopy(build_query(self.org, self.q))
        low, high = self.windows[index]
        bounds = {k: v for k, v in (("gte", low), ("lt", high)) if v is not None}
        if bounds:
            query["bool"]["filter"].append({"range": {"timestamp_us": bounds}})
        return {"query": query, "sort": build_sort(self.q), "size": self.page_size,
                "track_total_hits": False}

    async def _search(self, body: dict[str, Any]) -> dict[str, Any]:
        body = {**body, "pit": {"id": self.pit_id, "keep_alive": self.settings.exports_pit_keep_alive}}
        # pre_filter_shard_size=1: shards that cannot hold the window are skipped up front
        resp = await self.client.search(body=body, params={"pre_filter_shard_size": 1})
        self.pit_id = resp.get("pit_id", self.pit_id)
        return resp

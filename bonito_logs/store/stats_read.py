"""``StatsReader``: statistics of one org from the rollups (never from the raw logs).

Which groups answer depends on the group-by and the filters (``plan``): a view
dim when the filters are on the grouped dimension itself (``direct``: one stored
group per point), else the finest ``cell`` (or ``model_cell``) groups, merged.

A direct hourly or daily series reads the dim's day views: one document per day
holding every hour's figures and the day's histograms. Anything else reads the
``full`` documents of its interval. Totals always merge the coarsest histograms
that tile the range exactly (whole days, then hours, then minutes at the edges),
so a 30-day period merges ~30 day histograms, not 720 hour ones.

Every request carries the org's term filter and ``routing=org``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import orjson
from opensearchpy import AsyncOpenSearch
from opensearchpy.exceptions import ConnectionError as OSConnectionError
from opensearchpy.exceptions import ConnectionTimeout, TransportError

from bonito_logs.config import Settings
from bonito_logs.errors import Unavailable
from bonito_logs.schemas import LOG_TYPES
from bonito_logs.store.rollup_docs import (
    COST_SCALE,
    FULL,
    STEP_MS,
    Stats,
    ceil_ms,
    floor_ms,
    indices_between,
    iso_ms,
    split_key,
    view_kind,
)
from bonito_logs.store.stats_request import StatsRequest

Ranges = dict[str, list[tuple[int, int]]]  # granularity -> [start, end) ranges
Select = Callable[[str, str], str | None]  # (part, stored group) -> output group, None: skip
_COARSER = {"minute": "hour", "hour": "day"}


@dataclass(frozen=True)
class Plan:
    """Which documents to read and how their stored groups map to output groups."""

    dim: str
    parts: tuple[str, ...]  # log types, for the cell dim
    select: Select
    direct: bool = False  # each output group is one stored group: stored percentiles serve


def _identity(part: str, group: str) -> str:
    return group


def plan(req: StatsRequest) -> Plan | None:
    """``None`` when the filters exclude everything (models exist for gateway records only)."""
    d, lts, sevs = req.group_by, req.log_types, req.severities
    if d in ("model", "provider"):
        if lts and "gateway" not in lts:
            return None
        if not sevs:
            return Plan(d, ("",), _identity, direct=True)
        index = 0 if d == "model" else 1
        wanted = frozenset(sevs)

        def model_select(part: str, group: str) -> str | None:
            key = orjson.loads(group)
            return key[index] if key[2] in wanted else None

        return Plan("model_cell", ("",), model_select)
    one_dim = {"log_type": lts, "severity": sevs}
    if not lts and not sevs:
        return Plan(d or "total", ("",), _identity, direct=True)
    if d in (None, "log_type", "severity"):
        filtered = [name for name, values in one_dim.items() if values]
        if len(filtered) == 1 and d in (None, filtered[0]):
            dim = filtered[0]
            allowed = frozenset(one_dim[dim])
            if d is None:
                return Plan(dim, ("",), lambda part, group: "" if group in allowed else None)
            return Plan(dim, ("",), lambda part, group: group if group in allowed else None,
                        direct=True)
    lt_ok = lts or LOG_TYPES
    sev_ok = frozenset(sevs) if sevs else None

    def cell_select(part: str, group: str) -> str | None:
        event_type, _, severity = group.partition("|")
        if sev_ok is not None and severity not in sev_ok:
            return None
        if d is None:
            return ""
        return part if d == "log_type" else severity if d == "severity" else event_type

    return Plan("cell", tuple(lt_ok), cell_select)


def cover(start: int, end: int, granularity: str) -> Ranges:
    """The coarsest aligned buckets that tile ``[start, end)`` (aligned to ``granularity``)."""
    coarser = _COARSER.get(granularity)
    if coarser is not None:
        inner_start, inner_end = ceil_ms(start, coarser), floor_ms(end, coarser)
        if inner_start < inner_end:
            out = cover(inner_start, inner_end, coarser)
            edges = [r for r in ((start, inner_start), (inner_end, end)) if r[0] < r[1]]
            if edges:
                out[granularity] = edges
            return out
    return {granularity: [(start, end)]}


def _groups(doc: dict[str, Any], dim: str,
            parts: tuple[str, ...] = ("",)) -> Iterator[tuple[str, str, dict[str, Any]]]:
    """``(part, group, stats)`` of the document's groups of ``dim`` and ``parts``."""
    prefix = f"{dim}:"
    for key, data in doc["groups"].items():
        if key.startswith(prefix):
            _, part, group = split_key(key)
            if part in parts:
                yield part, group, data


def _merged(held: Stats | None, data: dict[str, Any]) -> Stats:
    stats = Stats.from_json(data, with_histogram=False)
    return stats if held is None else held.merge(stats)


def _merge_into(acc: dict[str, Stats], key: str, data: dict[str, Any]) -> None:
    acc[key] = _merged(acc.get(key), data)


def _as_stats(held: Stats | dict[str, Any]) -> Stats:
    return Stats.from_json(held, with_histogram=False) if isinstance(held, dict) else held


def _raw_point(data: dict[str, Any] | list[Any], tokens: bool, timestamp: str) -> dict[str, Any]:
    """``point`` of a stored group, without building a Stats (percentiles stored or derived)."""
    if isinstance(data, list):  # an hour of a view as first stored: [n, e, c, dn, ds, p50, p95, p99]
        n, e, c, dn, ds, p50, p95, p99 = data[:8]
        out = {"timestamp": timestamp, "count": n, "errors": e, "error_rate": e / n if n else 0.0,
               "cost": int(c) / COST_SCALE,
               "duration_ms": {"avg": ds / dn if dn else None, "p50": p50, "p95": p95, "p99": p99}}
        if tokens:
            ti, to, tt = data[8:11] if len(data) > 8 else (0, 0, 0)
            out["tokens"] = {"input": ti, "output": to, "total": tt}
        return out
    n, dn = data["n"], data["dn"]
    pct = data.get("p")
    if pct is None:
        return {"timestamp": timestamp, **point(Stats.from_json(data, with_histogram=False), tokens=tokens)}
    out = {"timestamp": timestamp, "count": n, "errors": data["e"], "error_rate": data["e"] / n if n else 0.0,
           "cost": int(data["c"]) / COST_SCALE,
           "duration_ms": {"avg": data["ds"] / dn if dn else None,
                           "p50": pct[0], "p95": pct[1], "p99": pct[2]}}
    if tokens:
        out["tokens"] = {"input": data.get("ti", 0), "output": data.get("to", 0),
                         "total": data.get("tt", 0)}
    return out


def point(stats: Stats | None, *, tokens: bool) -> dict[str, Any]:
    """The public figures of a Stats (zeros for an empty bucket)."""
    return (stats or Stats()).public(tokens=tokens)


class StatsReader:
    """Org-scoped reads of the rollups; share one per process."""

    def __init__(self, client: AsyncOpenSearch, settings: Settings) -> None:
        self.client = client
        self.settings = settings

    async def fetch(self, org: str,
                    wanted: list[tuple[str, str, list[tuple[int, int]]]]) -> list[list[dict[str, Any]]]:
        """The documents of each ``(kind, granularity, ranges)``: one msearch for all."""
        lines: list[bytes] = []
        for kind, granularity, ranges in wanted:
            indices = sorted({name for a, b in ranges
                              for name in indices_between(self.settings, granularity, a, b)})
            size = sum(b - a for a, b in ranges) // STEP_MS[granularity]
            lines.append(orjson.dumps({"index": ",".join(indices), "routing": org,
                                       "ignore_unavailable": True, "allow_no_indices": True}))
            lines.append(orjson.dumps({
                "size": max(size, 1), "track_total_hits": False,
                "query": {"bool": {"filter": [
                    {"term": {"org_id": org}}, {"term": {"granularity": granularity}},
                    {"term": {"kind": kind}},
                    {"bool": {"should": [{"range": {"bucket": {"gte": a, "lt": b}}} for a, b in ranges],
                              "minimum_should_match": 1}},
                ]}},
            }))
        if not lines:
            return []
        lines.append(b"")
        try:
            # No filter_path: filtering a large response costs OpenSearch more than
            # the few metadata fields it would drop.
            resp = await self.client.msearch(body=b"\n".join(lines))
        except (OSConnectionError, ConnectionTimeout) as exc:
            raise Unavailable(f"OpenSearch is unreachable: {exc}") from exc
        except TransportError as exc:
            if exc.status_code in (429, 503):
                raise Unavailable(f"OpenSearch is busy or not ready: {exc}") from exc
            raise
        answers = resp.get("responses", [])
        if len(answers) != len(wanted):  # every answer carries its status, so none is dropped
            raise Unavailable(f"stats search answered {len(answers)} of {len(wanted)} searches")
        out = []
        for answer in answers:
            if "error" in answer:
                raise Unavailable(f"stats search failed: {answer['error']}")
            out.append([hit["_source"] for hit in answer.get("hits", {}).get("hits", [])])
        return out

    async def _from_full(self, org: str, req: StatsRequest, the_plan: Plan,
                         points: dict[str, dict[int, Any]], totals: dict[str, Stats]) -> None:
        """Points from the full documents of the interval; totals from the coarsest
        full documents that tile the range."""
        tiles = cover(req.start_ms, req.end_ms, req.interval)
        edges = tiles.pop(req.interval, [])
        wanted = [(FULL, req.interval, [(req.start_ms, req.end_ms)])]
        wanted += [(FULL, g, r) for g, r in tiles.items()]
        found = await self.fetch(org, wanted)
        select, dim, parts = the_plan.select, the_plan.dim, the_plan.parts
        for doc in found[0]:
            bucket = doc["bucket"]
            in_edges = any(a <= bucket < b for a, b in edges)
            for part, group, data in _groups(doc, dim, parts):
                out = select(part, group)
                if out is None:
                    continue
                row = points.setdefault(out, {})
                held = row.get(bucket)
                # One stored group per point (the usual case) stays its raw dict.
                row[bucket] = data if held is None else _merged(_as_stats(held), data)
                if in_edges:
                    _merge_into(totals, out, data)
        for docs in found[1:]:
            for doc in docs:
                for part, group, data in _groups(doc, dim, parts):
                    out = select(part, group)
                    if out is not None:
                        _merge_into(totals, out, data)

    async def _from_views(self, org: str, req: StatsRequest, the_plan: Plan,
                          points: dict[str, dict[int, Any]], totals: dict[str, Stats]) -> None:
        """Hours and days of a view dim from its day views (one document per day); the
        totals of whole days from their histograms, of partial days from hour documents."""
        a, b = req.start_ms, req.end_ms
        tiles = cover(a, b, req.interval)
        whole_days = tiles.get("day", [])
        edges = tiles.get("hour", [])
        wanted = [(view_kind(the_plan.dim), "day", [(floor_ms(a, "day"), ceil_ms(b, "day"))])]
        if edges:
            wanted.append((FULL, "hour", edges))
        found = await self.fetch(org, wanted)
        select = the_plan.select
        by_day = req.interval == "day"
        for doc in found[0]:
            day = doc["bucket"]
            if not by_day:
                for hour, groups in doc["hours"].items():
                    ms = int(hour)
                    if a <= ms < b:
                        for group, data in groups.items():
                            out = select("", group)
                            if out is not None:
                                points.setdefault(out, {})[ms] = data
            if any(x <= day < y for x, y in whole_days):
                for group, data in doc["groups"].items():
                    out = select("", group)
                    if out is not None:
                        if by_day:
                            points.setdefault(out, {})[day] = data
                        _merge_into(totals, out, data)
        for docs in found[1:]:
            for doc in docs:
                for part, group, data in _groups(doc, the_plan.dim):
                    out = select(part, group)
                    if out is not None:
                        _merge_into(totals, out, data)

    async def series(self, org: str, req: StatsRequest) -> dict[str, Any]:
        """A time series per group, every bucket present, plus totals per group and overall."""
        step = STEP_MS[req.interval]
        stamps = list(range(req.start_ms, req.end_ms, step))
        tokens = req.group_by in ("model", "provider")
        the_plan = plan(req)
        points: dict[str, dict[int, Stats]] = {}
        totals: dict[str, Stats] = {}
        if the_plan is not None:
            if the_plan.direct and req.interval != "minute":
                await self._from_views(org, req, the_plan, points, totals)
            else:
                await self._from_full(org, req, the_plan, points, totals)
        overall = Stats()
        for stats in totals.values():
            overall.merge(stats)
        order = sorted(points, key=lambda g: (-(totals[g].n if g in totals else 0), g))
        iso = [iso_ms(ts) for ts in stamps]
        zero = point(None, tokens=tokens)  # shared by every empty bucket (read-only)
        series = []
        for group in order:
            row = points[group]
            figures = []
            for i, ts in enumerate(stamps):
                held = row.get(ts)
                if held is None:
                    figures.append({"timestamp": iso[i], **zero})
                elif isinstance(held, dict) and "count" in held:  # a view's hour, as shown
                    figures.append({"timestamp": iso[i], **held})
                elif isinstance(held, dict | list):
                    figures.append(_raw_point(held, tokens, iso[i]))
                else:
                    figures.append({"timestamp": iso[i], **point(held, tokens=tokens)})
            series.append({
                "group": group if req.group_by else None,
                "points": figures,
                "totals": point(totals.get(group), tokens=tokens),
            })
        return {
            "start": iso_ms(req.start_ms), "end": iso_ms(req.end_ms), "interval": req.interval,
            "group_by": req.group_by,
            "filters": {"log_types": list(req.log_types) or None,
                        "severities": list(req.severities) or None},
            "buckets": len(stamps),
            "series": series,
            "totals": point(overall, tokens=tokens),
        }

    async def summary(self, org: str, now_ms: int) -> dict[str, Any]:
        """Rolling last 1 h, 24 h and 7 d (ending with the current minute), each with the
        previous period of the same length and the relative change."""
        end = ceil_ms(now_ms + 1, "minute")
        ranges: dict[str, tuple[int, int]] = {}
        for name, span in WINDOWS:
            ranges[name] = (end - span, end)
            ranges[f"{name}:previous"] = (end - 2 * span, end - span)
        tiles = {name: cover(a, b, "minute") for name, (a, b) in ranges.items()}
        wanted: dict[str, list[tuple[int, int]]] = {}
        for tiling in tiles.values():
            for granularity, parts in tiling.items():
                wanted.setdefault(granularity, []).extend(parts)
        requests = [(FULL, g, _union(r)) for g, r in sorted(wanted.items())]
        found = await self.fetch(org, requests)
        docs = [(granularity, doc) for (_, granularity, _), batch in zip(requests, found, strict=True)
                for doc in batch]
        by_dim: dict[str, dict[str, Stats]] = {}
        for name, tiling in tiles.items():
            accs = {dim: by_dim.setdefault(f"{dim}@{name}", {}) for dim in SUMMARY_DIMS}
            for granularity, doc in docs:
                spans = tiling.get(granularity, ())
                if not any(a <= doc["bucket"] < b for a, b in spans):
                    continue
                for key, data in doc["groups"].items():
                    dim, _, group = split_key(key)
                    acc = accs.get(dim)
                    if acc is not None:
                        _merge_into(acc, group, data)
        windows = {}
        for name, _ in WINDOWS:
            current = by_dim[f"total@{name}"].get("") or Stats()
            previous = by_dim[f"total@{name}:previous"].get("") or Stats()
            now_fig, before = _headline(current), _headline(previous)
            events = by_dim[f"event_type@{name}"]
            models = by_dim[f"model@{name}"]
            windows[name] = {
                "start": iso_ms(ranges[name][0]), "end": iso_ms(ranges[name][1]),
                **now_fig,
                "previous": before,
                "change": {k: _change(now_fig[k], before[k]) for k in now_fig},
                "top_event_types_by_errors": [
                    {"event_type": g, "errors": s.e, "count": s.n, "error_rate": s.e / s.n}
                    for g, s in sorted(events.items(), key=lambda i: (-i[1].e, i[0]))[:TOP] if s.e],
                "top_models_by_cost": [
                    {"model": g or None, "cost": s.c / COST_SCALE, "count": s.n,
                     "tokens": {"input": s.ti, "output": s.to, "total": s.tt}}
                    for g, s in sorted(models.items(), key=lambda i: (-i[1].c, i[0]))[:TOP]],
            }
        return {"generated_at": iso_ms(now_ms - now_ms % 1000), "windows": windows}


WINDOWS: tuple[tuple[str, int], ...] = (("1h", 3_600_000), ("24h", 86_400_000), ("7d", 7 * 86_400_000))
SUMMARY_DIMS: tuple[str, ...] = ("total", "event_type", "model")
TOP = 5


def _union(ranges: list[tuple[int, int]]) -> list[tuple[int, int]]:
    out: list[tuple[int, int]] = []
    for a, b in sorted(ranges):
        if out and a <= out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], b))
        else:
            out.append((a, b))
    return out


def _headline(stats: Stats) -> dict[str, Any]:
    return {"count": stats.n, "errors": stats.e,
            "error_rate": stats.e / stats.n if stats.n else 0.0,
            "cost": stats.c / COST_SCALE, "p95_duration_ms": stats.percentiles()[1]}


def _change(current: float | None, previous: float | None) -> float | None:
    """(current - previous) / previous; ``None`` when there is nothing to compare with."""
    if current is None or previous is None or previous == 0:
        return None
    return (current - previous) / previous

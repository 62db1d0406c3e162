"""``StatsReader``: statistics of one org from the rollups (never from the raw logs).

Which groups answer depends on the group-by and the filters (``plan``): a view
dim when the filters are on the grouped dimension itself (``direct``: one stored
group per point), else the finest ``cell`` (or ``model_cell``) groups, merged.

A direct hourly or daily series reads the dim's day views: one document per day
holding each group's 24 hourly points as the JSON text of the answer (spliced in
without being parsed) and the day's histograms. Anything else reads the ``full``
documents of its interval. Totals always merge the coarsest histograms that tile
the range exactly (whole days, then hours, then minutes at the edges), so a
30-day period merges ~30 day histograms, not 720 hour ones; view days keep theirs
dense, so each merge is one slice addition (``Tally``).

Every request carries the org's term filter and ``routing=org``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, NamedTuple

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
    ceil_ms,
    floor_ms,
    indices_between,
    iso_ms,
    split_key,
    view_kind,
    view_series,
    zero_point,
)
from bonito_logs.store.stats_request import StatsRequest
from bonito_logs.store.stats_tally import Tally

Ranges = dict[str, list[tuple[int, int]]]  # granularity -> [start, end) ranges
Select = Callable[[str, str], str | None]  # (part, stored group) -> output group, None: skip
_COARSER = {"minute": "hour", "hour": "day"}
DAY_MS, HOUR_MS = STEP_MS["day"], STEP_MS["hour"]


class Want(NamedTuple):
    """Rollup documents to read: of a kind and granularity with buckets in ``ranges``;
    ``groups``: only the groups whose keys match one of these patterns (``*`` matches
    anything; all groups when empty)."""

    kind: str
    granularity: str
    ranges: list[tuple[int, int]]
    groups: tuple[str, ...] = ()


@dataclass(frozen=True)
class Plan:
    """Which documents to read and how their stored groups map to output groups."""

    dim: str
    parts: tuple[str, ...]  # log types, for the cell dim
    select: Select
    direct: bool = False  # each output group is one stored group: stored percentiles serve
    # Source filter patterns (``*`` = anything) of the group keys a full document must
    # ship: a filter on severity leaves the other severities' cells in OpenSearch.
    keys: tuple[str, ...] = ()

    @property
    def wanted_keys(self) -> tuple[str, ...]:
        return self.keys or tuple(f"{self.dim}:{part}:*" for part in self.parts)


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

        return Plan("model_cell", ("",), model_select,
                    keys=tuple(f'model_cell::*,"{sev}"]' for sev in sevs))
    one_dim = {"log_type": lts, "severity": sevs}
    if not lts and not sevs:
        return Plan(d or "total", ("",), _identity, direct=True)
    if d in (None, "log_type", "severity"):
        filtered = [name for name, values in one_dim.items() if values]
        if len(filtered) == 1 and d in (None, filtered[0]):
            dim = filtered[0]
            allowed = frozenset(one_dim[dim])
            keys = tuple(f"{dim}::{value}" for value in sorted(allowed))
            if d is None:
                return Plan(dim, ("",), lambda part, group: "" if group in allowed else None, keys=keys)
            return Plan(dim, ("",), lambda part, group: group if group in allowed else None,
                        direct=True, keys=keys)
    lt_ok = lts or LOG_TYPES
    sev_ok = frozenset(sevs) if sevs else None

    def cell_select(part: str, group: str) -> str | None:
        event_type, _, severity = group.partition("|")
        if sev_ok is not None and severity not in sev_ok:
            return None
        if d is None:
            return ""
        return part if d == "log_type" else severity if d == "severity" else event_type

    keys = tuple(f"cell:{lt}:*|{sev}" for lt in lt_ok for sev in sevs) if sevs else ()
    return Plan("cell", tuple(lt_ok), cell_select, keys=keys)


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
    for key, data in doc.get("groups", {}).items():
        if key.startswith(prefix):
            _, part, group = split_key(key)
            if part in parts:
                yield part, group, data


def _add(acc: dict[str, Tally], key: str, data: dict[str, Any], *, histogram: bool = True) -> None:
    held = acc.get(key)
    if held is None:
        held = acc[key] = Tally()
    held.add_json(data, histogram=histogram)


def _raw_point(data: dict[str, Any], tokens: bool, timestamp: str) -> dict[str, Any]:
    """The point of one stored group (percentiles stored, as in views, or derived)."""
    pct = data.get("p")
    if pct is None:
        return {"timestamp": timestamp, **Tally().add_json(data).public(tokens=tokens)}
    n, dn = data["n"], data["dn"]
    out = {"timestamp": timestamp, "count": n, "errors": data["e"], "error_rate": data["e"] / n if n else 0.0,
           "cost": int(data["c"]) / COST_SCALE,
           "duration_ms": {"avg": data["ds"] / dn if dn else None,
                           "p50": pct[0], "p95": pct[1], "p99": pct[2]}}
    if tokens:
        out["tokens"] = {"input": data.get("ti", 0), "output": data.get("to", 0),
                         "total": data.get("tt", 0)}
    return out


def _render(row: dict[int, dict[str, Any] | Tally], stamps: list[int], iso: list[str],
            tokens: bool) -> orjson.Fragment:
    """A group's points (every bucket, zeros when empty) as JSON."""
    zero = Tally().public(tokens=tokens)
    figures = []
    for i, ts in enumerate(stamps):
        held = row.get(ts)
        if held is None:
            figures.append({"timestamp": iso[i], **zero})
        elif isinstance(held, Tally):
            figures.append({"timestamp": iso[i], **held.public(tokens=tokens)})
        else:
            figures.append(_raw_point(held, tokens, iso[i]))
    return orjson.Fragment(orjson.dumps(figures))


def _hours_within(text: str, day: int, start: int, end: int) -> str:
    """The points of ``text`` (a day's 24 hours) within ``[start, end)``, joined, no brackets."""
    if start <= day and day + DAY_MS <= end:
        return text[1:-1]
    lo, hi = max(0, (start - day) // HOUR_MS), min(24, (end - day) // HOUR_MS)
    return orjson.dumps(orjson.loads(text)[lo:hi]).decode()[1:-1] if lo < hi else ""


def _zero_hours(day: int, start: int, end: int, tokens: bool) -> str:
    """Zero points for the hours of ``day`` within ``[start, end)``, joined, no brackets."""
    return _zero_span(max(day, start), min(day + DAY_MS, end), tokens)


@lru_cache(maxsize=1024)  # whole days, mostly: ~3 KB each
def _zero_span(first: int, last: int, tokens: bool) -> str:
    return ",".join(zero_point(iso_ms(ms), tokens) for ms in range(first, last, HOUR_MS))


class StatsReader:
    """Org-scoped reads of the rollups; share one per process."""

    def __init__(self, client: AsyncOpenSearch, settings: Settings) -> None:
        self.client = client
        self.settings = settings

    async def fetch(self, org: str, wanted: list[Want]) -> list[list[dict[str, Any]]]:
        """The documents of each ``Want``: one msearch for all."""
        lines: list[bytes] = []
        for kind, granularity, ranges, groups in wanted:
            indices = sorted({name for a, b in ranges
                              for name in indices_between(self.settings, granularity, a, b)})
            size = sum(b - a for a, b in ranges) // STEP_MS[granularity]
            lines.append(orjson.dumps({"index": ",".join(indices), "routing": org,
                                       "ignore_unavailable": True, "allow_no_indices": True}))
            lines.append(orjson.dumps({
                "size": max(size, 1), "track_total_hits": False,
                **({"_source": {"includes": ["bucket", *(f"groups.{g}" for g in groups)]}} if groups else {}),
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

    async def _from_full(self, org: str, req: StatsRequest, the_plan: Plan, tokens: bool,
                         stamps: list[int]) -> tuple[dict[str, orjson.Fragment], dict[str, Tally]]:
        """Points from the full documents of the interval; totals from the coarsest
        full documents that tile the range."""
        tiles = cover(req.start_ms, req.end_ms, req.interval)
        edges = tiles.pop(req.interval, [])
        select, dim, parts = the_plan.select, the_plan.dim, the_plan.parts
        # Only the plan's groups travel: a full document holds every dim's.
        groups = the_plan.wanted_keys
        wanted = [Want(FULL, req.interval, [(req.start_ms, req.end_ms)], groups)]
        wanted += [Want(FULL, g, r, groups) for g, r in tiles.items()]
        found = await self.fetch(org, wanted)
        points: dict[str, dict[int, dict[str, Any] | Tally]] = {}
        totals: dict[str, Tally] = {}
        for doc in found[0]:
            bucket = doc["bucket"]
            in_edges = any(a <= bucket < b for a, b in edges)
            for part, group, data in _groups(doc, dim, parts):
                out = select(part, group)
                if out is None:
                    continue
                row = points.setdefault(out, {})
                held = row.get(bucket)
                # One stored group per point (the usual case) stays its stored dict.
                if held is None:
                    row[bucket] = data
                else:
                    row[bucket] = (held if isinstance(held, Tally) else Tally().add_json(held)).add_json(data)
                if in_edges:
                    _add(totals, out, data)
        for docs in found[1:]:
            for doc in docs:
                for part, group, data in _groups(doc, dim, parts):
                    out = select(part, group)
                    if out is not None:
                        _add(totals, out, data)
        iso = [iso_ms(ts) for ts in stamps]
        return {g: _render(row, stamps, iso, tokens) for g, row in points.items()}, totals

    async def _from_views(self, org: str, req: StatsRequest, the_plan: Plan, tokens: bool,
                          stamps: list[int]) -> tuple[dict[str, orjson.Fragment], dict[str, Tally]]:
        """Hours and days of a view dim from its day views (one document per day); the
        totals of whole days from their dense histograms, of partial days from hour
        documents. Hourly points are the views' stored JSON, spliced without parsing."""
        a, b = req.start_ms, req.end_ms
        edges = cover(a, b, req.interval).get("hour", [])
        first_day, last_day = floor_ms(a, "day"), ceil_ms(b, "day")
        wanted = [Want(view_kind(the_plan.dim), "day", [(first_day, last_day)])]
        if edges:
            wanted.append(Want(FULL, "hour", edges, (f"{the_plan.dim}::*",)))
        found = await self.fetch(org, wanted)
        select = the_plan.select
        by_day = req.interval == "day"
        days: dict[str, dict[int, Any]] = {}  # group -> day -> its points (text) or figures
        totals: dict[str, Tally] = {}
        for doc in found[0]:
            day = doc["bucket"]
            whole = a <= day and day + DAY_MS <= b
            if not by_day:
                for group, text in view_series(doc, tokens).items():
                    out = select("", group)
                    if out is not None:
                        days.setdefault(out, {})[day] = _hours_within(text, day, a, b)
            if whole:
                for group, data in doc["groups"].items():
                    out = select("", group)
                    if out is not None:
                        if by_day:
                            days.setdefault(out, {})[day] = data
                        _add(totals, out, data)
        for docs in found[1:]:
            for doc in docs:
                for part, group, data in _groups(doc, the_plan.dim):
                    out = select(part, group)
                    if out is not None:
                        _add(totals, out, data)
        if by_day:
            iso = [iso_ms(ts) for ts in stamps]
            return {g: _render(row, stamps, iso, tokens) for g, row in days.items()}, totals
        rows = {}
        for group, pieces in days.items():
            texts = [pieces.get(day) or _zero_hours(day, a, b, tokens)
                     for day in range(first_day, last_day, DAY_MS)]
            rows[group] = orjson.Fragment(f"[{','.join(t for t in texts if t)}]")
        return rows, totals

    async def series_json(self, org: str, req: StatsRequest) -> bytes:
        """``GET /api/logs/stats``: a time series per group, every bucket present, plus
        totals per group and overall, as JSON."""
        stamps = list(range(req.start_ms, req.end_ms, STEP_MS[req.interval]))
        tokens = req.group_by in ("model", "provider")
        the_plan = plan(req)
        rows: dict[str, orjson.Fragment] = {}
        totals: dict[str, Tally] = {}
        if the_plan is not None:
            read = self._from_views if the_plan.direct and req.interval != "minute" else self._from_full
            rows, totals = await read(org, req, the_plan, tokens, stamps)
        overall = Tally()
        for tally in totals.values():
            overall.merge(tally)
        groups = sorted(rows.keys() | totals.keys(), key=lambda g: (-(totals[g].n if g in totals else 0), g))
        zero = None
        series = []
        for group in groups:
            points = rows.get(group)
            if points is None:  # counted in the totals, no points stored (a view catching up)
                zero = zero or _render({}, stamps, [iso_ms(ts) for ts in stamps], tokens)
                points = zero
            held = totals.get(group) or Tally()
            series.append({"group": group if req.group_by else None, "points": points,
                           "totals": held.public(tokens=tokens)})
        return orjson.dumps({
            "start": iso_ms(req.start_ms), "end": iso_ms(req.end_ms), "interval": req.interval,
            "group_by": req.group_by,
            "filters": {"log_types": list(req.log_types) or None,
                        "severities": list(req.severities) or None},
            "buckets": len(stamps),
            "series": series,
            "totals": overall.public(tokens=tokens),
        })

    async def series(self, org: str, req: StatsRequest) -> dict[str, Any]:
        """``series_json``, parsed."""
        return orjson.loads(await self.series_json(org, req))

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
        requests = [Want(FULL, g, _union(r), tuple(f"{d}::*" for d in SUMMARY_DIMS))
                    for g, r in sorted(wanted.items())]
        found = await self.fetch(org, requests)
        docs = [(want.granularity, doc) for want, batch in zip(requests, found, strict=True)
                for doc in batch]
        # The summary's groups of each document, picked out once (not once per window).
        picked = [(granularity, doc["bucket"],
                   [(dim, group, data) for dim, _, group, data in
                    ((*split_key(key), data) for key, data in doc.get("groups", {}).items())
                    if dim in SUMMARY_DIMS])
                  for granularity, doc in docs]
        by_dim: dict[str, dict[str, Tally]] = {}
        for name, tiling in tiles.items():
            accs = {dim: by_dim.setdefault(f"{dim}@{name}", {}) for dim in SUMMARY_DIMS}
            for granularity, bucket, groups in picked:
                spans = tiling.get(granularity, ())
                if not any(a <= bucket < b for a, b in spans):
                    continue
                for dim, group, data in groups:
                    # Only the total's p95 is shown: other dims skip their histograms.
                    _add(accs[dim], group, data, histogram=dim == "total")
        windows = {}
        for name, _ in WINDOWS:
            current = by_dim[f"total@{name}"].get("") or Tally()
            previous = by_dim[f"total@{name}:previous"].get("") or Tally()
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


def _headline(stats: Tally) -> dict[str, Any]:
    return {"count": stats.n, "errors": stats.e,
            "error_rate": stats.e / stats.n if stats.n else 0.0,
            "cost": stats.c / COST_SCALE, "p95_duration_ms": stats.percentiles()[1]}


def _change(current: float | None, previous: float | None) -> float | None:
    """(current - previous) / previous; ``None`` when there is nothing to compare with."""
    if current is None or previous is None or previous == 0:
        return None
    return (current - previous) / previous

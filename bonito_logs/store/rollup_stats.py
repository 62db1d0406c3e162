"""``Stats``: the additive statistics of a set of log records, and what one record adds.

Counts, errors and tokens are integers; costs are integers of ``1 / COST_SCALE``,
so sums are exact whatever the order; durations keep a sum, min, max and a
``sketch`` histogram. ``merge`` is exact and associative, which is what lets any
period be answered from the rollups of its minutes, hours and days.
"""

from __future__ import annotations

import math
from typing import Any, NamedTuple

import orjson

from bonito_logs.store import sketch

ERROR_SEVERITIES = frozenset({"error", "critical"})
COST_SCALE = 10 ** 12  # costs are summed as integers of 1e-12: exact, order-independent
MAX_NAME_CHARS = 256  # model / provider names longer than this are cut
_I64 = 2 ** 63 - 1


# -- Stats ------------------------------------------------------------------------------
class Stats:
    """Additive statistics of a set of records; ``merge`` is exact and associative."""

    __slots__ = ("n", "e", "c", "dn", "ds", "mn", "mx", "h", "ti", "to", "tt", "_flat", "_p")

    def __init__(self) -> None:
        self.n = 0  # records
        self.e = 0  # records of severity error or critical
        self.c = 0  # cost, in units of 1 / COST_SCALE
        self.dn = 0  # records with a duration
        self.ds = 0.0  # duration sum (ms)
        self.mn: float | None = None
        self.mx: float | None = None
        self.h: sketch.Histogram = {}
        self.ti = 0  # tokens (gateway): input, output, total
        self.to = 0
        self.tt = 0
        self._flat: list[int] | None = None  # h as stored runs, and its percentiles, until h changes
        self._p: list[float | None] | None = None

    def add(self, contribution: Contribution) -> None:
        error, cost, d, b, ti, to, tt = contribution
        if self._flat and not self.h:
            self._hist()
        self.n += 1
        self.e += error
        self.c += cost
        if d is not None:
            self.dn += 1
            self.ds += d
            mn = self.mn
            if mn is None or d < mn:
                self.mn = d
            mx = self.mx
            if mx is None or d > mx:
                self.mx = d
            h = self.h
            h[b] = h.get(b, 0) + 1
            self._flat = self._p = None
        if ti or to or tt:
            self.ti += ti
            self.to += to
            self.tt += tt

    def _hist(self) -> sketch.Histogram:
        """``h``, decoded from the stored runs on first use (reads parse lazily)."""
        if not self.h and self._flat:
            self.h = sketch.from_runs(self._flat)
        return self.h

    def merge(self, other: Stats) -> Stats:
        self.n += other.n
        self.e += other.e
        self.c += other.c
        self.dn += other.dn
        self.ds += other.ds
        if other.mn is not None and (self.mn is None or other.mn < self.mn):
            self.mn = other.mn
        if other.mx is not None and (self.mx is None or other.mx > self.mx):
            self.mx = other.mx
        if other.h:
            sketch.merge_into(self._hist(), other.h)
            self._flat = self._p = None
        elif other._flat:
            sketch.merge_runs_into(self._hist(), other._flat)
            self._flat = self._p = None
        self.ti += other.ti
        self.to += other.to
        self.tt += other.tt
        return self

    def percentiles(self) -> list[float | None]:
        """p50, p95, p99 of the durations (nearest rank, within ``sketch.ALPHA``)."""
        if self._p is None:
            self._p = sketch.percentiles(self._hist(), lo=self.mn, hi=self.mx)
        return self._p

    @property
    def cost(self) -> float:
        return self.c / COST_SCALE

    def to_json(self, *, with_percentiles: bool = True, with_histogram: bool = True,
                dense: bool = False) -> dict[str, Any]:
        """``dense``: the histogram as ``sketch.to_dense`` (``"d"``, what view days
        store for fast merging) instead of runs (``"r"``)."""
        out: dict[str, Any] = {"n": self.n, "e": self.e, "c": self.c if self.c <= _I64 else str(self.c),
                               "dn": self.dn, "ds": _round(self.ds, 12), "mn": self.mn, "mx": self.mx}
        if with_histogram and dense:
            out["d"] = sketch.to_dense(self._hist())
        elif with_histogram:
            if self._flat is None:
                self._flat = sketch.to_runs(self.h)
            out["r"] = self._flat
        if with_percentiles:
            out["p"] = [_round(v, 7) for v in self.percentiles()]
        if self.ti or self.to or self.tt:
            out.update(ti=self.ti, to=self.to, tt=self.tt)
        return out

    def public(self, *, tokens: bool, rounded: bool = False) -> dict[str, Any]:
        """The API's figures (a point without its timestamp). ``rounded``: percentiles and
        the average to 7 and 9 digits, as stored in a view's hours."""
        n = self.n
        p50, p95, p99 = self.percentiles() if n else (None, None, None)
        avg = self.ds / self.dn if self.dn else None
        if rounded:
            p50, p95, p99, avg = _round(p50, 7), _round(p95, 7), _round(p99, 7), _round(avg, 9)
        out = {"count": n, "errors": self.e, "error_rate": self.e / n if n else 0.0,
               "cost": self.c / COST_SCALE,
               "duration_ms": {"avg": avg, "p50": p50, "p95": p95, "p99": p99}}
        if tokens:
            out["tokens"] = {"input": self.ti, "output": self.to, "total": self.tt}
        return out

    @classmethod
    def from_json(cls, data: dict[str, Any], *, with_histogram: bool = True) -> Stats:
        s = cls()
        s.n, s.e, s.c = data["n"], data["e"], int(data["c"])
        s.dn, s.ds, s.mn, s.mx = data["dn"], data["ds"], data["mn"], data["mx"]
        runs = data.get("r")
        if runs is not None:
            s._flat = runs
            if with_histogram:
                s.h = sketch.from_runs(runs)
        elif data.get("d") is not None:
            s.h = sketch.from_dense(data["d"])
        elif data.get("h"):  # bucket/count pairs, the first layout
            s.h = sketch.from_flat(data["h"])
        if data.get("p") is not None:
            s._p = data["p"]
        s.ti, s.to, s.tt = data.get("ti", 0), data.get("to", 0), data.get("tt", 0)
        return s


def _round(value: float | None, digits: int) -> float | None:
    """``value`` to ``digits`` significant digits: shorter JSON, far inside the error bound."""
    return value if value is None or value == 0 else float(f"{value:.{digits}g}")


class Contribution(NamedTuple):
    """What one record adds to every Stats it belongs to (computed once per record)."""

    error: int
    cost: int
    duration: float | None
    bucket: int
    tokens_in: int = 0
    tokens_out: int = 0
    tokens_total: int = 0


def cost_units(cost: float | None) -> int:
    return 0 if cost is None else round(cost * COST_SCALE)


def _int(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return 0
    if isinstance(value, float) and not math.isfinite(value):
        return 0
    return int(value)


def _name(value: Any) -> str:
    if value is None:
        return ""
    text = value if isinstance(value, str) else orjson.dumps(value).decode()
    return text[:MAX_NAME_CHARS]


def contribution(record: dict[str, Any]) -> Contribution:
    d = record.get("duration_ms")
    meta = record.get("metadata") or {}
    tokens = (0, 0, 0)
    if record["log_type"] == "gateway" and isinstance(meta, dict):
        tokens = (_int(meta.get("input_tokens")), _int(meta.get("output_tokens")),
                  _int(meta.get("total_tokens")))
    return Contribution(
        error=1 if record["severity"] in ERROR_SEVERITIES else 0,
        cost=cost_units(record.get("cost")),
        duration=d,
        bucket=sketch.bucket_of(d) if d is not None else 0,
        tokens_in=tokens[0], tokens_out=tokens[1], tokens_total=tokens[2],
    )

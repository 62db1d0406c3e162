"""``Tally``: totals of stored rollup groups, summed as the stats API reads them.

A reader sums a group's figures over many documents (30 day views for a 30-day
total) and needs the result once; building a ``Stats`` per stored group and
merging dict histograms costs a Python loop per bucket. A ``Tally`` adds the
stored JSON directly and keeps its histogram as a ``sketch.DenseSum``, so a dense
histogram of a view day merges as one slice addition. Its figures are exactly
those ``Stats.public`` gives for the same records.
"""

from __future__ import annotations

from typing import Any

from bonito_logs.store import sketch
from bonito_logs.store.rollup_stats import COST_SCALE


class Tally:
    __slots__ = ("n", "e", "c", "dn", "ds", "mn", "mx", "ti", "to", "tt", "hist")

    def __init__(self) -> None:
        self.n = self.e = self.c = self.dn = 0
        self.ds = 0.0
        self.mn: float | None = None
        self.mx: float | None = None
        self.ti = self.to = self.tt = 0
        self.hist = sketch.DenseSum()

    def add_json(self, data: dict[str, Any], *, histogram: bool = True) -> Tally:
        """Add a stored group (``Stats.to_json``: histogram dense, as runs or as pairs);
        ``histogram=False`` when no percentile of this tally will be shown."""
        self.n += data["n"]
        self.e += data["e"]
        self.c += int(data["c"])
        self.dn += data["dn"]
        self.ds += data["ds"]
        self._extremes(data["mn"], data["mx"])
        dense = data.get("d") if histogram else None
        if dense is not None:
            self.hist.add(dense)
        elif not histogram:
            pass
        elif data.get("r"):
            self.hist.add(sketch.runs_to_dense(data["r"]))
        elif data.get("h"):
            self.hist.add_histogram(sketch.from_flat(data["h"]))
        self.ti += data.get("ti", 0)
        self.to += data.get("to", 0)
        self.tt += data.get("tt", 0)
        return self

    def merge(self, other: Tally) -> Tally:
        self.n += other.n
        self.e += other.e
        self.c += other.c
        self.dn += other.dn
        self.ds += other.ds
        self._extremes(other.mn, other.mx)
        self.hist.merge(other.hist)
        self.ti += other.ti
        self.to += other.to
        self.tt += other.tt
        return self

    def _extremes(self, mn: float | None, mx: float | None) -> None:
        if mn is not None and (self.mn is None or mn < self.mn):
            self.mn = mn
        if mx is not None and (self.mx is None or mx > self.mx):
            self.mx = mx

    def percentiles(self) -> list[float | None]:
        return self.hist.percentiles(lo=self.mn, hi=self.mx)

    def public(self, *, tokens: bool) -> dict[str, Any]:
        """The API's figures, as ``Stats.public`` shows them."""
        n = self.n
        p50, p95, p99 = self.percentiles() if n else (None, None, None)
        out = {"count": n, "errors": self.e, "error_rate": self.e / n if n else 0.0,
               "cost": self.c / COST_SCALE,
               "duration_ms": {"avg": self.ds / self.dn if self.dn else None,
                               "p50": p50, "p95": p95, "p99": p99}}
        if tokens:
            out["tokens"] = {"input": self.ti, "output": self.to, "total": self.tt}
        return out

"""The latency histogram of the rollups: fixed log-scale buckets, sparse, mergeable.

A duration ``v > 0`` falls in bucket ``ceil(log_γ v)`` with ``γ = (1 + α) / (1 - α)``,
i.e. bucket ``i`` holds ``(γ^(i-1), γ^i]`` and is represented by ``2 γ^i / (γ + 1)``,
which is within ``α`` (relative) of every value in it. ``v == 0`` has its own
bucket. The buckets are the same for every histogram, so merging is adding
counts per bucket: associative, commutative, exact.

Percentiles are nearest-rank: the ``p``-th percentile of ``n`` values is the
``ceil(p/100 * n)``-th smallest (rank 1 at least). On the histogram that is the
representative of the bucket where the cumulative count reaches that rank, so it
is within ``α`` of the exact nearest-rank value; clamping to the exact min/max
keeps that bound and makes p0/p100 exact.

A histogram is a ``dict[int, int]`` (bucket → count) in memory and, in documents,
runs: ``[first bucket, count, count, -gap, count, ...]`` (counts of consecutive
buckets; a negative number skips that many empty ones): about a third of the
bytes of bucket/count pairs for the dense histograms of busy days.
"""

from __future__ import annotations

import math
import operator
import sys
from bisect import bisect_left
from collections.abc import Iterable, Sequence
from itertools import accumulate

ALPHA = 0.015  # relative error bound of every percentile (the API promises 2 %)
GAMMA = (1 + ALPHA) / (1 - ALPHA)
_LOG_GAMMA = math.log(GAMMA)
_LOG_SCALE = math.log(2.0 / (GAMMA + 1.0))
ZERO_BUCKET = -1_000_000  # below every positive double's bucket (about -24,000)
PERCENTILES: tuple[float, ...] = (50.0, 95.0, 99.0)

Histogram = dict[int, int]


def bucket_of(value: float) -> int:
    """The bucket of a duration ``>= 0`` (the schema allows no negative durations)."""
    if value <= 0.0:
        return ZERO_BUCKET
    return math.ceil(math.log(value) / _LOG_GAMMA)


def representative(bucket: int) -> float:
    """The value a bucket stands for (within ``ALPHA`` of every value in it)."""
    if bucket == ZERO_BUCKET:
        return 0.0
    try:  # in log space: the top bucket's edge is past the largest double
        return math.exp(bucket * _LOG_GAMMA + _LOG_SCALE)
    except OverflowError:
        return sys.float_info.max


def add(hist: Histogram, value: float, count: int = 1) -> None:
    b = bucket_of(value)
    hist[b] = hist.get(b, 0) + count


def merge_into(target: Histogram, other: Histogram) -> Histogram:
    """Add ``other``'s counts to ``target`` (in place) and return it."""
    get = target.get
    for b, c in other.items():
        target[b] = get(b, 0) + c
    return target


def merge_flat_into(target: Histogram, flat: Sequence[int]) -> Histogram:
    """Add a document's flat ``[bucket, count, ...]`` list to ``target`` (in place)."""
    get = target.get
    it = iter(flat)
    for b in it:
        target[b] = get(b, 0) + next(it)
    return target


def to_flat(hist: Histogram) -> list[int]:
    out: list[int] = []
    for b in sorted(hist):
        c = hist[b]
        if c:
            out.append(b)
            out.append(c)
    return out


def from_flat(flat: Sequence[int] | None) -> Histogram:
    return merge_flat_into({}, flat) if flat else {}


def to_runs(hist: Histogram) -> list[int]:
    out: list[int] = []
    prev: int | None = None
    for b in sorted(hist):
        c = hist[b]
        if c <= 0:
            continue
        if prev is None:
            out.append(b)
        elif b > prev + 1:
            out.append(prev + 1 - b)
        out.append(c)
        prev = b
    return out


def merge_runs_into(target: Histogram, runs: Sequence[int]) -> Histogram:
    """Add a document's runs to ``target`` (in place)."""
    if not runs:
        return target
    it = iter(runs)
    b = next(it)
    get = target.get
    for c in it:
        if c < 0:
            b -= c
        else:
            target[b] = get(b, 0) + c
            b += 1
    return target


def from_runs(runs: Sequence[int] | None) -> Histogram:
    return merge_runs_into({}, runs) if runs else {}


def rank(p: float, n: int) -> int:
    """Nearest rank (1-based) of the ``p``-th percentile among ``n`` values."""
    return min(n, max(1, math.ceil(p / 100.0 * n - 1e-9)))


def percentiles(hist: Histogram, ps: Iterable[float] = PERCENTILES, *,
                lo: float | None = None, hi: float | None = None) -> list[float | None]:
    """Nearest-rank percentiles of the histogram (``None`` each when it is empty),
    clamped into ``[lo, hi]`` (the exact min and max) when given."""
    ps = list(ps)
    n = sum(hist.values())
    if n <= 0:
        return [None] * len(ps)
    targets = sorted((rank(p, n), i) for i, p in enumerate(ps))
    out: list[float | None] = [None] * len(ps)
    k = 0
    seen = 0
    for b in sorted(hist):
        seen += hist[b]
        while k < len(targets) and seen >= targets[k][0]:
            value = representative(b)
            if lo is not None and value < lo:
                value = lo
            if hi is not None and value > hi:
                value = hi
            out[targets[k][1]] = value
            k += 1
        if k == len(targets):
            break
    return out


def exact_percentile(values: Sequence[float], p: float) -> float:
    """The nearest-rank percentile of raw values: what the histogram approximates."""
    ordered = sorted(values)
    return ordered[rank(p, len(ordered)) - 1]


# -- dense layout: what a view's day groups store, merged fast when reading ---------------
# ``[zeros, first, c_first, c_first+1, ...]``: the zero bucket's count, then the counts
# of every bucket from the first to the last non-empty one (zeros in between). Longer
# than runs, but merging two is one slice addition in C rather than a loop in Python,
# which is what a 30-day total over day views does a few hundred times per request.
def to_dense(hist: Histogram) -> list[int]:
    zeros = hist.get(ZERO_BUCKET, 0)
    buckets = [b for b, c in hist.items() if c > 0 and b != ZERO_BUCKET]
    if not buckets:
        return [zeros] if zeros else []
    lo = min(buckets)
    counts = [0] * (max(buckets) - lo + 1)
    for b in buckets:
        counts[b - lo] = hist[b]
    return [zeros, lo, *counts]


def runs_to_dense(runs: Sequence[int] | None) -> list[int]:
    """``to_dense(from_runs(runs))``, without the dict."""
    if not runs:
        return []
    zeros = first = 0
    b = runs[0]
    counts: list[int] = []
    for c in runs[1:]:
        if c < 0:  # a gap of -c empty buckets
            if counts:
                counts.extend([0] * -c)
            b -= c
            continue
        if b == ZERO_BUCKET:
            zeros = c
        else:
            if not counts:
                first = b
            counts.append(c)
        b += 1
    return [zeros, first, *counts] if counts else ([zeros] if zeros else [])


def from_dense(dense: Sequence[int] | None) -> Histogram:
    out: Histogram = {}
    if not dense:
        return out
    if dense[0]:
        out[ZERO_BUCKET] = dense[0]
    if len(dense) > 2:
        lo = dense[1]
        for i, c in enumerate(dense[2:]):
            if c:
                out[lo + i] = c
    return out


class DenseSum:
    """A histogram summed from dense layouts (and, rarely, from dicts)."""

    __slots__ = ("zeros", "lo", "counts")

    def __init__(self) -> None:
        self.zeros = 0
        self.lo = 0
        self.counts: list[int] = []

    def add(self, dense: Sequence[int] | None) -> None:
        if not dense:
            return
        self.zeros += dense[0]
        if len(dense) > 2:
            self._add_counts(dense[1], dense[2:])

    def add_histogram(self, hist: Histogram) -> None:
        self.add(to_dense(hist))

    def merge(self, other: DenseSum) -> None:
        self.zeros += other.zeros
        if other.counts:
            self._add_counts(other.lo, other.counts)

    def _add_counts(self, first: int, seg: Sequence[int]) -> None:
        counts = self.counts
        if not counts:
            self.lo, self.counts = first, list(seg)
            return
        if first < self.lo:
            counts[:0] = [0] * (self.lo - first)
            self.lo = first
        start = first - self.lo
        end = start + len(seg)
        if end > len(counts):
            counts.extend([0] * (end - len(counts)))
        counts[start:end] = map(operator.add, counts[start:end], seg)

    def percentiles(self, ps: Iterable[float] = PERCENTILES, *,
                    lo: float | None = None, hi: float | None = None) -> list[float | None]:
        """The same figures ``percentiles`` gives for the equal dict histogram."""
        ps = list(ps)
        cumulative = list(accumulate(self.counts, initial=self.zeros))
        n = cumulative[-1]
        if n <= 0:
            return [None] * len(ps)
        out: list[float | None] = []
        for p in ps:
            i = bisect_left(cumulative, rank(p, n))
            value = 0.0 if i == 0 else representative(self.lo + i - 1)
            if lo is not None and value < lo:
                value = lo
            if hi is not None and value > hi:
                value = hi
            out.append(value)
        return out

"""The latency histogram: error bound across the range, exact merges, nearest-rank percentiles."""

from __future__ import annotations

import math
import random

import pytest

from bonito_logs.store import sketch
from bonito_logs.store.rollup_docs import Contribution, Stats

BOUND = 0.02  # what the API promises


def test_every_value_is_within_two_percent_of_its_bucket_across_the_range():
    rng = random.Random(1)
    values = [10 ** rng.uniform(-6, 9) for _ in range(50_000)]
    values += [sketch.GAMMA ** i for i in range(-900, 1400, 7)]  # bucket edges
    values += [math.nextafter(sketch.GAMMA ** i, math.inf) for i in range(-900, 1400, 7)]
    values += [1e-300, 5e-324, 1e300, 1.7976931348623157e308]
    worst = 0.0
    for v in values:
        rep = sketch.representative(sketch.bucket_of(v))
        worst = max(worst, abs(rep - v) / v)
    assert worst <= sketch.ALPHA * (1 + 1e-9) <= BOUND


def test_zero_has_its_own_bucket():
    assert sketch.bucket_of(0.0) == sketch.ZERO_BUCKET
    assert sketch.representative(sketch.ZERO_BUCKET) == 0.0
    assert sketch.bucket_of(5e-324) > sketch.ZERO_BUCKET


def _hist(rng: random.Random, n: int) -> sketch.Histogram:
    h: sketch.Histogram = {}
    for _ in range(n):
        sketch.add(h, 0.0 if rng.random() < 0.05 else 10 ** rng.uniform(-2, 6))
    return h


def test_histogram_merge_is_associative_and_commutative():
    rng = random.Random(2)
    a, b, c = _hist(rng, 500), _hist(rng, 300), _hist(rng, 1)
    left = sketch.merge_into(sketch.merge_into(dict(a), b), c)
    right = sketch.merge_into(dict(a), sketch.merge_into(dict(b), c))
    swapped = sketch.merge_into(sketch.merge_into(dict(c), b), a)
    assert left == right == swapped
    assert sum(left.values()) == 801


def test_flat_encoding_round_trips_and_merges_like_the_dict():
    h = _hist(random.Random(3), 1000)
    flat = sketch.to_flat(h)
    assert flat[::2] == sorted(flat[::2])
    assert sketch.from_flat(flat) == h
    assert sketch.merge_flat_into(dict(h), flat) == {b: 2 * c for b, c in h.items()}


def test_runs_round_trip_sparse_dense_and_zero():
    for h in (_hist(random.Random(5), 3000), {sketch.ZERO_BUCKET: 2, -5: 1, 300: 4}, {7: 1}, {}):
        runs = sketch.to_runs(h)
        assert sketch.from_runs(runs) == h
        assert sketch.merge_runs_into(dict(h), runs) == {b: 2 * c for b, c in h.items()}
    dense = {b: 1 for b in range(100, 400)}
    assert len(sketch.to_runs(dense)) == 301  # first bucket + 300 counts, no bucket numbers


def _stats(values: list[float | None], errors: int = 0) -> Stats:
    s = Stats()
    for i, v in enumerate(values):
        s.add(Contribution(int(i < errors), 1, v, sketch.bucket_of(v) if v is not None else 0))
    return s


def test_stats_merge_is_associative():
    rng = random.Random(4)
    parts = [[10 ** rng.uniform(-1, 5) if rng.random() < 0.9 else None for _ in range(k)]
             for k in (0, 1, 40, 300)]

    def fields(s: Stats):
        return (s.n, s.e, s.c, s.dn, round(s.ds, 6), s.mn, s.mx, s.h, s.percentiles())

    a, b, c, d = (_stats(p, errors=3) for p in parts)
    left = _stats(parts[0], 3).merge(_stats(parts[1], 3)).merge(_stats(parts[2], 3)).merge(_stats(parts[3], 3))
    right = a.merge(b.merge(c.merge(d)))
    whole = _stats(parts[0] + parts[1] + parts[2] + parts[3])
    assert fields(left) == fields(right)
    assert (left.n, left.dn, left.h, left.mn, left.mx) == (whole.n, whole.dn, whole.h, whole.mn, whole.mx)


@pytest.mark.parametrize("n", [1, 2, 3, 7, 100, 5_000])
def test_percentiles_are_within_the_bound_of_the_exact_nearest_rank(n):
    rng = random.Random(n)
    values = [10 ** rng.uniform(-3, 7) for _ in range(n)]
    if n > 3:
        values[: n // 20] = [0.0] * (n // 20)
    h: sketch.Histogram = {}
    for v in values:
        sketch.add(h, v)
    ps = (0.1, 1, 25, 50, 90, 95, 99, 99.9, 100)
    got = sketch.percentiles(h, ps, lo=min(values), hi=max(values))
    for p, value in zip(ps, got, strict=True):
        exact = sketch.exact_percentile(values, p)
        assert abs(value - exact) <= BOUND * exact, (p, value, exact)
    assert got[-1] == max(values)  # clamped to the exact max


def test_nearest_rank_definition():
    assert [sketch.rank(p, 100) for p in (0.5, 1, 50, 95, 99, 100)] == [1, 1, 50, 95, 99, 100]
    assert [sketch.rank(p, 3) for p in (1, 34, 50, 67, 100)] == [1, 2, 2, 3, 3]
    assert sketch.exact_percentile([5, 1, 3, 2, 4], 50) == 3
    assert sketch.percentiles({}) == [None, None, None]


@pytest.mark.parametrize("seed", range(20))
def test_dense_sums_give_the_percentiles_of_the_merged_dict_histogram(seed):
    """What a reader sums from view days (dense, any order) equals the dict merge."""
    rng = random.Random(seed)
    parts = [_hist(rng, rng.choice([0, 1, 3, 50, 400])) for _ in range(rng.randint(1, 12))]
    if seed == 0:
        parts.append({sketch.ZERO_BUCKET: 3})  # zeros only
    whole: sketch.Histogram = {}
    for part in parts:
        sketch.merge_into(whole, part)
    assert sketch.from_dense(sketch.to_dense(whole)) == {b: c for b, c in whole.items() if c}
    for part in (*parts, whole):
        assert sketch.runs_to_dense(sketch.to_runs(part)) == sketch.to_dense(part)
    summed = sketch.DenseSum()
    for part in rng.sample(parts, len(parts)):
        summed.add(sketch.to_dense(part))
    ps = (0.0, 1.0, 50.0, 95.0, 99.0, 100.0)
    lo, hi = (0.0, 2e6) if seed % 2 else (None, None)
    assert summed.percentiles(ps, lo=lo, hi=hi) == sketch.percentiles(whole, ps, lo=lo, hi=hi)
    halves = sketch.DenseSum(), sketch.DenseSum()
    for i, part in enumerate(parts):
        halves[i % 2].add_histogram(part)
    halves[0].merge(halves[1])
    assert halves[0].percentiles(ps) == sketch.percentiles(whole, ps)


def test_an_empty_dense_sum_has_no_percentiles():
    summed = sketch.DenseSum()
    summed.add([])
    summed.add(None)
    assert summed.percentiles() == [None, None, None]
    assert sketch.to_dense({}) == [] and sketch.from_dense([]) == {}


def test_a_tally_of_stored_groups_shows_what_merged_stats_show():
    """The reader's totals (``Tally`` over stored JSON, dense or runs) equal ``Stats``."""
    from bonito_logs.store.stats_tally import Tally

    rng = random.Random(7)
    groups = []
    for _ in range(9):
        s = Stats()
        for _ in range(rng.randint(0, 300)):
            d = None if rng.random() < 0.1 else 10 ** rng.uniform(0, 4)
            s.add(Contribution(error=rng.random() < 0.2, cost=rng.randint(0, 10 ** 9), duration=d,
                               bucket=sketch.bucket_of(d) if d is not None else 0,
                               tokens_in=3, tokens_out=4, tokens_total=7))
        groups.append(s)
    merged, tally = Stats(), Tally()
    for i, s in enumerate(groups):
        merged.merge(Stats.from_json(s.to_json()))
        tally.add_json(s.to_json(dense=bool(i % 2)))
    want, got = merged.public(tokens=True), tally.public(tokens=True)
    assert got["duration_ms"].pop("avg") == pytest.approx(want["duration_ms"].pop("avg"), rel=1e-12)
    assert got == want

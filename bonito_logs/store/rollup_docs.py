"""Rollup documents: their keys, ids, indices, and the ``Stats`` they hold.

Per org and bucket (a minute, an hour or a day) the records are counted in
groups, one per value of each dimension ("dim"); a group key reads
``"<dim>:<part>:<group>"``:

=============  =======  ================================================  ==============
dim            part     group                                             records
=============  =======  ================================================  ==============
``total``      ""       ``""``                                            all
``log_type``   ""       log type                                          all
``event_type`` ""       event type                                        all
``severity``   ""       severity                                          all
``cell``       log type ``"<event_type>|<severity>"``                     that log type
``model``      ""       model                                             gateway
``provider``   ""       provider                                          gateway
``model_cell`` ""       ``["<model>", "<provider>", "<severity>"]`` (JSON)  gateway
=============  =======  ================================================  ==============

``cell`` is the finest rollup, keyed by (org, log_type, event_type, severity,
bucket); the other dims are the same records pre-merged per group-by dimension.

Documents (``DocKey.kind``):

* ``full``, one per org and minute, hour and day: every group with its histogram.
  Records are applied to these; totals, merges and filtered queries read them.
* ``view.<dim>``, one per org, day and view dim (all but ``cell``/``model_cell``):
  the dim's groups of the day (percentiles, and histograms in the dense layout
  that merges fast), plus ``series``: per group, the day's 24 hourly points as
  the JSON text the stats API answers with (``DaySeries``), so a 30-day hourly
  series grouped by that dim reads 30 such documents and splices their text
  without parsing it. They are projections of the ``full`` documents of the day
  and its hours, written with them, recording the offsets they were projected
  at (``offsets``, ``hour_offsets``), so a view behind its ``full`` document
  after a crash is noticed on load and projected again.

Every document of an org is fed by the org's partition only (records are keyed
by org id). Ids are readable and deterministic: ``<org>.<g>.<bucket ms>.<kind>``.
Documents live in monthly indices ``<meta_prefix>stats-<granularity>-YYYY.MM``
(retention deletes whole indices), all behind the alias ``<meta_prefix>stats``.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from functools import lru_cache
from typing import Any, NamedTuple

import orjson

from bonito_logs.config import Settings
from bonito_logs.store.rollup_stats import (  # noqa: F401 - re-exported
    COST_SCALE,
    ERROR_SEVERITIES,
    Contribution,
    Stats,
    _name,
    contribution,
    cost_units,
)

GRANULARITIES: tuple[str, ...] = ("minute", "hour", "day")
STEP_MS: dict[str, int] = {"minute": 60_000, "hour": 3_600_000, "day": 86_400_000}
DIMS: tuple[str, ...] = ("total", "log_type", "event_type", "severity", "cell",
                         "model", "provider", "model_cell")
VIEW_ORDER: tuple[str, ...] = ("total", "log_type", "event_type", "severity", "model", "provider")
VIEW_DIMS = frozenset(VIEW_ORDER)
TOKEN_DIMS = frozenset({"model", "provider"})  # their figures carry token sums
FULL = "full"  # document kinds, see the module docstring; and view_kind(dim)
VIEW_PREFIX = "view."


def view_kind(dim: str) -> str:
    return VIEW_PREFIX + dim
_GRAN_LETTER = {"minute": "m", "hour": "h", "day": "d"}


def floor_ms(ms: int, granularity: str) -> int:
    step = STEP_MS[granularity]
    return ms - ms % step


def ceil_ms(ms: int, granularity: str) -> int:
    step = STEP_MS[granularity]
    return -((-ms) // step) * step


def to_ms(ts: datetime) -> int:
    """Exact milliseconds since the epoch, rounded down (a naive ``ts`` is UTC)."""
    if ts.tzinfo is None:
        ts = ts.replace(tzinfo=UTC)
    return (ts - _EPOCH) // _MS


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MS = timedelta(milliseconds=1)


def from_ms(ms: int) -> datetime:
    return _EPOCH + timedelta(milliseconds=ms)


def iso_ms(ms: int) -> str:
    ts = from_ms(ms)
    return f"{ts.year:04d}-{ts.month:02d}-{ts.day:02d}T{ts.hour:02d}:{ts.minute:02d}:{ts.second:02d}Z"


class DocKey(NamedTuple):
    """Which rollup document: a tuple, so hashing and comparing it stay in C."""

    org: str
    granularity: str
    bucket: int  # ms since the epoch, a multiple of the granularity's step
    kind: str = FULL

    @property
    def doc_id(self) -> str:
        return f"{self.org}.{_GRAN_LETTER[self.granularity]}.{self.bucket}.{self.kind}"

    def index(self, settings: Settings) -> str:
        return stats_index(settings, self.granularity, self.bucket)

    def views(self) -> list[DocKey]:
        """The view documents of a day."""
        return [DocKey(self.org, "day", self.bucket, view_kind(d)) for d in VIEW_ORDER]


def stats_alias(settings: Settings) -> str:
    return f"{settings.meta_prefix}stats"


def month_of(ms: int) -> tuple[int, int]:
    ts = from_ms(ms)
    return ts.year, ts.month


def stats_index(settings: Settings, granularity: str, bucket_ms: int) -> str:
    return _index_name(settings.meta_prefix, granularity, floor_ms(bucket_ms, "day"))


@lru_cache(maxsize=4096)
def _index_name(prefix: str, granularity: str, day_ms: int) -> str:
    year, month = month_of(day_ms)
    return f"{prefix}stats-{granularity}-{year:04d}.{month:02d}"


def indices_between(settings: Settings, granularity: str, start_ms: int, end_ms: int) -> list[str]:
    """The monthly indices of ``granularity`` that can hold buckets in ``[start, end)``."""
    if end_ms <= start_ms:
        return []
    year, month = month_of(start_ms)
    last = month_of(end_ms - 1)
    out = []
    while (year, month) <= last:
        out.append(f"{settings.meta_prefix}stats-{granularity}-{year:04d}.{month:02d}")
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return out


def model_key(model: str, provider: str, severity: str) -> str:
    return orjson.dumps([model, provider, severity]).decode()


def group_key(dim: str, part: str, group: str) -> str:
    return f"{dim}:{part}:{group}"


def split_key(key: str) -> tuple[str, str, str]:
    """``(dim, part, group)`` of a group key (dims and parts never hold a colon)."""
    dim, part, group = key.split(":", 2)
    return dim, part, group


def targets(record: dict[str, Any]) -> tuple[str, ...]:
    """The group key of every group the record counts in (the same in every bucket)."""
    lt, et, sev = record["log_type"], record["event_type"], record["severity"]
    out = ["total::", f"log_type::{lt}", f"event_type::{et}", f"severity::{sev}",
           f"cell:{lt}:{et}|{sev}"]
    if lt == "gateway":
        meta = record.get("metadata")
        meta = meta if isinstance(meta, dict) else {}
        model, provider = _name(meta.get("model")), _name(meta.get("provider"))
        out += [f"model::{model}", f"provider::{provider}",
                f"model_cell::{model_key(model, provider, sev)}"]
    return tuple(out)


# -- a view's hours: stored as the API's JSON ------------------------------------------
HOURS_PER_DAY = 24


def zero_point(timestamp: str, tokens: bool) -> str:
    """The JSON of an empty bucket's point (what ``Stats().public`` shows)."""
    return f'{{"timestamp":"{timestamp}",{_ZERO_BODY[tokens]}'


_ZERO_BODY = {t: orjson.dumps(Stats().public(tokens=t)).decode()[1:] for t in (False, True)}


def hour_stamps(day_ms: int) -> list[str]:
    return [iso_ms(day_ms + h * STEP_MS["hour"]) for h in range(HOURS_PER_DAY)]


class DaySeries:
    """One view group's 24 hourly points of a day, kept as the JSON text of the list the
    API shows (so a reader splices it into its answer without parsing it) and parsed
    only when an hour changes."""

    __slots__ = ("day", "tokens", "_text", "_points")

    def __init__(self, day: int, tokens: bool, text: str | None = None) -> None:
        self.day = day
        self.tokens = tokens
        self._text = text
        self._points: list[dict[str, Any]] | None = None

    def set_hour(self, hour_ms: int, figures: dict[str, Any] | None) -> None:
        """The hour's point: ``figures`` as ``Stats.public`` gives them, None for zeros."""
        points = self._points
        if points is None:
            if self._text is not None:
                points = orjson.loads(self._text)
            else:
                zero = Stats().public(tokens=self.tokens)
                points = [{"timestamp": ts, **zero} for ts in hour_stamps(self.day)]
            self._points = points
        i = (hour_ms - self.day) // STEP_MS["hour"]
        stamp = points[i]["timestamp"]
        points[i] = {"timestamp": stamp, **(figures or Stats().public(tokens=self.tokens))}
        self._text = None

    @property
    def text(self) -> str:
        if self._text is None:
            self._text = orjson.dumps(self._points).decode()
        return self._text


def legacy_series(day: int, hours: dict[str, dict[str, Any]], tokens: bool) -> dict[str, str]:
    """A view's ``series`` from the layout before it (``hours``: hour -> group -> figures)."""
    out: dict[str, DaySeries] = {}
    for hour, groups in hours.items():
        for group, figures in groups.items():
            series = out.get(group)
            if series is None:
                series = out[group] = DaySeries(day, tokens)
            series.set_hour(int(hour), figures)
    return {g: s.text for g, s in out.items()}


# -- documents --------------------------------------------------------------------------
class RollupDoc:
    """A rollup document in memory: its groups and the last offset applied per partition
    (and, for a view, each group's hourly points and the offsets each hour was projected at)."""

    __slots__ = ("key", "groups", "offsets", "series", "hour_offsets")

    def __init__(self, key: DocKey, groups: dict[str, Stats] | None = None,
                 offsets: dict[int, int] | None = None) -> None:
        self.key = key
        self.groups: dict[str, Stats] = groups if groups is not None else {}
        self.offsets: dict[int, int] = offsets if offsets is not None else {}
        self.series: dict[str, DaySeries] = {}  # group -> the day's hourly points
        self.hour_offsets: dict[str, dict[str, int]] = {}

    def applies(self, partition: int, offset: int) -> bool:
        """Whether a record at (partition, offset) is not in this document yet.

        Records of a partition reach a document in offset order, so the last
        applied offset per partition tells exactly which records it holds.
        """
        return offset > self.offsets.get(partition, -1)

    def apply(self, partition: int, offset: int, groups: tuple[str, ...],
              contrib: Contribution) -> bool:
        """Count the record in each of ``groups`` unless already counted; True if applied."""
        if offset <= self.offsets.get(partition, -1):
            return False
        mine = self.groups
        for group in groups:
            stats = mine.get(group)
            if stats is None:
                stats = mine[group] = Stats()
            stats.add(contrib)
        self.offsets[partition] = offset
        return True

    @property
    def view_dim(self) -> str | None:
        kind = self.key.kind
        return kind[len(VIEW_PREFIX):] if kind.startswith(VIEW_PREFIX) else None

    def to_source(self) -> dict[str, Any]:
        k = self.key
        view = self.view_dim is not None
        out = {
            "org_id": k.org, "granularity": k.granularity, "bucket": k.bucket, "kind": k.kind,
            "offsets": {str(p): o for p, o in sorted(self.offsets.items())},
            "groups": {g: s.to_json(with_percentiles=view, dense=view) for g, s in self.groups.items()},
        }
        if view:
            out["series"] = {g: s.text for g, s in self.series.items()}
            out["hour_offsets"] = self.hour_offsets
        return out

    def project_day(self, full: RollupDoc) -> None:
        """Make this view's day part the projection of the day's ``full`` document."""
        prefix = f"{self.view_dim}::"
        cut = len(prefix)
        self.groups = {g[cut:]: s for g, s in full.groups.items() if g.startswith(prefix)}
        self.offsets = dict(full.offsets)

    def project_hour(self, full: RollupDoc) -> None:
        """Set this view's points of the hour of ``full`` (an hour document of its day)."""
        prefix = f"{self.view_dim}::"
        cut = len(prefix)
        tokens = self.view_dim in TOKEN_DIMS
        hour = full.key.bucket
        shown = {g[cut:]: s.public(tokens=tokens, rounded=True)
                 for g, s in full.groups.items() if g.startswith(prefix)}
        for group in shown.keys() | self.series.keys():
            series = self.series.get(group)
            if series is None:
                series = self.series[group] = DaySeries(self.key.bucket, tokens)
            series.set_hour(hour, shown.get(group))
        self.hour_offsets[str(hour)] = {str(p): o for p, o in sorted(full.offsets.items())}

    def hour_current(self, full: RollupDoc) -> bool:
        """Whether this view holds the hour of ``full`` as it is now."""
        held = self.hour_offsets.get(str(full.key.bucket), {})
        return held == {str(p): o for p, o in full.offsets.items()}

    @classmethod
    def from_source(cls, key: DocKey, source: dict[str, Any]) -> RollupDoc:
        groups = {g: Stats.from_json(s) for g, s in (source.get("groups") or {}).items()}
        offsets = {int(p): int(o) for p, o in (source.get("offsets") or {}).items()}
        doc = cls(key, groups, offsets)
        tokens = doc.view_dim in TOKEN_DIMS
        texts = view_series(source, tokens)
        doc.series = {g: DaySeries(key.bucket, tokens, text) for g, text in texts.items()}
        doc.hour_offsets = {h: dict(o) for h, o in (source.get("hour_offsets") or {}).items()}
        return doc


def view_series(source: dict[str, Any], tokens: bool) -> dict[str, str]:
    """A view document's ``series`` (group -> JSON text of the day's hourly points)."""
    series = source.get("series")
    if series is None and source.get("hours"):
        return legacy_series(source["bucket"], source["hours"], tokens)
    return series or {}

"""The stats request: ``parse_stats_request`` validates query parameters into a ``StatsRequest``.

Every broken rule is reported at once, each as ``{"field", "rule"}`` naming the
parameter. List parameters are comma-separated, repeated, or both. The range is
widened to whole intervals (start rounded down, end rounded up, UTC), so every
bucket of the series is complete and the totals are the sum of the buckets.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from typing import Any

from bonito_logs.errors import ValidationError
from bonito_logs.schemas import LOG_TYPES, SEVERITIES
from bonito_logs.store.rollup_docs import STEP_MS, ceil_ms, floor_ms, to_ms

INTERVALS: tuple[str, ...] = ("minute", "hour", "day")
GROUP_BYS: tuple[str, ...] = ("log_type", "event_type", "severity", "model", "provider")
PARAMS: tuple[str, ...] = ("start", "end", "interval", "group_by", "log_types", "severities")
MAX_BUCKETS = 10_080  # 7 days of minutes
DEFAULT_INTERVAL = "hour"
DEFAULT_SPAN = timedelta(hours=24)
_COARSER = {"minute": "hour", "hour": "day"}
_DATE_ONLY = re.compile(r"\d{4}-\d{2}-\d{2}\Z")
_MIN_MS = 0  # 1970-01-01: rollups are kept by epoch milliseconds
_MAX_MS = to_ms(datetime(9999, 12, 31, tzinfo=UTC))


@dataclass(frozen=True)
class StatsRequest:
    start_ms: int  # aligned to the interval
    end_ms: int  # aligned, exclusive
    interval: str = DEFAULT_INTERVAL
    group_by: str | None = None
    log_types: tuple[str, ...] = ()
    severities: tuple[str, ...] = ()

    @property
    def buckets(self) -> int:
        return (self.end_ms - self.start_ms) // STEP_MS[self.interval]


def parse_stats_request(params: Mapping[str, Any] | Iterable[tuple[str, str]],
                        now: datetime | None = None) -> StatsRequest:
    """Validate ``start, end, interval, group_by, log_types, severities`` (all optional:
    the last 24 hours by hour, ungrouped, unfiltered)."""
    pairs = list(params.items() if isinstance(params, Mapping) else params)
    values: dict[str, list[str]] = {}
    problems: list[dict[str, str]] = []
    for name, value in pairs:
        values.setdefault(name, []).append(value)
    for name in sorted(set(values) - set(PARAMS)):
        problems.append({"field": name, "rule": "is not a parameter; expected one of " + ", ".join(PARAMS)})

    def single(name: str) -> str | None:
        got = values.get(name)
        if not got:
            return None
        if len(got) > 1:
            problems.append({"field": name, "rule": "must be given once"})
        return got[0].strip() or None

    interval = single("interval") or DEFAULT_INTERVAL
    if interval not in INTERVALS:
        problems.append({"field": "interval", "rule": "must be one of " + ", ".join(INTERVALS)})
        interval = DEFAULT_INTERVAL
    group_by = single("group_by")
    if group_by is not None and group_by not in GROUP_BYS:
        problems.append({"field": "group_by", "rule": "must be one of " + ", ".join(GROUP_BYS)})
    log_types = _choices("log_types", values.get("log_types", []), LOG_TYPES, problems)
    severities = _choices("severities", values.get("severities", []), SEVERITIES, problems)
    now = now or datetime.now(UTC)
    end = _date("end", single("end"), problems, end_of_day=True)
    start = _date("start", single("start"), problems, end_of_day=False)
    if end is None and "end" not in _fields(problems):
        end = now
    if start is None and "start" not in _fields(problems):
        start = (end or now) - DEFAULT_SPAN
    if problems:
        raise ValidationError(problems=problems)
    assert start is not None and end is not None
    start_ms, end_ms = to_ms(start), to_ms(end)
    if end_ms <= start_ms:
        raise ValidationError("end", "must be after start")
    a, b = floor_ms(start_ms, interval), ceil_ms(end_ms, interval)
    buckets = (b - a) // STEP_MS[interval]
    if buckets > MAX_BUCKETS:
        hint = f"interval={_COARSER[interval]} or " if interval in _COARSER else ""
        raise ValidationError("interval", f"gives {buckets} buckets over this range, more than "
                                          f"{MAX_BUCKETS}; use {hint}a shorter range")
    return StatsRequest(start_ms=a, end_ms=b, interval=interval, group_by=group_by,
                        log_types=log_types, severities=severities)


def _fields(problems: list[dict[str, str]]) -> set[str]:
    return {p["field"] for p in problems}


def _choices(name: str, raw: list[str], allowed: tuple[str, ...],
             problems: list[dict[str, str]]) -> tuple[str, ...]:
    out: list[str] = []
    for value in raw:
        for item in value.split(","):
            item = item.strip()
            if not item:
                continue
            if item not in allowed:
                problems.append({"field": name, "rule": f"{item!r} is not one of " + ", ".join(allowed)})
            elif item not in out:
                out.append(item)
    return tuple(out)


def _date(name: str, raw: str | None, problems: list[dict[str, str]], *,
          end_of_day: bool) -> datetime | None:
    if raw is None:
        return None
    try:
        if _DATE_ONLY.match(raw):
            day = datetime.combine(datetime.fromisoformat(raw).date(), time(), tzinfo=UTC)
            value = day + timedelta(days=1) if end_of_day else day
        else:
            value = datetime.fromisoformat(raw[:-1] + "+00:00" if raw.endswith(("Z", "z")) else raw)
            value = value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    except (ValueError, OverflowError):
        problems.append({"field": name, "rule": "must be an ISO 8601 date-time, e.g. 2024-05-01T00:00:00Z"})
        return None
    ms = to_ms(value)
    if not _MIN_MS <= ms <= _MAX_MS:
        problems.append({"field": name, "rule": "must be between 1970-01-01 and 9999-12-31"})
        return None
    return value

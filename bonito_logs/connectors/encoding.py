"""Encoding helpers every connector shares: size accounting, time formats, gzip, Retry-After."""

from __future__ import annotations

import email.utils
import gzip
import time
from collections.abc import Callable, Iterable
from datetime import UTC, datetime, timedelta
from typing import Any

from bonito_logs.connectors.base import Batch

#: The record fields every connector carries alongside the destination's own.
OUR_FIELDS: tuple[str, ...] = (
    "id", "org_id", "log_type", "event_type", "severity", "trace_id", "user_id",
    "resource_id", "resource_type", "action", "duration_ms", "cost", "metadata",
)

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MILLISECOND = timedelta(milliseconds=1)


def gzip_bytes(data: bytes) -> bytes:
    # mtime=0 keeps the bytes reproducible (tests, signatures); level 6 is the usual trade-off.
    return gzip.compress(data, compresslevel=6, mtime=0)


def retry_after_seconds(value: str | None, now: float | None = None) -> float | None:
    """``Retry-After`` as seconds: delta-seconds or an HTTP date."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - (time.time() if now is None else now))


def pack(entries: Iterable[tuple[dict[str, Any], Any, int]], *, max_items: int, max_bytes: int,
         separator: int = 0, envelope: int = 0, key: str = "",
         joinable: Callable[[Batch, Any], bool] | None = None) -> list[Batch]:
    """Greedy, order-keeping split of (record, event, size) into batches within the limits.

    A batch's size is ``envelope + sum(sizes) + separator * (n - 1)``: e.g. a JSON
    array has envelope 2 (``[]``) and separator 1 (``,``). Entries must each fit alone
    (callers reject the others first). ``joinable`` adds a destination rule (a time span).
    """
    out: list[Batch] = []
    current: Batch | None = None
    for record, event, size in entries:
        if current is not None:
            grown = current.size + separator + size
            if (len(current) < max_items and grown <= max_bytes
                    and (joinable is None or joinable(current, event))):
                current.records.append(record)
                current.events.append(event)
                current.size = grown
                continue
            out.append(current)
        current = Batch([record], [event], envelope + size, key)
    if current is not None:
        out.append(current)
    return out


def epoch_ms(record: dict[str, Any]) -> int:
    """The record's time as integer epoch milliseconds (exact, no float rounding)."""
    return (record["timestamp"] - _EPOCH) // _MILLISECOND


def epoch_seconds(record: dict[str, Any]) -> float:
    """The record's time as epoch seconds with microseconds (Splunk's ``time``)."""
    delta = record["timestamp"] - _EPOCH
    return delta.days * 86400 + delta.seconds + delta.microseconds / 1_000_000


def our_fields(record: dict[str, Any]) -> dict[str, Any]:
    """Our fields that have a value (the destination's own fields are added by each encoder)."""
    return {name: record[name] for name in OUR_FIELDS if record.get(name) is not None}

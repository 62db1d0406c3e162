"""Which records an integration forwards: its ``filters`` (log types, severities, event types).

Each filter is a list of allowed values; a missing, null or empty list allows every
value. A record is forwarded when it passes all three.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from bonito_logs.schemas import LOG_TYPES, SEVERITIES

FILTER_KEYS: tuple[str, ...] = ("log_types", "severities", "event_types")
MAX_VALUES = 100
MAX_EVENT_TYPE = 64
_EVENT_TYPE = re.compile(r"[a-z][a-z0-9]*(?:_[a-z0-9]+)*\Z")


@dataclass(frozen=True)
class RecordFilter:
    log_types: frozenset[str] | None = None
    severities: frozenset[str] | None = None
    event_types: frozenset[str] | None = None

    @classmethod
    def from_body(cls, filters: dict[str, Any] | None) -> RecordFilter:
        """From normalised filters (``parse_filters`` output, as stored)."""
        filters = filters or {}
        return cls(*(frozenset(filters[k]) if filters.get(k) else None for k in FILTER_KEYS))

    def matches(self, record: dict[str, Any]) -> bool:
        return ((self.log_types is None or record.get("log_type") in self.log_types)
                and (self.severities is None or record.get("severity") in self.severities)
                and (self.event_types is None or record.get("event_type") in self.event_types))


def parse_filters(value: Any, problems: list[dict[str, str]]) -> dict[str, list[str] | None]:
    """Normalised filters (sorted, de-duplicated lists or None); adds one problem per broken rule."""
    out: dict[str, list[str] | None] = dict.fromkeys(FILTER_KEYS)
    if value is None:
        return out
    if not isinstance(value, dict):
        problems.append({"field": "filters", "rule": "must be an object"})
        return out
    for key in sorted(set(value) - set(FILTER_KEYS)):
        problems.append({"field": f"filters.{key}",
                         "rule": "is not a known filter (log_types, severities, event_types)"})
    allowed = {"log_types": LOG_TYPES, "severities": SEVERITIES}
    for key in FILTER_KEYS:
        items = value.get(key)
        if items is None:
            continue
        path = f"filters.{key}"
        if not isinstance(items, list) or len(items) > MAX_VALUES:
            problems.append({"field": path, "rule": f"must be a list of at most {MAX_VALUES} strings"})
            continue
        good = True
        for i, item in enumerate(items):
            if key in allowed and item not in allowed[key]:
                problems.append({"field": f"{path}[{i}]", "rule": "must be one of " + ", ".join(allowed[key])})
                good = False
            elif key == "event_types" and (not isinstance(item, str) or len(item) > MAX_EVENT_TYPE
                                           or not _EVENT_TYPE.match(item)):
                problems.append({"field": f"{path}[{i}]",
                                 "rule": f"must be a snake_case event type of at most {MAX_EVENT_TYPE} characters"})
                good = False
        if good:
            out[key] = sorted(set(items)) or None
    return out

"""The explorer's URL ↔ the query API's body.

The URL holds every filter, the sort and the page, so a view can be shared and
reloaded; ``ExplorerView.body`` is exactly the ``POST /api/logs/query`` body the
page runs (and hands to its JavaScript for "load more", the chart and exports).
Relative ranges (15 min … 7 d) stay relative: a reload shows the latest records.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol
from urllib.parse import urlencode

from bonito_logs.schemas import LOG_TYPES, SEVERITIES
from bonito_logs.store.query import MAX_WINDOW

QUICK_RANGES: dict[str, timedelta] = {
    "15m": timedelta(minutes=15), "1h": timedelta(hours=1),
    "24h": timedelta(hours=24), "7d": timedelta(days=7),
}
RANGE_LABELS: tuple[tuple[str, str], ...] = (
    ("15m", "15 min"), ("1h", "1 h"), ("24h", "24 h"), ("7d", "7 d"), ("all", "Any time"),
    ("custom", "Custom"),
)
DEFAULT_RANGE = "24h"
PER_PAGE = (25, 50, 100, 200)
DEFAULT_PER = 50
SORTS = ("timestamp", "severity", "duration_ms", "cost")
TEXT_PARAMS = ("q", "trace_id", "user_id", "resource_id", "event_type")
MAX_PARAM_CHARS = 1000


class Params(Protocol):
    def get(self, key: str, default: Any = None) -> Any: ...
    def getlist(self, key: str) -> list[str]: ...


@dataclass(frozen=True)
class ExplorerView:
    """One explorer view: the form's values and the query body they stand for."""

    log_types: tuple[str, ...] = ()
    severities: tuple[str, ...] = ()
    event_type: str = ""
    q: str = ""
    trace_id: str = ""
    user_id: str = ""
    resource_id: str = ""
    range: str = DEFAULT_RANGE
    start: str = ""
    end: str = ""
    sort: str = "timestamp"
    order: str = "desc"
    page: int = 1
    per: int = DEFAULT_PER
    now: datetime = field(default_factory=lambda: datetime.now(UTC))

    @property
    def offset(self) -> int:
        return (self.page - 1) * self.per

    @property
    def max_page(self) -> int:
        """The last page an offset can reach; past it, "load more" pages with the cursor."""
        return MAX_WINDOW // self.per

    def filters(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if self.log_types:
            out["log_types"] = list(self.log_types)
        if self.severities:
            out["severities"] = list(self.severities)
        events = [e.strip() for e in self.event_type.split(",") if e.strip()]
        if events:
            out["event_types"] = events
        for name, value in (("search", self.q), ("trace_id", self.trace_id),
                            ("user_id", self.user_id), ("resource_id", self.resource_id)):
            if value.strip():
                out[name] = value.strip()
        if self.range in QUICK_RANGES:
            start = self.now - QUICK_RANGES[self.range]
            out["start_date"] = start.isoformat(timespec="seconds").replace("+00:00", "Z")
        elif self.range == "custom":
            if self.start:
                out["start_date"] = self.start
            if self.end:
                out["end_date"] = self.end
        return out

    def body(self) -> dict[str, Any]:
        return {"filters": self.filters(), "sort_by": self.sort, "sort_order": self.order,
                "limit": self.per, "offset": min(self.offset, MAX_WINDOW)}

    def params(self, **changes: Any) -> list[tuple[str, str]]:
        """The URL parameters of this view with ``changes``; defaults are left out."""
        values = {name: getattr(self, name) for name in (
            "log_types", "severities", *TEXT_PARAMS, "range", "start", "end", "sort", "order",
            "page", "per")}
        values.update(changes)
        out: list[tuple[str, str]] = []
        out += [("log_type", v) for v in values["log_types"]]
        out += [("severity", v) for v in values["severities"]]
        for name in TEXT_PARAMS:
            if values[name]:
                out.append((name, values[name]))
        if values["range"] != DEFAULT_RANGE:
            out.append(("range", values["range"]))
        if values["range"] == "custom":
            out += [(name, values[name]) for name in ("start", "end") if values[name]]
        if (values["sort"], values["order"]) != ("timestamp", "desc"):
            out += [("sort", values["sort"]), ("order", values["order"])]
        if values["per"] != DEFAULT_PER:
            out.append(("per", str(values["per"])))
        if values["page"] != 1:
            out.append(("page", str(values["page"])))
        return out

    def url(self, **changes: Any) -> str:
        params = self.params(**changes)
        return "/logs" + ("?" + urlencode(params) if params else "")

    def sort_url(self, column: str) -> str:
        """Sort by ``column``; the current sort column flips its order. Back to page 1."""
        if column == self.sort:
            order = "asc" if self.order == "desc" else "desc"
        else:
            order = "desc"
        return self.url(sort=column, order=order, page=1)


def _text(params: Params, name: str) -> str:
    value = params.get(name) or ""
    return str(value)[:MAX_PARAM_CHARS]


def _choices(values: Sequence[str], allowed: Sequence[str]) -> tuple[str, ...]:
    return tuple(v for v in dict.fromkeys(values) if v in allowed)


def _int(value: Any, default: int, low: int, high: int) -> int:
    try:
        number = int(value)
    except (TypeError, ValueError):
        return default
    return min(max(number, low), high)


def view_from_params(params: Params, now: datetime | None = None) -> ExplorerView:
    """The view of a URL's query parameters; unknown or broken values fall back to defaults
    (dates are passed on as typed, so the query API's validation names what is wrong)."""
    range_ = _text(params, "range") or DEFAULT_RANGE
    if range_ not in {key for key, _ in RANGE_LABELS}:
        range_ = DEFAULT_RANGE
    sort = _text(params, "sort") or "timestamp"
    per = _int(params.get("per"), DEFAULT_PER, 1, 1000)
    view = ExplorerView(
        log_types=_choices(params.getlist("log_type"), LOG_TYPES),
        severities=_choices(params.getlist("severity"), SEVERITIES),
        event_type=_text(params, "event_type"),
        q=_text(params, "q"),
        trace_id=_text(params, "trace_id"),
        user_id=_text(params, "user_id"),
        resource_id=_text(params, "resource_id"),
        range=range_,
        start=_text(params, "start") if range_ == "custom" else "",
        end=_text(params, "end") if range_ == "custom" else "",
        sort=sort if sort in SORTS else "timestamp",
        order="asc" if params.get("order") == "asc" else "desc",
        per=per if per in PER_PAGE else DEFAULT_PER,
        page=_int(params.get("page"), 1, 1, MAX_WINDOW),
        now=now or datetime.now(UTC),
    )
    return view


def pages_to_show(page: int, last: int, around: int = 2) -> list[int | None]:
    """Page numbers for the pager: first, last and ``around`` either side; ``None`` is a gap."""
    wanted = sorted({1, last, *range(max(1, page - around), min(last, page + around) + 1)})
    out: list[int | None] = []
    for number in wanted:
        if out and number - (out[-1] or 0) > 1:
            out.append(None)
        out.append(number)
    return out


def metadata_preview(metadata: Mapping[str, Any] | None, limit: int = 140) -> str:
    """``key=value key=value`` of the first metadata leaves, for the table's message column."""
    if not metadata:
        return ""
    parts = []
    for key, value in metadata.items():
        text = value if isinstance(value, str) else repr(value) if not isinstance(value, dict | list) else "…"
        parts.append(f"{key}={text}")
    preview = " ".join(parts)
    return preview if len(preview) <= limit else preview[:limit - 1] + "…"

"""``LogSearch``: the org-scoped reads of log records (query, get by id, trace).

Every request carries the org's ``term`` filter and ``routing=org_id``; nothing
in a ``LogQuery`` can remove them. Pages are sorted by a total order (the
requested field, then ``timestamp_us``, then ``id``), so offset pages and
``search_after`` cursors never repeat or skip a record.
"""

from __future__ import annotations

import re
from typing import Any

from opensearchpy import AsyncOpenSearch
from opensearchpy.exceptions import ConnectionError as OSConnectionError
from opensearchpy.exceptions import TransportError

from bonito_logs.config import Settings
from bonito_logs.errors import NotFound, Unavailable, ValidationError
from bonito_logs.schemas import SEVERITIES
from bonito_logs.store.cursor import decode_cursor, encode_cursor
from bonito_logs.store.documents import from_document
from bonito_logs.store.query import MAX_ID_CHARS, MAX_WINDOW, LogQuery, build_query, build_sort

TRACE_PAGE = 1000
_UUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}\Z")
_SOURCE = {"excludes": ["metadata_text"]}  # derived from metadata; never returned
_TRACE_SORT = [{"timestamp_us": {"order": "asc"}}, {"id": {"order": "asc"}}]


def _org(org_id: Any) -> str:
    org = str(org_id).strip().lower() if org_id is not None else ""
    if not org:
        raise ValueError("org_id is required")
    return org


class LogSearch:
    """Reads for one deployment (``settings.index_prefix``); share one per process."""

    def __init__(self, client: AsyncOpenSearch, settings: Settings) -> None:
        self.client = client
        self.settings = settings

    async def _search(self, org: str, body: dict[str, Any], **params: Any) -> dict[str, Any]:
        try:
            return await self.client.search(
                index=self.settings.index_pattern, body=body, routing=org,
                ignore_unavailable=True, allow_no_indices=True, **params)
        except OSConnectionError as exc:
            raise Unavailable(f"OpenSearch is unreachable: {exc}") from exc
        except TransportError as exc:
            text = str(exc).lower()
            # The request's term limit keeps searches under Lucene's clause limit; should
            # analysis still expand past it, it is the caller's search that is too wide.
            if "maxclausecount" in text or "too many nested clauses" in text or "too_many_clauses" in text:
                raise ValidationError("filters.search", "matches too many terms; "
                                                        "use fewer words or longer prefixes") from exc
            if exc.status_code in (429, 503):
                raise Unavailable(f"OpenSearch is busy or not ready: {exc}") from exc
            raise

    async def search(self, org_id: str, q: LogQuery) -> dict[str, Any]:
        """One page of ``q`` within the org, with the exact total and the next page's cursor."""
        org = _org(org_id)
        sort = build_sort(q)
        binding = q.fingerprint()
        body: dict[str, Any] = {
            "query": build_query(org, q), "sort": sort,
            "track_total_hits": True, "_source": _SOURCE,
        }
        if q.cursor is not None:
            body["search_after"] = decode_cursor(
                q.cursor, org_id=org, binding=binding, secret=self.settings.secret_key,
                length=len(sort))
            body["from"], body["size"] = 0, q.limit + 1
        else:
            # One extra hit tells whether another page follows; the window caps from + size.
            body["from"], body["size"] = q.offset, min(q.limit + 1, MAX_WINDOW - q.offset)
        resp = await self._search(org, body)
        hits = resp["hits"]["hits"]
        total = resp["hits"]["total"]
        page = hits[:q.limit]
        if len(hits) > q.limit:
            more = True
        elif q.cursor is None and body["size"] == q.limit:  # at the window's edge
            more = q.offset + len(page) < total["value"]
        else:
            more = False
        next_cursor = None
        if more and page:
            next_cursor = encode_cursor(page[-1]["sort"], org_id=org, binding=binding,
                                        secret=self.settings.secret_key)
        return {
            "items": [from_document(h["_source"]) for h in page],
            "total": {"value": total["value"], "exact": total.get("relation", "eq") == "eq"},
            "limit": q.limit,
            "offset": q.offset,
            "next_cursor": next_cursor,
            "took_ms": int(resp.get("took", 0)),
        }

    async def get(self, org_id: str, record_id: str) -> dict[str, Any]:
        """The record ``record_id`` of the org; ``NotFound`` if absent or another org's."""
        org = _org(org_id)
        if not isinstance(record_id, str) or not 0 < len(record_id) <= MAX_ID_CHARS:
            raise NotFound(f"no log record {record_id!r}")
        if _UUID.match(record_id):
            record_id = record_id.lower()  # build_record stores ids lower-cased
        body = {
            "query": {"bool": {"filter": [{"ids": {"values": [record_id]}},
                                          {"term": {"org_id": org}}]}},
            "size": 1, "_source": _SOURCE,
        }
        hits = (await self._search(org, body))["hits"]["hits"]
        if not hits:
            raise NotFound(f"no log record {record_id!r}")
        return from_document(hits[0]["_source"])

    async def trace(self, org_id: str, trace_id: str) -> dict[str, Any]:
        """Every record of the org in the trace, oldest first, with a summary.

        Pages through with ``search_after`` so a trace of any size is complete.
        """
        org = _org(org_id)
        if not isinstance(trace_id, str) or not 0 < len(trace_id) <= MAX_ID_CHARS:
            raise NotFound(f"no trace {trace_id!r}")
        body: dict[str, Any] = {
            "query": {"bool": {"filter": [{"term": {"org_id": org}},
                                          {"term": {"trace_id": trace_id}}]}},
            "sort": _TRACE_SORT, "size": TRACE_PAGE, "_source": _SOURCE,
            "track_total_hits": False,
        }
        items: list[dict[str, Any]] = []
        stamps: list[int] = []
        while True:
            hits = (await self._search(org, body))["hits"]["hits"]
            for hit in hits:
                items.append(from_document(hit["_source"]))
                stamps.append(hit["sort"][0])
            if len(hits) < TRACE_PAGE:
                break
            body["search_after"] = hits[-1]["sort"]
        if not items:
            raise NotFound(f"no trace {trace_id!r}")
        return {"trace_id": trace_id, "items": items, "summary": _summary(items, stamps)}


def _summary(items: list[dict[str, Any]], stamps: list[int]) -> dict[str, Any]:
    counts = {s: 0 for s in SEVERITIES}
    for item in items:
        counts[item["severity"]] = counts.get(item["severity"], 0) + 1
    return {
        "first_timestamp": items[0]["timestamp"],
        "last_timestamp": items[-1]["timestamp"],
        "span_ms": (stamps[-1] - stamps[0]) / 1000,
        "total_duration_ms": sum((i["duration_ms"] for i in items if i["duration_ms"] is not None), 0.0),
        "total_cost": sum((i["cost"] for i in items if i["cost"] is not None), 0.0),
        "counts_by_severity": {s: n for s, n in counts.items() if n},
        "log_types": sorted({i["log_type"] for i in items}),
        "record_count": len(items),
    }

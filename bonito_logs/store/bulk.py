"""One bulk request and the verdict on each of its documents.

The indexer needs to know, per document, whether OpenSearch stored it, whether
trying again may help (429, 5xx) or whether it never will (mapping conflict and
other 4xx). Whole-request failures (connection refused, timeouts, 5xx on the
request itself) raise ``BulkUnavailable``: every document of it is retryable.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import orjson
from opensearchpy import AsyncOpenSearch
from opensearchpy.exceptions import ConnectionError as OSConnectionError
from opensearchpy.exceptions import ConnectionTimeout, TransportError

from bonito_logs.errors import Unavailable


class Outcome(enum.Enum):
    STORED = "stored"
    RETRY = "retry"
    REJECTED = "rejected"


@dataclass(frozen=True)
class BulkItem:
    """One document to index: where it goes and its source."""

    index: str
    doc_id: str
    routing: str
    source: dict[str, Any]


@dataclass(frozen=True)
class ItemResult:
    outcome: Outcome
    status: int
    reason: str = ""


class BulkUnavailable(Unavailable):
    """The bulk request as a whole did not get an answer we can use."""


_RESPONSE_FILTER = "errors,items.*.status,items.*.error"


def encode_bulk(items: Sequence[BulkItem]) -> bytes:
    """NDJSON body of ``index`` actions (index, not create: a redelivered record overwrites)."""
    parts: list[bytes] = []
    dumps = orjson.dumps
    for item in items:
        parts.append(dumps({"index": {"_index": item.index, "_id": item.doc_id, "routing": item.routing}}))
        parts.append(dumps(item.source))
    parts.append(b"")
    return b"\n".join(parts)


def classify(status: int, error: Any) -> ItemResult:
    if 200 <= status < 300:
        return ItemResult(Outcome.STORED, status)
    reason = _reason(error)
    if status == 429 or status >= 500:
        return ItemResult(Outcome.RETRY, status, reason)
    return ItemResult(Outcome.REJECTED, status, reason)


def _reason(error: Any) -> str:
    if isinstance(error, dict):
        kind = error.get("type", "error")
        text = error.get("reason", "")
        cause = error.get("caused_by")
        if isinstance(cause, dict) and cause.get("reason"):
            text = f"{text}: {cause.get('type', '')} {cause['reason']}".strip()
        return f"{kind}: {text}"[:1000]
    return str(error)[:1000]


async def bulk_index(client: AsyncOpenSearch, items: Sequence[BulkItem], *,
                     timeout_s: float = 60.0) -> list[ItemResult]:
    """Send one bulk request; one ``ItemResult`` per item, in order."""
    if not items:
        return []
    body = encode_bulk(items)
    try:
        resp = await client.bulk(body=body, filter_path=_RESPONSE_FILTER,
                                 params={"timeout": f"{int(timeout_s)}s"}, request_timeout=timeout_s)
    except (OSConnectionError, ConnectionTimeout) as exc:
        raise BulkUnavailable(f"OpenSearch unreachable: {exc}") from exc
    except TransportError as exc:
        status = exc.status_code if isinstance(exc.status_code, int) else 0
        if status == 429 or status >= 500 or status == 0:
            raise BulkUnavailable(f"bulk request failed with {status}: {exc.error}") from exc
        raise  # a 4xx on the whole request is a bug in how we build it: surface it loudly
    if not resp.get("errors"):
        return [ItemResult(Outcome.STORED, 201)] * len(items)
    out = []
    for entry in resp["items"]:
        (action,) = entry.values()
        out.append(classify(int(action.get("status", 0)), action.get("error")))
    if len(out) != len(items):
        raise BulkUnavailable(f"bulk answered {len(out)} items for {len(items)} sent")
    return out

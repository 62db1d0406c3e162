"""The small single-shard indices that hold metadata (keys, jobs, integrations, status)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from opensearchpy import AsyncOpenSearch
from opensearchpy import exceptions as os_errors

from bonito_logs.errors import Unavailable


async def create_if_missing(client: AsyncOpenSearch, index: str, mappings: dict[str, Any], *,
                            refresh_interval: str) -> None:
    """Create ``index`` with its mapping unless it exists; a concurrent create counts as done.

    Other OpenSearch errors propagate for the caller to classify. The refresh interval is
    explicit: a search-idle shard would otherwise skip refreshes and readers see stale data.
    """
    try:
        if await client.indices.exists(index=index):
            return
        await client.indices.create(index=index, body={
            "settings": {"number_of_shards": 1, "number_of_replicas": 0,
                         "refresh_interval": refresh_interval},
            "mappings": mappings})
    except os_errors.RequestError as exc:
        if exc.error != "resource_already_exists_exception":
            raise


def is_outage(exc: os_errors.TransportError) -> bool:
    """OpenSearch down or overloaded (retry later), as opposed to a request it refuses."""
    return isinstance(exc, os_errors.ConnectionError) or exc.status_code in (429, 502, 503, 504)


def unavailable(exc: Exception) -> Unavailable:
    """The typed error (503 in the API) for an outage; the message names no request details."""
    return Unavailable(f"OpenSearch is unavailable: {exc.__class__.__name__}")


def stored_time(value: Any) -> datetime | None:
    """An ISO 8601 time read from a metadata document (a heartbeat's ``updated_at``, a
    status's last success), always aware; ``None`` when absent or unreadable."""
    if not isinstance(value, str):
        return None
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)

"""Daily log indices: their name, and the index template that gives them their mapping.

A record lives in the index of its UTC day (``index_for``). The mapping is
``dynamic: strict`` so an unexpected field can never create a mapping, and every
field of a valid record has a type that accepts every value the schema allows
(``documents.to_document`` makes metadata safe for ``flat_object``).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from opensearchpy import AsyncOpenSearch

from bonito_logs.config import Settings

# Above any template a test or a neighbour is likely to install for an
# overlapping pattern (equal priorities on overlapping patterns are rejected).
TEMPLATE_PRIORITY = 200
MESSAGE_KEYWORD_IGNORE_ABOVE = 8191  # characters: 4 bytes each stays under Lucene's 32766

_KEYWORD = {"type": "keyword"}
_TEXT = {"type": "text", "analyzer": "standard"}

MAPPINGS: dict[str, Any] = {
    "dynamic": "strict",
    "properties": {
        "id": _KEYWORD,
        "org_id": _KEYWORD,
        "log_type": _KEYWORD,
        "event_type": _KEYWORD,
        "severity": _KEYWORD,
        "severity_rank": {"type": "byte"},
        "timestamp": {"type": "date", "format": "strict_date_optional_time||epoch_millis"},
        "timestamp_us": {"type": "long"},
        "trace_id": _KEYWORD,
        "user_id": _KEYWORD,
        "resource_id": _KEYWORD,
        "resource_type": _KEYWORD,
        "action": _KEYWORD,
        "metadata": {"type": "flat_object"},
        # The caller's metadata, kept verbatim only when ``metadata`` had to be
        # shortened to fit flat_object's term limits; never indexed.
        "metadata_original": {"type": "object", "enabled": False},
        "metadata_text": _TEXT,
        "duration_ms": {"type": "double"},
        "cost": {"type": "double"},
        "message": {
            **_TEXT,
            "fields": {"keyword": {"type": "keyword", "ignore_above": MESSAGE_KEYWORD_IGNORE_ABOVE}},
        },
        "ingested_at": {"type": "date", "format": "strict_date_optional_time||epoch_millis"},
    },
}


def index_for(ts: datetime, settings: Settings) -> str:
    """``<prefix>YYYY.MM.DD`` of the UTC day of ``ts`` (a naive ``ts`` is UTC)."""
    if ts.tzinfo is None:
        ts = ts.replace(tzinfo=UTC)
    elif ts.tzinfo is not UTC:
        ts = ts.astimezone(UTC)
    return f"{settings.index_prefix}{ts.year:04d}.{ts.month:02d}.{ts.day:02d}"


def template_name(settings: Settings) -> str:
    return (settings.index_prefix.rstrip("-_.") or "bonito-logs") + "-template"


def index_template(settings: Settings) -> dict[str, Any]:
    """The composable index template body for ``<prefix>*``."""
    return {
        "index_patterns": [settings.index_pattern],
        "priority": TEMPLATE_PRIORITY,
        "template": {
            "settings": {
                "index": {
                    "number_of_shards": settings.index_shards,
                    "number_of_replicas": settings.index_replicas,
                    "query": {"default_field": ["message", "metadata_text"]},
                },
            },
            "mappings": MAPPINGS,
        },
        "_meta": {"managed_by": "bonito_logs.store"},
    }


async def ensure_templates(client: AsyncOpenSearch, settings: Settings) -> None:
    """Install (or overwrite with the same body) the log index template. Idempotent.

    Indices created before the template keep their mapping; call this before the
    first write (the indexer and the API do at start-up).
    """
    await client.indices.put_index_template(name=template_name(settings), body=index_template(settings))

"""Retention: delete daily log indices whose day is past ``settings.retention_days``.

Age comes from the date in the index name (the UTC day its records belong to),
not from the creation date, so back-filled old data expires on time. Only names
that are exactly ``<prefix>YYYY.MM.DD`` are considered.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta

from opensearchpy import AsyncOpenSearch

from bonito_logs.config import Settings

_DAY = re.compile(r"(\d{4})\.(\d{2})\.(\d{2})\Z")
_DELETE_BATCH = 50  # names per DELETE request, keeping the URL short


def index_day(name: str, settings: Settings) -> date | None:
    """The UTC day of a daily index of this deployment, or ``None`` for any other name."""
    if not name.startswith(settings.index_prefix):
        return None
    match = _DAY.match(name[len(settings.index_prefix):])
    if match is None:
        return None
    try:
        return date(int(match[1]), int(match[2]), int(match[3]))
    except ValueError:
        return None


def expired(names: list[str], settings: Settings, now: datetime) -> list[str]:
    """The names whose day is before ``today - retention_days`` (today in UTC)."""
    if now.tzinfo is None:
        now = now.replace(tzinfo=UTC)
    cutoff = now.astimezone(UTC).date() - timedelta(days=settings.retention_days)
    out = []
    for name in names:
        day = index_day(name, settings)
        if day is not None and day < cutoff:
            out.append(name)
    return sorted(out)


async def delete_expired_indices(client: AsyncOpenSearch, settings: Settings,
                                 now: datetime | None = None) -> list[str]:
    """Delete this deployment's expired daily indices; return the names deleted."""
    rows = await client.cat.indices(index=settings.index_pattern, format="json", h="index",
                                    expand_wildcards="all")
    names = [row["index"] for row in rows or []]
    doomed = expired(names, settings, now or datetime.now(UTC))
    for start in range(0, len(doomed), _DELETE_BATCH):
        batch = doomed[start:start + _DELETE_BATCH]
        # Another worker may have deleted some already: that is success too.
        await client.indices.delete(index=",".join(batch), ignore_unavailable=True)
    return doomed

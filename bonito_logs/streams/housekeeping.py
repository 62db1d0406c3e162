"""Scheduled chores of the workers: deleting expired daily indices."""

from __future__ import annotations

import asyncio
import logging

from bonito_logs.config import Settings
from bonito_logs.store import delete_expired_indices

log = logging.getLogger(__name__)


async def retention_loop(settings: Settings, client) -> None:
    """Every ``retention_check_seconds``, delete log indices older than ``retention_days``.

    Several workers may run this at once; deleting an index twice is harmless.
    """
    while True:
        try:
            deleted = await delete_expired_indices(client, settings)
            if deleted:
                log.info("retention: deleted %d expired indices: %s", len(deleted), ", ".join(deleted))
        except Exception as exc:
            log.warning("retention check failed: %s", exc)
        await asyncio.sleep(settings.retention_check_seconds)

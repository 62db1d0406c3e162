"""Export housekeeping: files past their time, and temporary files nobody writes anymore.

An expired job keeps its record with status ``expired`` (so its owner can see what
happened) and loses its file; ``DELETE /api/logs/export/{id}`` removes the record.
"""

from __future__ import annotations

import contextlib
import logging

from bonito_logs.store.export_files import ExportFiles
from bonito_logs.store.exports import ExportStore, JobConflict, now

log = logging.getLogger(__name__)


async def housekeeping_pass(store: ExportStore, files: ExportFiles, *, running: set[str]) -> None:
    await expire_files(store, files)
    await drop_stray_temp_files(store, files, running=running)


async def expire_files(store: ExportStore, files: ExportFiles) -> int:
    """Delete the files of completed jobs past ``expires_at``; the jobs become ``expired``."""
    expired = 0
    for job in await store.expired_files(now()):
        found = await store.find(job.job_id)
        if found is None or found[0].status != "completed":
            continue
        current, version = found
        if current.file_key:
            await files.delete(current.file_key)
        with contextlib.suppress(JobConflict):  # changed meanwhile: the next pass sees it
            await store.save(current.with_changes(status="expired"), version)
            expired += 1
    if expired:
        log.info("export housekeeping: %d files expired", expired)
    return expired


async def drop_stray_temp_files(store: ExportStore, files: ExportFiles, *, running: set[str]) -> int:
    """Temporary files of attempts that are over (crashed workers' leftovers)."""
    candidates = [(path, job_id, attempt) for path, job_id, attempt in files.temp_files()
                  if job_id not in running]
    if not candidates:
        return 0
    jobs = await store.find_many(sorted({job_id for _, job_id, _ in candidates}))
    dropped = 0
    for path, job_id, attempt in candidates:
        job = jobs.get(job_id)
        if (job is None or job.final or job.attempts != attempt
                or (job.status == "running" and job.lease_expired())):
            with contextlib.suppress(FileNotFoundError):
                path.unlink()
                dropped += 1
    return dropped

"""Claiming a job and holding it: the lease that keeps two workers off one job.

``claim`` turns a queued job (or a running one whose lease expired) into "running,
owned by me" with one conditional write; whoever loses the race sees
``JobConflict`` and reads again. ``JobLease.save`` applies changes while renewing
the lease; when the document changed underneath (a cancel request, a takeover)
it reads again, keeps the cancel flag, and raises ``LeaseLost`` if the job is no
longer this attempt's.
"""

from __future__ import annotations

import asyncio
import enum
from dataclasses import dataclass
from typing import Any

from bonito_logs.store.exports import (
    ExportJob,
    ExportStore,
    JobConflict,
    Version,
    iso,
    lease_until,
    now,
)

MAX_ATTEMPTS = 5
_TRIES = 8


class LeaseLost(Exception):
    """The job was taken over, deleted or finished by someone else: stop, write nothing."""


class CancelRequested(Exception):
    """The user asked to cancel (seen while saving a state that cancel must win over)."""


class Claim(enum.Enum):
    CLAIMED = "claimed"  # ours now: run it
    FINAL = "final"  # nothing to do
    BUSY = "busy"  # another worker holds a live lease: watch it
    MISSING = "missing"  # no such job


@dataclass
class ClaimResult:
    outcome: Claim
    job: ExportJob | None = None
    version: Version | None = None


async def claim(store: ExportStore, job_id: str, worker_id: str, lease_s: float, *,
                mine: bool = False) -> ClaimResult:
    """Try to take ``job_id``. ``mine``: a lease in my name is a leftover of my previous
    life (same worker id, restarted), not a job I am running."""
    for _ in range(_TRIES):
        found = await store.find(job_id)
        if found is None:
            return ClaimResult(Claim.MISSING)
        job, version = found
        if job.final:
            return ClaimResult(Claim.FINAL, job, version)
        if job.status == "running" and not job.lease_expired() and not (mine and job.owner == worker_id):
            return ClaimResult(Claim.BUSY, job, version)
        stamp = iso(now())
        if job.cancel_requested:
            changed = job.with_changes(status="cancelled", finished_at=stamp, owner=None,
                                       lease_expires_at=None)
        elif job.attempts >= MAX_ATTEMPTS:
            changed = job.with_changes(
                status="failed", finished_at=stamp, owner=None, lease_expires_at=None,
                error=f"gave up after {job.attempts} attempts (each ended without a result)")
        else:
            changed = job.with_changes(
                status="running", owner=worker_id, lease_expires_at=lease_until(lease_s),
                attempts=job.attempts + 1, started_at=stamp, rows_written=0, rows_expected=None,
                bytes_written=0, error=None)
        try:
            version = await store.save(changed, version)
        except JobConflict:
            continue
        outcome = Claim.CLAIMED if changed.status == "running" else Claim.FINAL
        return ClaimResult(outcome, changed, version)
    return ClaimResult(Claim.BUSY)


class JobLease:
    """A claimed job: every save renews the lease, conditionally on the version held."""

    def __init__(self, store: ExportStore, job: ExportJob, version: Version, lease_s: float) -> None:
        self.store = store
        self.job = job
        self.version = version
        self.lease_s = lease_s
        self._lock = asyncio.Lock()

    @property
    def cancel_requested(self) -> bool:
        return self.job.cancel_requested

    async def save(self, *, cancellable: bool = False, **changes: Any) -> ExportJob:
        """Write ``changes`` (and a fresh lease). ``cancellable``: raise ``CancelRequested``
        instead when the user asked to cancel (for the final 'completed' write)."""
        async with self._lock:
            for _ in range(_TRIES):
                if cancellable and self.job.cancel_requested:
                    raise CancelRequested
                lease = {"lease_expires_at": lease_until(self.lease_s)}
                if changes.get("status", "running") != "running":
                    lease = {"lease_expires_at": None, "owner": None}
                changed = self.job.with_changes(**{**lease, **changes})
                try:
                    self.version = await self.store.save(changed, self.version)
                except JobConflict:
                    await self._reread()
                    continue
                self.job = changed
                return changed
            raise LeaseLost(f"export job {self.job.job_id} keeps changing under us")

    async def _reread(self) -> None:
        found = await self.store.find(self.job.job_id)
        if found is None:
            raise LeaseLost(f"export job {self.job.job_id} was deleted")
        fresh, version = found
        if (fresh.status != "running" or fresh.owner != self.job.owner
                or fresh.attempts != self.job.attempts):
            raise LeaseLost(f"export job {fresh.job_id} is now {fresh.status}, "
                            f"owned by {fresh.owner} (attempt {fresh.attempts})")
        # Still ours: keep our progress, take their cancel flag.
        self.job = fresh.with_changes(
            rows_written=self.job.rows_written, rows_expected=self.job.rows_expected,
            bytes_written=self.job.bytes_written)
        self.version = version
